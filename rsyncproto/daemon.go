package rsyncproto

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	//lint:ignore SA1019 MD4 is what rsync peers below protocol 30 (or that offer nothing better) use: wire compatibility, not security
	"golang.org/x/crypto/md4"
)

// DaemonConfig selects a module of an rsync daemon.
type DaemonConfig struct {
	Module   string
	User     string // for modules with "auth users"; "" sends "nobody"
	Password string
	// MaxProtocol caps the protocol version in our greeting (0 = 32).
	MaxProtocol int
	// Timeout ends the handshake (DialDaemon) when no byte
	// moved for this long (0 = none; the context still applies).
	Timeout time.Duration
}

// Limits of the daemon's text handshake.
const (
	// maxDaemonLine is the longest handshake line: the C client reads
	// them into a BIGPATHBUFLEN buffer (clientserver.c:
	// start_inband_exchange, io.c:read_line_old) and fails on longer ones.
	maxDaemonLine = bigPathBufLen - 1
	// maxHandshakeLines bounds the MOTD lines a daemon may send before
	// its reply; rsync prints any number, but a peer that never stops
	// must not keep the handshake going.
	maxHandshakeLines = 10000
)

// Daemon is a daemon connection that passed the greeting, authentication and
// module selection. It carries exactly one Push.
type Daemon struct {
	rw       io.ReadWriter
	c        *conn
	br       *bufio.Reader
	cfg      DaemonConfig
	proto    int
	remote   int // the daemon's advertised protocol
	used     bool
	greet    greeting
	authSent bool
}

// Protocol is the negotiated protocol version.
func (d *Daemon) Protocol() int { return d.proto }

type greeting struct {
	version int
	sub     int
	hasSub  bool
	digests []string
}

// parseGreeting parses "@RSYNCD: <ver>[.<sub>] [digests...]"
// (clientserver.c:exchange_protocols).
func parseGreeting(line string) (greeting, error) {
	var g greeting
	rest, ok := strings.CutPrefix(line, "@RSYNCD: ")
	if !ok {
		return g, &ExitError{Code: ExitStartClient, Msg: fmt.Sprintf("rsync daemon greeting expected, got \"%s\"", truncate(line))}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return g, &ExitError{Code: ExitStartClient, Msg: "empty daemon greeting"}
	}
	ver, sub, hasSub := strings.Cut(f[0], ".")
	v, err := strconv.Atoi(ver)
	if err != nil {
		return g, &ExitError{Code: ExitStartClient, Msg: fmt.Sprintf("bad daemon greeting \"%s\"", truncate(line))}
	}
	g.version, g.hasSub = v, hasSub
	if hasSub {
		g.sub, _ = strconv.Atoi(sub)
	}
	g.digests = f[1:]
	if g.version >= 30 && !g.hasSub {
		return g, &ExitError{Code: ExitProtocol, Msg: fmt.Sprintf("daemon greeting \"%s\" lacks a subprotocol", truncate(line))}
	}
	return g, nil
}

// truncate escapes peer text for an error message and keeps it short.
func truncate(s string) string {
	if len(s) > 200 {
		return EscapeText(s[:200]) + truncMarker
	}
	return EscapeText(s)
}

// readLine reads one text line of the daemon handshake, at most
// maxDaemonLine bytes.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(b)+len(frag) > maxDaemonLine+1 {
			return "", &ExitError{Code: ExitStartClient, Msg: fmt.Sprintf("daemon sent a line longer than %d bytes", maxDaemonLine)}
		}
		b = append(b, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// handshakeErr converts a failed handshake read into the session's error.
func handshakeErr(s *session, what string, err error) error {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee
	}
	return fmt.Errorf("%s: %w", what, s.cause(err))
}

// errorText is the text of an "@ERROR: ..." line, escaped.
func errorText(line string) string {
	return EscapeText(strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(line, "@ERROR"), ":")))
}

// open sends our greeting and reads the daemon's.
func (d *Daemon) open(s *session) error {
	ours := ourProtocol(d.cfg.MaxProtocol)
	if _, err := fmt.Fprintf(s.c, "@RSYNCD: %d.0 sha512 sha256 sha1 md5 md4\n", ours); err != nil {
		return fmt.Errorf("send greeting: %w", s.cause(err))
	}
	line, err := readLine(s.br)
	if err != nil {
		return handshakeErr(s, "read daemon greeting", err)
	}
	g, err := parseGreeting(line)
	if err != nil {
		return err
	}
	d.remote = g.version
	d.proto = min(ours, g.version)
	if g.version < ours && g.sub != 0 {
		d.proto = g.version - 1
	}
	if d.proto < MinProtocol {
		return &ExitError{Code: ExitProtocol, Msg: fmt.Sprintf("daemon protocol %d is too old (need %d or newer)", g.version, MinProtocol)}
	}
	d.greet = g
	return nil
}

