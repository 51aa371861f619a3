package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// ErrClosed is returned by a Client that was closed.
var ErrClosed = errors.New("ssh client closed")

// Reconnect backoff bounds.
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 30 * time.Second
)

// Client is one authenticated ssh connection, re-established when it dies.
// It is safe for concurrent use.
type Client struct {
	cfg Config
	s   *settings
	hk  *hostKeys
	log *slog.Logger

	dialMu  sync.Mutex // one (re)connection at a time
	backoff time.Duration
	nextTry time.Time

	mu     sync.Mutex
	cur    *liveConn
	closed bool
	stop   chan struct{} // closed by Close

	sftpMu sync.Mutex
	sftp   *sftpConn // the long-lived SFTP session, nil when there is none

	wg       sync.WaitGroup // keepalive, watcher and SFTP clean-up goroutines
	sessions atomic.Int64
	connects atomic.Int64
}

// liveConn is one ssh connection and the jump host connections under it.
type liveConn struct {
	c     *ssh.Client
	jumps []*ssh.Client
	dead  chan struct{} // closed when c is gone
}

func (l *liveConn) alive() bool {
	select {
	case <-l.dead:
		return false
	default:
		return true
	}
}

// Dial connects and logs in. Host key and login failures are a
// *HostKeyError or an *AuthError; they are not worth retrying.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s, err := resolve(cfg)
	if err != nil {
		return nil, &ConfigError{fmt.Errorf("configure ssh to %s: %w", cfg.Host, err)}
	}
	c := &Client{cfg: cfg, s: s, hk: &hostKeys{s: s, log: log}, log: log.With("ssh", s.user+"@"+s.addr()), stop: make(chan struct{})}
	lc, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.install(lc)
	return c, nil
}

// ConfigError is a bad ssh configuration (ssh_config, ProxyJump, ...).
type ConfigError struct{ err error }

func (e *ConfigError) Error() string { return e.err.Error() }
func (e *ConfigError) Unwrap() error { return e.err }

// User is the remote user name.
func (c *Client) User() string { return c.s.user }

// Host is the host name connected to (after ssh_config's HostName).
func (c *Client) Host() string { return c.s.hostname }

// Port is the remote port.
func (c *Client) Port() int { return c.s.port }

// Sessions counts the exec sessions opened so far.
func (c *Client) Sessions() int64 { return c.sessions.Load() }

// Connects counts the successful logins so far (1 + reconnections).
func (c *Client) Connects() int64 { return c.connects.Load() }

// Close closes the connection and stops the client's goroutines.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.stop)
	cur := c.cur
	c.mu.Unlock()
	// The connection goes first: closing the SFTP client waits for the
	// server to close its channel, which a stalled server never does.
	if cur != nil {
		cur.close()
	}
	c.sftpMu.Lock()
	sc := c.sftp
	c.sftp = nil
	c.sftpMu.Unlock()
	if sc != nil {
		sc.close()
	}
	c.wg.Wait()
	return nil
}

func (l *liveConn) close() {
	l.c.Close()
	for i := len(l.jumps) - 1; i >= 0; i-- {
		l.jumps[i].Close()
	}
}

// install makes lc the current connection and starts its watcher and
// keepalive goroutines.
func (c *Client) install(lc *liveConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		lc.close()
		return
	}
	c.cur = lc
	c.connects.Add(1)
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		err := lc.c.Wait()
		close(lc.dead)
		lc.close()
		select {
		case <-c.stop:
		default:
			c.log.Info("ssh connection lost", "err", escapeErr(err))
		}
	}()
	go c.keepalive(lc)
}

// keepalive sends keepalive@openssh.com every interval and closes the
// connection when ServerAliveCountMax intervals pass without an answer.
func (c *Client) keepalive(lc *liveConn) {
	defer c.wg.Done()
	iv := c.s.alive
	if iv <= 0 {
		return
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-lc.dead:
			return
		case <-t.C:
		}
		res := make(chan error, 1)
		go func() { // ends when the request is answered or lc is closed
			_, _, err := lc.c.SendRequest("keepalive@openssh.com", true, nil)
			res <- err
		}()
		timer := time.NewTimer(iv * time.Duration(c.s.aliveMax))
		select {
		case err := <-res:
			timer.Stop()
			if err != nil {
				lc.close()
				return
			}
		case <-timer.C:
			c.log.Warn("ssh server stopped answering keepalives; closing the connection", "interval", iv, "count", c.s.aliveMax)
			lc.close()
			return
		case <-lc.dead:
			timer.Stop()
			return
		}
	}
}

