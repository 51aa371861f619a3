package transport

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/gsync/gsync/sshx"
)

// DaemonOverSSH is an rsync daemon module reached through ssh, as rsync
// does for "host::module" with -e/--rsh: each connection is an exec
// session running "rsync --server --daemon ." (a single-use daemon that
// reads the remote rsyncd.conf), spoken to with the daemon greeting, the
// module's authentication and its rules, like a TCP daemon
// (main.c:start_inband_exchange over a remote shell). One ssh connection
// serves every session.
type DaemonOverSSH struct {
	*Daemon
	client *sshClientOnce
}

var _ Target = (*DaemonOverSSH)(nil)

// NewDaemonOverSSH returns a Target for the module of dc on the ssh
// server sc; rsyncPath is the remote rsync command ("" = "rsync"). It
// does not connect: the first connection does.
func NewDaemonOverSSH(dc DaemonConfig, sc sshx.Config, rsyncPath string, opts Options) (*DaemonOverSSH, error) {
	if rsyncPath == "" {
		rsyncPath = "rsync"
	}
	if sc.Host == "" {
		sc.Host = dc.Host
	}
	co := &sshClientOnce{cfg: sc}
	cmd := rsyncPath + " --server --daemon ."
	dc.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, err := co.get(ctx)
		if err != nil {
			return nil, err
		}
		s, err := c.ExecCommand(ctx, cmd)
		if err != nil {
			return nil, err
		}
		return newSessionConn(s), nil
	}
	d, err := NewDaemon(dc, opts)
	if err != nil {
		return nil, err
	}
	host := dc.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	d.name = host + "::" + strings.TrimSuffix(dc.Module+"/"+dc.Path, "/") + " (over ssh)"
	d.log = targetLogger(opts, d.name)
	return &DaemonOverSSH{Daemon: d, client: co}, nil
}

// Close stops the daemon target and closes the ssh connection.
func (d *DaemonOverSSH) Close() error {
	err := d.Daemon.Close()
	d.client.close()
	return err
}

// sshClientOnce connects on first use; the client reconnects by itself
// afterwards.
type sshClientOnce struct {
	cfg    sshx.Config
	mu     sync.Mutex
	c      *sshx.Client
	closed bool
}

func (o *sshClientOnce) get(ctx context.Context) (*sshx.Client, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, errClosed
	}
	if o.c != nil {
		return o.c, nil
	}
	c, err := sshx.Dial(ctx, o.cfg)
	if err != nil {
		return nil, fmt.Errorf("ssh to %s: %w", o.cfg.Host, err)
	}
	o.c = c
	return c, nil
}

func (o *sshClientOnce) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	if o.c != nil {
		o.c.Close()
	}
}

// sessionConn is an exec session as a net.Conn, with deadlines (the
// daemon target probes a standby connection with a short read): two
// goroutines copy between the session and one end of a net.Pipe.
type sessionConn struct {
	net.Conn // our end of the pipe
	sess     *sshx.Session
	wg       sync.WaitGroup
	once     sync.Once
}

func newSessionConn(s *sshx.Session) *sessionConn {
	ours, theirs := net.Pipe()
	c := &sessionConn{Conn: ours, sess: s}
	c.wg.Add(2)
	go func() { // ends when the session's output ends or the pipe closes
		defer c.wg.Done()
		io.Copy(theirs, s)
		theirs.Close()
	}()
	go func() { // ends when the pipe closes or the session's input fails
		defer c.wg.Done()
		io.Copy(s, theirs)
		s.CloseWrite()
	}()
	return c
}

// Close closes the pipe and the session and waits for the copiers.
func (c *sessionConn) Close() error {
	c.once.Do(func() {
		c.Conn.Close()
		c.sess.Close()
		c.wg.Wait()
	})
	return nil
}