// DialDaemon performs the daemon handshake on rw: greetings, MOTD, module
// selection and authentication (clientserver.c:start_inband_exchange).
// On success the Daemon is ready for Push. rw should be an io.Closer or
// support SetDeadline so that cancellation can interrupt it.
func DialDaemon(ctx context.Context, rw io.ReadWriter, cfg DaemonConfig) (*Daemon, error) {
	if cfg.Module == "" || strings.ContainsAny(cfg.Module, "\n/") {
		return nil, fmt.Errorf("dial daemon: bad module name %q", cfg.Module)
	}
	d := &Daemon{rw: rw, cfg: cfg}
	s := newSession(newConn(rw), nil, &Options{})
	stop := s.watch(ctx, cfg.Timeout)
	defer stop()
	if err := d.open(s); err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(s.c, "%s\n", cfg.Module); err != nil {
		return nil, fmt.Errorf("send module name: %w", s.cause(err))
	}
	for lines := 0; ; lines++ {
		if lines >= maxHandshakeLines {
			return nil, &ExitError{Code: ExitStartClient, Msg: fmt.Sprintf("daemon sent more than %d lines without a reply to the module request", maxHandshakeLines)}
		}
		line, err := readLine(s.br)
		if err != nil {
			if errors.Is(err, io.EOF) && !s.aborted() {
				return nil, &ExitError{Code: ExitStartClient, Msg: "daemon closed the connection during the handshake"}
			}
			return nil, handshakeErr(s, "read daemon reply", err)
		}
		switch {
		case line == "@RSYNCD: OK":
			d.br, d.c = s.br, s.c
			return d, nil
		case strings.HasPrefix(line, "@RSYNCD: AUTHREQD "):
			resp := authResponse(cfg, d.greet, d.proto, strings.TrimPrefix(line, "@RSYNCD: AUTHREQD "))
			if _, err := fmt.Fprintf(s.c, "%s\n", resp); err != nil {
				return nil, fmt.Errorf("send auth response: %w", s.cause(err))
			}
			d.authSent = true
		case strings.HasPrefix(line, "@ERROR"):
			msg := errorText(line)
			if d.authSent && strings.Contains(msg, "auth failed") {
				return nil, &ExitError{Code: ExitStartClient, Msg: fmt.Sprintf("authentication failed for user %q on module %q (wrong user or password): daemon said: %s", userOf(cfg), cfg.Module, msg)}
			}
			return nil, &ExitError{Code: ExitStartClient, Msg: "daemon refused module " + strconv.Quote(cfg.Module) + ": " + msg}
		case line == "@RSYNCD: EXIT":
			return nil, &ExitError{Code: ExitStartClient, Msg: "daemon ended the session (@RSYNCD: EXIT)"}
		case strings.HasPrefix(line, "@RSYNCD: "):
			return nil, &ExitError{Code: ExitStartClient, Msg: fmt.Sprintf("unexpected daemon reply \"%s\"", truncate(line))}
		default:
			// The MOTD: gsync has nowhere to show it, so it is read
			// past (at most maxHandshakeLines) and dropped.
		}
	}
}

func userOf(cfg DaemonConfig) string {
	if cfg.User == "" {
		return "nobody"
	}
	return cfg.User
}

// authResponse computes "<user> <base64(H(password || challenge))>"
// (authenticate.c:auth_client, generate_hash; compat.c:negotiate_daemon_auth).
func authResponse(cfg DaemonConfig, g greeting, proto int, challenge string) string {
	var h hash.Hash
	prefixZero := false
	if len(g.digests) > 0 {
		for _, name := range []string{"sha512", "sha256", "sha1", "md5", "md4"} {
			if h == nil && containsStr(g.digests, name) {
				h = newAuthHash(name)
			}
		}
	}
	if h == nil {
		if proto >= 30 {
			h = md5.New()
		} else {
			h, prefixZero = md4.New(), true
		}
	}
	if prefixZero {
		h.Write([]byte{0, 0, 0, 0})
	}
	h.Write([]byte(cfg.Password))
	h.Write([]byte(challenge))
	return userOf(cfg) + " " + base64.RawStdEncoding.EncodeToString(h.Sum(nil))
}

