package sshx

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// sftpAbortGrace is how long a stalled SFTP session may take to close
// after its channel was closed; then the whole connection is closed, which
// ends every call on it.
const sftpAbortGrace = 5 * time.Second

// sftpConn is one SFTP session: the client and the ssh channel it runs on.
type sftpConn struct {
	sc   *sftp.Client
	sess *ssh.Session
	on   *liveConn     // the connection the session runs on
	dead chan struct{} // closed when the client's reader has ended
}

// alive reports whether the session and its connection still run.
func (s *sftpConn) alive() bool {
	select {
	case <-s.dead:
		return false
	default:
		return s.on.alive()
	}
}

// close ends the session: its channel first (so the client's reader gets
// EOF), then the client.
func (s *sftpConn) close() {
	s.sess.Close()
	<-s.dead
	s.sc.Close()
}

// SFTP returns the long-lived SFTP session, opening it (and reconnecting)
// when needed; opening is bounded by ctx. Calls on the returned client are
// not bounded: use Files for calls that must not hang.
func (c *Client) SFTP(ctx context.Context) (*sftp.Client, error) {
	s, err := c.sftpSession(ctx)
	if err != nil {
		return nil, err
	}
	return s.sc, nil
}

// sftpSession returns the live SFTP session or opens a new one.
func (c *Client) sftpSession(ctx context.Context) (*sftpConn, error) {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	if s := c.sftp; s != nil {
		if s.alive() {
			return s, nil
		}
		c.sftp = nil
		c.retire(s)
	}
	lc, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	s, err := c.openSFTP(ctx, lc)
	if err != nil {
		return nil, err
	}
	c.sftp = s
	return s, nil
}

// openSFTP starts the sftp subsystem on lc and runs the SFTP version
// exchange, bounded by ctx.
func (c *Client) openSFTP(ctx context.Context, lc *liveConn) (*sftpConn, error) {
	var mu sync.Mutex
	var sess *ssh.Session // set once the channel is open, for stop
	type result struct {
		s   *sftpConn
		err error
	}
	res := make(chan result, 1)
	done := make(chan struct{})
	c.wg.Add(1)
	go func() { // ends when the server answers, or when stop or the grace closed the channel
		defer c.wg.Done()
		defer close(done)
		s, err := startSFTP(lc, func(s *ssh.Session) {
			mu.Lock()
			sess = s
			mu.Unlock()
		})
		if err == nil {
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				s.sc.Wait()
				close(s.dead)
			}()
		}
		res <- result{s, err}
	}()
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		if sess != nil {
			sess.Close()
		}
	}
	cleanup := func() {
		if r := <-res; r.s != nil {
			c.retire(r.s)
		}
	}
	if !c.await(ctx, done, stop, cleanup, lc) {
		return nil, stalled(ctx, "start sftp subsystem")
	}
	r := <-res
	var refused *noSFTPError
	switch {
	case r.err == nil:
		return r.s, nil
	case errors.As(r.err, &refused) && lc.alive():
		// The server has no SFTP subsystem (or a forced command runs
		// instead of it, which is not an SFTP server): not worth a retry.
		return nil, fmt.Errorf("start sftp subsystem: %w (%v)", ErrNoSFTP, escapeErr(refused.err))
	}
	return nil, &NetError{fmt.Errorf("start sftp subsystem: %w", escapeErr(r.err))}
}

// ErrNoSFTP is returned by SFTP calls when the server refused the sftp
// subsystem, or what it started there did not speak SFTP (a forced
// command, such as rrsync, runs instead of the subsystem).
var ErrNoSFTP = errors.New("the server offers no SFTP")

// noSFTPError marks a failure of the subsystem request or of the SFTP
// version exchange, as opposed to a failure to open a session.
type noSFTPError struct{ err error }

func (e *noSFTPError) Error() string { return e.err.Error() }
func (e *noSFTPError) Unwrap() error { return e.err }

// startSFTP opens a session channel on lc, requests the sftp subsystem and
// exchanges versions; opened is called with the session once it exists.
func startSFTP(lc *liveConn, opened func(*ssh.Session)) (*sftpConn, error) {
	sess, err := lc.c.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open session: %w", err)
	}
	opened(sess)
	w, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		sess.Close()
		return nil, &noSFTPError{err}
	}
	sc, err := sftp.NewClientPipe(r, w, sftp.UseConcurrentWrites(true))
	if err != nil {
		sess.Close()
		return nil, &noSFTPError{err}
	}
	return &sftpConn{sc: sc, sess: sess, on: lc, dead: make(chan struct{})}, nil
}

// await waits until done is closed (the call returned: true) or ctx ends
// (false). Then it calls stop, which must make the call return soon, and
// leaves a goroutine that runs cleanup once it has; if the call has not
// returned after sftpAbortGrace (a server that ignores the closing of its
// channel), the goroutine closes the connection lc, which ends every call.
func (c *Client) await(ctx context.Context, done <-chan struct{}, stop, cleanup func(), lc *liveConn) bool {
	select {
	case <-done:
		return true
	case <-ctx.Done():
	}
	stop()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTimer(sftpAbortGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			c.log.Warn("ssh server did not close a stalled SFTP session; closing the connection", "grace", sftpAbortGrace)
			lc.close()
			<-done
		}
		cleanup()
	}()
	return false
}