// conn returns the live connection, reconnecting (with a capped backoff
// between failed attempts) when it died.
func (c *Client) conn(ctx context.Context) (*liveConn, error) {
	c.dialMu.Lock()
	defer c.dialMu.Unlock()
	c.mu.Lock()
	lc, closed := c.cur, c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if lc != nil && lc.alive() {
		return lc, nil
	}
	if wait := time.Until(c.nextTry); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-c.stop:
			t.Stop()
			return nil, ErrClosed
		case <-t.C:
		}
	}
	lc, err := c.dial(ctx)
	if err != nil {
		c.backoff = min(max(2*c.backoff, backoffMin), backoffMax)
		c.nextTry = time.Now().Add(c.backoff)
		return nil, err
	}
	c.backoff, c.nextTry = 0, time.Time{}
	c.install(lc)
	c.log.Info("ssh connection re-established")
	return lc, nil
}

// hop is one ProxyJump entry.
type hop struct {
	user, host string
	port       int
}

// parseJumps parses ProxyJump: "[user@]host[:port][,...]" (also
// ssh://[user@]host[:port]).
func parseJumps(v string) ([]hop, error) {
	var out []hop
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "ssh://")
		if part == "" {
			return nil, fmt.Errorf("bad ProxyJump %q: empty hop", v)
		}
		var h hop
		if at := strings.LastIndexByte(part, '@'); at >= 0 {
			h.user, part = part[:at], part[at+1:]
		}
		host, port, err := net.SplitHostPort(part)
		if err != nil {
			host, port = strings.Trim(part, "[]"), ""
		}
		if port != "" {
			if h.port, err = parsePort(port); err != nil {
				return nil, fmt.Errorf("bad ProxyJump %q: %w", v, err)
			}
		}
		h.host = host
		if h.host == "" {
			return nil, fmt.Errorf("bad ProxyJump %q: empty host", v)
		}
		out = append(out, h)
	}
	return out, nil
}

// dial connects (through the ProxyJump hosts, if any) and logs in.
func (c *Client) dial(ctx context.Context) (*liveConn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.timeout)
	defer cancel()
	lc := &liveConn{dead: make(chan struct{})}
	var via *ssh.Client
	if j := c.s.jump; j != "" && !strings.EqualFold(j, "none") {
		hops, err := parseJumps(j)
		if err != nil {
			return nil, &ConfigError{err}
		}
		for _, h := range hops {
			// Keys given for the target (-i) are offered to the jump
			// hosts too.
			// The password is the target's: jump hosts get none.
			hc := Config{Host: h.host, Port: h.port, User: h.user, Options: map[string]string{"proxyjump": "none"},
				IdentityFiles: c.cfg.IdentityFiles,
				ConfigFile:    c.cfg.ConfigFile, KnownHostsFiles: c.cfg.KnownHostsFiles, HostKeyCheck: c.cfg.HostKeyCheck,
				NoAgent: c.cfg.NoAgent, Home: c.cfg.Home, Dial: c.cfg.Dial, ConnectTimeout: c.cfg.ConnectTimeout}
			hs, err := resolve(hc)
			if err != nil {
				lc.closeJumps()
				return nil, &ConfigError{fmt.Errorf("configure jump host %s: %w", h.host, err)}
			}
			jc, err := c.login(ctx, via, hs, &hostKeys{s: hs, log: c.log})
			if err != nil {
				lc.closeJumps()
				return nil, fmt.Errorf("jump host %s: %w", hs.addr(), err)
			}
			lc.jumps = append(lc.jumps, jc)
			via = jc
		}
	}
	cl, err := c.login(ctx, via, c.s, c.hk)
	if err != nil {
		lc.closeJumps()
		return nil, err
	}
	lc.c = cl
	return lc, nil
}

func (l *liveConn) closeJumps() {
	for i := len(l.jumps) - 1; i >= 0; i-- {
		l.jumps[i].Close()
	}
}

