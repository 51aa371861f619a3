// Package rsyncproto is the client (sender) side of the rsync wire protocol,
// versions 27 to 32: it pushes a local tree to an rsync daemon module or to
// "rsync --server" started by a remote shell.
//
// It works on a stream the caller provides and never opens sockets, runs
// programs, logs or reads configuration:
//
//	d, err := rsyncproto.DialDaemon(ctx, conn, rsyncproto.DaemonConfig{Module: "m"})
//	res, err := d.Push(ctx, rsyncproto.Request{Root: "/src", Dest: "m/sub",
//		Paths: []rsyncproto.Path{{Name: ".", Recursive: true}}})
//
//	// remote shell: run "rsync" + ServerArgs(req) remotely, then
//	res, err := rsyncproto.PushServer(ctx, sessionStdio, req)
//	res.MergeRemote(remoteExitStatus, remoteStderr)
//
// One push per connection. The stream should be an io.Closer or support
// SetDeadline: cancellation and Options.Timeout interrupt it that way. A
// reader goroutine owned by the push reads the server's multiplexed stream
// while the file list and data are written; it ends with the push.
//
// What a push does: it lists every Path, its parent directories (without
// their contents) and the subtrees of recursive paths, sends one
// non-incremental file list (we offer the capabilities "LsfxCIvu", never
// incremental recursion), then answers the generator's requests with whole
// files or deltas against the receiver's blocks (negotiated xxh128, xxh3,
// xxh64 or md5; MD4 below protocol 30), runs the redo phase and the end of
// session handshake. Regular files, directories, symlinks, devices and
// special files, all mode bits, nanosecond mtimes (protocol >= 31), hard
// links, owner/group by name (--usermap, --groupmap) and, from protocol 30
// on, POSIX ACLs (-A, acls.c) and extended attributes (-X, xattrs.c, with
// the receiver's requests for abbreviated values) are supported, each as
// Options asks; --chmod is applied to the listed modes. File data can go
// compressed (-z, token.c's compressed token stream): zstd, lz4, zlibx or
// classic zlib, negotiated at protocol 31 as rsync 3.2 does (token.go,
// compress.go).
// ACLs and xattrs are read beneath the source root like file data
// (beneath.Root.Xattrs).
//
// Scoped delete: with Options.Delete the receiver deletes exactly the listed
// paths missing at the source (a missing directory with its subtree) and,
// below recursive paths, entries the source lacks. Everything else is
// protected by the filter list ("+ /path", "+ /path/***", ..., "- *"), and
// Options.ExcludeRules come first so excluded paths stay protected. Peers
// below protocol 29 (gokrazy/rsync) ignore filter rules when deleting; Push
// then refuses with ErrScopedDeleteUnsupported unless the root itself is
// pushed recursively, and the caller should push the parent directory of the
// deleted path recursively instead (ScopesDeletes(Daemon.Protocol())
// tells in advance).
//
// Errors: per-file problems (a vanished or unreadable file, a file that
// changed while being sent, receiver-side write errors) never abort the push;
// they are listed in Result.Failed and set Result.ExitCode to 23 or 24 as
// rsync would. Session failures return an *ExitError with rsync's exit code.
package rsyncproto