// retire closes an SFTP session that is no longer used, in the
// background: its server may never answer.
func (c *Client) retire(s *sftpConn) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.close()
		}()
		t := time.NewTimer(sftpAbortGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.on.close()
			<-done
		}
	}()
}

// drop forgets s as the client's SFTP session (the next call opens a
// new one) and closes its channel.
func (c *Client) drop(s *sftpConn) {
	c.sftpMu.Lock()
	if c.sftp == s {
		c.sftp = nil
	}
	c.sftpMu.Unlock()
	s.sess.Close()
}

// stalled is the error of an SFTP step that ctx ended: the caller's
// cancellation as it is, or a timeout, which is a *NetError (retrying on
// a fresh session may work).
func stalled(ctx context.Context, op string) error {
	cause := context.Cause(ctx)
	var te *sftpTimeout
	if errors.As(cause, &te) {
		return &NetError{fmt.Errorf("%s: %w", op, cause)}
	}
	return fmt.Errorf("%s: %w", op, cause)
}

// sftpTimeout is the cause of a call that outlived Files' timeout; it is a
// context.DeadlineExceeded.
type sftpTimeout struct{ d time.Duration }

func (e *sftpTimeout) Error() string {
	return fmt.Sprintf("the server did not answer within %v; SFTP session closed", e.d)
}

func (e *sftpTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

// Files is the remote file system through the client's long-lived SFTP
// session, with every call (the session's start included) bounded by its
// context and a timeout. When one of them ends first, the session's
// channel is closed, so the next call starts a new session, and the call
// returns a *NetError (timeout) or the context's error. Text from the
// server in errors is escaped. It is safe for concurrent use.
type Files struct {
	c       *Client
	timeout time.Duration
}

// Files returns the SFTP file system with calls bounded by timeout (0: by
// the context only).
func (c *Client) Files(timeout time.Duration) *Files { return &Files{c: c, timeout: timeout} }

// do runs fn on the SFTP session, bounded as Files says; op names the
// call in errors ("rename a to b").
func (f *Files) do(ctx context.Context, op string, fn func(*sftp.Client) error) error {
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, f.timeout, &sftpTimeout{f.timeout})
		defer cancel()
	}
	s, err := f.c.sftpSession(ctx)
	if err != nil {
		return fmt.Errorf("sftp %s: %w", op, err)
	}
	var callErr error
	done := make(chan struct{})
	f.c.wg.Add(1)
	go func() { // ends when the server answers or the channel is closed
		defer f.c.wg.Done()
		defer close(done)
		callErr = fn(s.sc)
	}()
	if !f.c.await(ctx, done, func() { f.c.drop(s) }, func() { f.c.retire(s) }, s.on) {
		return stalled(ctx, "sftp "+op)
	}
	if callErr != nil {
		return escapeErr(fmt.Errorf("sftp %s: %w", op, callErr))
	}
	return nil
}

// The result of a call is read only after do returned nil: a call that
// timed out may still write it from its goroutine.

// Getwd returns the remote working directory (the login directory).
func (f *Files) Getwd(ctx context.Context) (string, error) {
	var dir string
	if err := f.do(ctx, "get working directory", func(sc *sftp.Client) (err error) {
		dir, err = sc.Getwd()
		return err
	}); err != nil {
		return "", err
	}
	return dir, nil
}

// Stat returns the attributes of p, following a final symlink.
func (f *Files) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	if err := f.do(ctx, "stat "+p, func(sc *sftp.Client) (err error) {
		fi, err = sc.Stat(p)
		return err
	}); err != nil {
		return nil, err
	}
	return fi, nil
}

// Lstat returns the attributes of p itself.
func (f *Files) Lstat(ctx context.Context, p string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	if err := f.do(ctx, "lstat "+p, func(sc *sftp.Client) (err error) {
		fi, err = sc.Lstat(p)
		return err
	}); err != nil {
		return nil, err
	}
	return fi, nil
}

// ReadDir lists the directory p.
func (f *Files) ReadDir(ctx context.Context, p string) ([]fs.FileInfo, error) {
	var list []fs.FileInfo
	if err := f.do(ctx, "read directory "+p, func(sc *sftp.Client) (err error) {
		list, err = sc.ReadDir(p)
		return err
	}); err != nil {
		return nil, err
	}
	return list, nil
}

// Mkdir creates the directory p.
func (f *Files) Mkdir(ctx context.Context, p string) error {
	return f.do(ctx, "create directory "+p, func(sc *sftp.Client) error { return sc.Mkdir(p) })
}

// MkdirAll creates the directory p and its missing parents.
func (f *Files) MkdirAll(ctx context.Context, p string) error {
	return f.do(ctx, "create directory "+p, func(sc *sftp.Client) error { return sc.MkdirAll(p) })
}

// PosixRename renames from to to, replacing to (posix-rename@openssh.com).
func (f *Files) PosixRename(ctx context.Context, from, to string) error {
	return f.do(ctx, "rename "+from+" to "+to, func(sc *sftp.Client) error { return sc.PosixRename(from, to) })
}

// Remove removes the file (or symlink) p.
func (f *Files) Remove(ctx context.Context, p string) error {
	return f.do(ctx, "remove "+p, func(sc *sftp.Client) error { return sc.Remove(p) })
}

// RemoveDirectory removes the empty directory p.
func (f *Files) RemoveDirectory(ctx context.Context, p string) error {
	return f.do(ctx, "remove directory "+p, func(sc *sftp.Client) error { return sc.RemoveDirectory(p) })
}