// login opens a TCP connection to s (directly or through via) and runs the
// ssh handshake and authentication.
func (c *Client) login(ctx context.Context, via *ssh.Client, s *settings, hk *hostKeys) (*ssh.Client, error) {
	addr := s.addr()
	var nc net.Conn
	var proxy *proxyConn
	var err error
	switch {
	case via != nil:
		nc, err = via.DialContext(ctx, "tcp", addr)
	case s.proxy != nil:
		if proxy, err = startProxy(ctx, s.proxy, addr); err != nil {
			// The program is missing or cannot run: a configuration error.
			return nil, &ConfigError{err}
		}
		nc = proxy
	case c.cfg.Dial != nil:
		nc, err = c.cfg.Dial(ctx, "tcp", addr)
	default:
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, &NetError{fmt.Errorf("connect to %s: %w", addr, unwrapOp(err))}
	}
	k := &keys{}
	if s.pubkeyAuth {
		k = loadKeys(s, c.log)
	}
	defer k.close()
	who := s.user + "@" + addr
	var auth []ssh.AuthMethod
	if len(k.signers) > 0 {
		auth = append(auth, ssh.PublicKeys(k.signers...))
	}
	if pw := passwordMethods(s, c.cfg.Password); len(pw) > 0 {
		auth = append(auth, pw...)
		k.tried = append(k.tried, "the password")
	}
	if len(auth) == 0 {
		nc.Close()
		return nil, k.noKeysError(who, s.agentSock)
	}
	cc := &ssh.ClientConfig{
		Config: ssh.Config{
			Ciphers:      s.ciphers,
			KeyExchanges: s.kex,
			MACs:         s.macs,
		},
		User:              s.user,
		Auth:              auth,
		HostKeyCallback:   hk.callback(),
		HostKeyAlgorithms: s.hostKeyAlgos,
		Timeout:           s.timeout,
	}
	if cc.HostKeyAlgorithms == nil {
		cc.HostKeyAlgorithms = hk.algorithms(addr)
	}
	// NewClientConn takes no context: a deadline and a watcher bound it.
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			nc.Close()
		case <-done:
		}
	}()
	conn, chans, reqs, err := ssh.NewClientConn(nc, addr, cc)
	close(done)
	wg.Wait()
	if err != nil {
		nc.Close()
		var he *HostKeyError
		switch {
		case errors.As(err, &he):
			return nil, he
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, k.refusedError(who, escapeErr(err))
		case ctx.Err() != nil:
			return nil, &NetError{fmt.Errorf("ssh handshake with %s: %w", addr, ctx.Err())}
		case proxy != nil:
			if why := proxy.exitText(); why != "" {
				return nil, &NetError{fmt.Errorf("ssh handshake with %s: %w (%s)", addr, escapeErr(err), why)}
			}
		case strings.Contains(err.Error(), "no common algorithm"):
			return nil, &ConfigError{fmt.Errorf("ssh handshake with %s: %w (set Ciphers, KexAlgorithms, MACs or HostKeyAlgorithms with -o, e.g. -o KexAlgorithms=+diffie-hellman-group14-sha1)", addr, escapeErr(err))}
		}
		return nil, &NetError{fmt.Errorf("ssh handshake with %s: %w", addr, escapeErr(err))}
	}
	nc.SetDeadline(time.Time{})
	return ssh.NewClient(conn, chans, reqs), nil
}

// NetError is a failure to reach or keep the server: worth retrying.
type NetError struct{ err error }

func (e *NetError) Error() string { return e.err.Error() }
func (e *NetError) Unwrap() error { return e.err }

// unwrapOp drops net.OpError's "dial tcp addr:" prefix.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// IsPermanent reports whether err is a host key, login or configuration
// failure that retrying cannot fix.
func IsPermanent(err error) bool {
	var he *HostKeyError
	var ae *AuthError
	var ce *ConfigError
	return errors.As(err, &he) || errors.As(err, &ae) || errors.As(err, &ce)
}

// IsSessionRefused reports whether err is the server's refusal to open
// one more session channel on the connection: OpenSSH answers "connect
// failed" past MaxSessions (session.c: "no more sessions"), others
// "administratively prohibited" or a resource shortage. Only session
// channels are opened, so none of these is about a network connection.
func IsSessionRefused(err error) bool {
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) {
		return false
	}
	switch oce.Reason {
	case ssh.Prohibited, ssh.ResourceShortage, ssh.ConnectionFailed:
		return true
	}
	return false
}

// Session is a remote command started by Exec. Read reads its stdout,
// Write writes its stdin; Close interrupts it.
type Session struct {
	sess   *ssh.Session
	stdin  io.WriteCloser
	stdout io.Reader
	// early is what AwaitOutput read, handed out first by Read.
	early  []byte
	stderr *capBuffer
	done   chan struct{}
	code   int
	err    error
}

// Exec starts argv on the server, every word quoted for the remote shell.
func (c *Client) Exec(ctx context.Context, argv []string) (*Session, error) {
	if len(argv) == 0 {
		return nil, errors.New("exec: empty command")
	}
	return c.ExecCommand(ctx, QuoteArgs(argv))
}