func newAuthHash(name string) hash.Hash {
	switch name {
	case "sha512":
		return sha512.New()
	case "sha256":
		return sha256.New()
	case "sha1":
		return sha1.New()
	case "md5":
		return md5.New()
	}
	return md4.New()
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// DestExpands reports whether a destination argument ("module/path") cannot
// be sent to an rsync daemon as it is: below protocol 30 arguments end at a
// newline, and the daemon expands wildcards and splits " module/" in its
// arguments (main.c:start_server, util.c:glob_expand_module).
func DestExpands(module, dest string) bool {
	return strings.ContainsAny(dest, "*?[\n") || strings.Contains(dest, " "+module+"/")
}

// Push sends the request to the module (main.c:client_run): it sends the
// server arguments, negotiates, and runs the sender. Dest must start with the
// module name; "" means the module root.
func (d *Daemon) Push(ctx context.Context, req Request) (*Result, error) {
	if d.used {
		return nil, errors.New("push: daemon connection already used")
	}
	d.used = true
	dest := req.Dest
	if dest == "" {
		dest = d.cfg.Module + "/"
	} else if dest == d.cfg.Module {
		dest += "/"
	}
	if dest != d.cfg.Module+"/" && !strings.HasPrefix(dest, d.cfg.Module+"/") {
		return nil, fmt.Errorf("push: destination %q is not inside module %q", req.Dest, d.cfg.Module)
	}
	if DestExpands(d.cfg.Module, dest) {
		return nil, fmt.Errorf("push: destination %q contains characters the daemon would expand", req.Dest)
	}
	s := newSession(d.c, d.br, &req.Options)
	s.proto = d.proto
	stop := s.watch(ctx, req.Options.Timeout)
	defer stop()
	fl, err := s.prepare(ctx, &req)
	if err != nil {
		s.c.interrupt()
		return nil, err
	}
	args := serverArgs(&req.Options, s.proto, dest)
	sep := byte('\n')
	if s.proto >= 30 {
		sep = 0
	}
	for _, a := range args {
		s.out.buf = append(append(s.out.buf, a...), sep)
	}
	s.out.buf = append(s.out.buf, sep)
	if err := s.out.flush(); err != nil {
		fl.close()
		return nil, fmt.Errorf("send arguments: %w", s.cause(err))
	}
	if err := s.setupProtocol(); err != nil {
		fl.close()
		s.c.interrupt()
		s.finish()
		return nil, err
	}
	return s.push(ctx, &req, fl)
}

// prepare validates the request for the negotiated protocol and builds the
// file list.
func (s *session) prepare(ctx context.Context, req *Request) (*fileList, error) {
	// Before the file list is built (and, for a daemon, its arguments
	// sent).
	if err := checkAttrProtocol(&req.Options, s.proto); err != nil {
		return nil, err
	}
	if err := CheckCompress(req.Options.Compress); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	if offersIncRecurse(&req.Options, s.proto) {
		// The list is built once the receiver said whether it takes
		// it incrementally (session.push).
		if !wholeTree(req) {
			return nil, fmt.Errorf("push: %w", errNotWholeTree)
		}
		return openDeferred(req)
	}
	fl, err := buildFileList(ctx, req, s.c.touch)
	if err != nil {
		return nil, fmt.Errorf("build file list: %w", err)
	}
	if req.Options.Delete && !fl.scopeAll && !ScopesDeletes(s.proto) && !req.Options.PeerScopesDeletes {
		fl.close()
		return nil, fmt.Errorf("push with delete at protocol %d: %w", s.proto, ErrScopedDeleteUnsupported)
	}
	return fl, nil
}

// ServerHello is what PushServer sends first on a stream to "rsync
// --server": the highest protocol version it offers (maxProtocol as in
// Options.MaxProtocol). A caller that starts the server ahead of time can
// send it at once, so that the server answers with its own version
// (openrsync speaks only after the client, compat.c:setup_protocol of C
// rsync speaks at once), and then push with Options.HelloSent.
func ServerHello(maxProtocol int) []byte {
	return appendInt(nil, int32(ourProtocol(maxProtocol)))
}

// PushServer runs a push over a remote-shell stream to "rsync --server" started
// with ServerArgs(req): the 4-byte version exchange, then the same as Push.
func PushServer(ctx context.Context, rw io.ReadWriter, req Request) (*Result, error) {
	s := newSession(newConn(rw), nil, &req.Options)
	stop := s.watch(ctx, req.Options.Timeout)
	defer stop()
	ours := ourProtocol(req.Options.MaxProtocol)
	if !req.Options.HelloSent {
		if _, err := s.c.Write(ServerHello(req.Options.MaxProtocol)); err != nil {
			return nil, fmt.Errorf("send protocol version: %w", s.cause(err))
		}
	}
	raw := &wireReader{r: s.br}
	remote := int(raw.int32())
	if raw.err != nil {
		// The watchdog closing a silent stream also reads as EOF: name the
		// timeout then, not the peer.
		if errors.Is(raw.err, io.EOF) && !s.aborted() {
			return nil, &ExitError{Code: ExitStartClient, Msg: "remote rsync closed the connection before the version exchange"}
		}
		return nil, fmt.Errorf("read protocol version: %w", s.cause(raw.err))
	}
	if remote < 20 || remote > 40 {
		return nil, &ExitError{Code: ExitProtocol, Msg: fmt.Sprintf("protocol version mismatch (got %#x) -- is your shell clean?", uint32(remote))}
	}
	s.proto = min(ours, remote)
	if s.proto < MinProtocol {
		return nil, &ExitError{Code: ExitProtocol, Msg: fmt.Sprintf("remote protocol %d is too old (need %d or newer)", remote, MinProtocol)}
	}
	fl, err := s.prepare(ctx, &req)
	if err != nil {
		s.c.interrupt()
		return nil, err
	}
	if err := s.setupProtocol(); err != nil {
		fl.close()
		s.c.interrupt()
		s.finish()
		return nil, err
	}
	return s.push(ctx, &req, fl)
}
