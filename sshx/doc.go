// Package sshx is gsync's ssh client, built on golang.org/x/crypto/ssh. It
// needs no ssh binary: it reads ~/.ssh/config (Host, HostName, Port, User,
// IdentityFile, ProxyJump, ServerAliveInterval, ServerAliveCountMax,
// UserKnownHostsFile, GlobalKnownHostsFile, StrictHostKeyChecking,
// HashKnownHosts, ConnectTimeout), verifies host keys against known_hosts,
// authenticates with the ssh-agent and identity files, and keeps one
// connection per Client alive with keepalives, reconnecting with a capped
// backoff when it dies.
//
//	c, err := sshx.Dial(ctx, sshx.Config{Host: "backup", Logger: log})
//	s, err := c.Exec(ctx, []string{"ls", "-l", "dir with spaces"})
//	fs := c.Files(timeout) // the long-lived SFTP session, calls bounded
//	err = fs.PosixRename(ctx, "a", "b")
//
// Every Files call is bounded by its context and the timeout: a server
// that stops answering SFTP requests (while still answering keepalives)
// gets its SFTP channel closed, the call returns a *NetError, and the next
// call opens a new session. Text from the server (SFTP status messages,
// exec stderr via Session.StderrText, disconnect reasons) reaches errors
// with control characters escaped rsync-style (\#ooo) and capped.
//
// Commands are run by the remote user's shell; Exec quotes every word so
// that no argument is ever interpreted by it. sshx knows nothing about the
// programs it runs.
package sshx