// ExecCommand starts a command line that the remote user's shell
// interprets as it is; quote untrusted words with ShellQuote.
func (c *Client) ExecCommand(ctx context.Context, command string) (*Session, error) {
	lc, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	type res struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan res, 1)
	go func() { // bounded by the connection: NewSession fails when it dies
		s, err := lc.c.NewSession()
		ch <- res{s, err}
	}()
	var r res
	select {
	case r = <-ch:
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
	if r.err != nil {
		return nil, &NetError{fmt.Errorf("open ssh session: %w", escapeErr(r.err))}
	}
	s := &Session{sess: r.s, stderr: &capBuffer{max: 1 << 20}, done: make(chan struct{})}
	if s.stdin, err = r.s.StdinPipe(); err == nil {
		s.stdout, err = r.s.StdoutPipe()
	}
	if err != nil {
		r.s.Close()
		return nil, fmt.Errorf("open ssh session pipes: %w", err)
	}
	r.s.Stderr = s.stderr
	if err := r.s.Start(command); err != nil {
		r.s.Close()
		return nil, &NetError{fmt.Errorf("start remote command: %w", escapeErr(err))}
	}
	c.sessions.Add(1)
	go func() { // ends when the remote command exits or the session closes
		err := r.s.Wait()
		var ee *ssh.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			s.code = ee.ExitStatus()
			if ee.Signal() != "" {
				s.err = fmt.Errorf("remote command killed by signal %s", escapeText(ee.Signal()))
			}
		default:
			s.code = -1
			s.err = escapeErr(err)
		}
		close(s.done)
	}()
	return s, nil
}

// Read reads the command's standard output.
func (s *Session) Read(p []byte) (int, error) {
	if len(s.early) > 0 {
		n := copy(p, s.early)
		s.early = s.early[n:]
		return n, nil
	}
	return s.stdout.Read(p)
}

// AwaitOutput waits until the command has written to its standard output
// (what it wrote is kept for Read), so that a command that answers at
// once, as rsync --server does after the client's protocol version, is
// known to run: sshd confirms the exec request before the shell has
// started it, which can take seconds on a busy server. ctx ending closes
// the session and returns at once (the read it started ends when the
// server closes the channel or the connection goes). An error means the
// command ended or the session failed before any output; the session is
// of no use then. Call it before the first Read, not at the same time as
// one.
func (s *Session) AwaitOutput(ctx context.Context) error {
	if len(s.early) > 0 {
		return nil
	}
	type result struct {
		b   []byte
		err error
	}
	got := make(chan result, 1)
	go func() { // ends when the read does: output, EOF, or the channel closed
		buf := make([]byte, 64)
		n, err := s.stdout.Read(buf)
		got <- result{buf[:n], err}
	}()
	select {
	case r := <-got:
		if len(r.b) > 0 {
			s.early = r.b
			return nil
		}
		if r.err == nil {
			r.err = io.ErrNoProgress
		}
		return fmt.Errorf("wait for remote command output: %w", escapeErr(r.err))
	case <-ctx.Done():
		s.sess.Close()
		return ctx.Err()
	}
}

// Write writes to the command's standard input.
func (s *Session) Write(p []byte) (int, error) { return s.stdin.Write(p) }

// CloseWrite closes the command's standard input.
func (s *Session) CloseWrite() error { return s.stdin.Close() }

// Close ends the session; the command sees its input and output go away.
func (s *Session) Close() error {
	err := s.sess.Close()
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}

// Exited reports, without blocking, whether the command has ended.
func (s *Session) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Done is closed when the command has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Wait waits for the command to end and returns its exit status. err is
// set when there is none (the command was killed by a signal or the
// connection was lost); the status is then -1 or the signal's.
func (s *Session) Wait(ctx context.Context) (int, error) {
	select {
	case <-s.done:
		return s.code, s.err
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// Stderr returns what the command wrote to standard error so far (the
// first MiB), as the server sent it: escape it (StderrText) before it is
// logged or shown.
func (s *Session) Stderr() []byte { return s.stderr.bytes() }

// StderrText returns the last lines (at most n) of what the command wrote
// to standard error, trimmed, joined with " | ", control characters
// escaped and the length capped: safe to log and show.
func (s *Session) StderrText(n int) string {
	lines := strings.Split(strings.TrimSpace(string(s.stderr.bytes())), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return escapeText(strings.Join(lines, " | "))
}

// capBuffer keeps the first max bytes written to it.
type capBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.b); room > 0 {
		b.b = append(b.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *capBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.b...)
}

// String names the connection: "user@host:port".
func (c *Client) String() string {
	return c.s.user + "@" + net.JoinHostPort(c.s.hostname, strconv.Itoa(c.s.port))
}
