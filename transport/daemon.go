package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/rsyncproto"
	"github.com/gsync/gsync/sshx"
)

// DefaultDaemonPort is the TCP port of rsync daemons.
const DefaultDaemonPort = 873

// dialTimeout bounds connecting and the daemon handshake when
// DaemonConfig.Timeout is zero.
const dialTimeout = 30 * time.Second

// DaemonConfig selects a module (and a directory inside it) of an rsync
// daemon.
type DaemonConfig struct {
	Host string // name or IP address (IPv6 without brackets)
	Port int    // 0 means 873
	// User is the name sent for modules with "auth users"; "" means
	// $USER, else $LOGNAME, else "nobody" (like rsync).
	User     string
	Module   string
	Path     string // directory inside the module, slash-separated; "" = module root
	Password string
	// Protocol is the highest protocol version offered (0 =
	// rsyncproto.MaxProtocol).
	Protocol int
	// Timeout bounds connecting and the handshake, and stops a transfer
	// when no data moved for this long (0 = 30 s for connecting, no idle
	// limit).
	Timeout time.Duration
	// Dial opens the TCP connection; nil uses a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ExcludeRules are rsync filter rules ("- *.tmp", "+ keep/", "- cache/")
	// equivalent to Options.Exclude. The receiver needs them to leave
	// excluded target paths alone when it deletes: Options.Exclude is a Go
	// predicate the daemon cannot evaluate. NewDaemon refuses
	// Options.Exclude without rules unless the delete mode is DeleteNever.
	// A peer that ignores filter rules when deleting (see
	// rsyncproto.ScopesDeletes: gokrazy/rsync) cannot protect excluded
	// paths at all: with excludes the target then deletes nothing, and
	// says so in the log.
	ExcludeRules []string
}

// ParseDaemonTarget parses an rsync daemon target: "[user@]host::module[/path]"
// or "rsync://[user@]host[:port]/module[/path]". IPv6 hosts are written in
// brackets ("[::1]::m", "rsync://[::1]:8873/m"). The bool reports whether
// spec is a daemon target at all; the error says what is wrong with a
// malformed one.
func ParseDaemonTarget(spec string) (DaemonConfig, bool, error) {
	var cfg DaemonConfig
	var hostPart, rest string
	if r, ok := strings.CutPrefix(spec, "rsync://"); ok {
		hostPart, rest, _ = strings.Cut(r, "/")
		user, hp, hasUser := strings.Cut(hostPart, "@")
		if !hasUser {
			user, hp = "", hostPart
		} else if user == "" {
			return cfg, true, fmt.Errorf("parse target %q: empty user name", spec)
		}
		cfg.User = user
		host, port, err := splitHostPort(hp)
		if err != nil {
			return cfg, true, fmt.Errorf("parse target %q: %w", spec, err)
		}
		cfg.Host, cfg.Port = host, port
	} else {
		// main.c:check_for_hostspec: "host::path", where host holds no "/".
		i := daemonSep(spec)
		if i < 0 {
			return cfg, false, nil
		}
		hostPart, rest = spec[:i], spec[i+2:]
		user, h, hasUser := strings.Cut(hostPart, "@")
		if !hasUser {
			user, h = "", hostPart
		} else if user == "" {
			return cfg, true, fmt.Errorf("parse target %q: empty user name", spec)
		}
		cfg.User = user
		if strings.HasPrefix(h, "[") {
			if !strings.HasSuffix(h, "]") {
				return cfg, true, fmt.Errorf("parse target %q: unterminated [ in host", spec)
			}
			h = h[1 : len(h)-1]
		}
		cfg.Host = h
	}
	if cfg.Host == "" {
		return cfg, true, fmt.Errorf("parse target %q: empty host name", spec)
	}
	module, p, _ := strings.Cut(rest, "/")
	if module == "" {
		return cfg, true, fmt.Errorf("parse target %q: no module name (listing a daemon's modules is not a target)", spec)
	}
	if strings.ContainsAny(module, "\n\x00*?[") {
		return cfg, true, fmt.Errorf("parse target %q: bad module name %q", spec, module)
	}
	cfg.Module = module
	if p != "" {
		clean := path.Clean(p)
		if clean == "." {
			clean = ""
		}
		if clean == ".." || strings.HasPrefix(clean, "../") || strings.HasPrefix(clean, "/") {
			return cfg, true, fmt.Errorf("parse target %q: path climbs out of the module", spec)
		}
		if strings.Contains(clean, "\x00") || rsyncproto.DestExpands(module, path.Join(module, clean)) {
			return cfg, true, fmt.Errorf("parse target %q: path %q holds characters the daemon would expand", spec, clean)
		}
		cfg.Path = clean
	}
	return cfg, true, nil
}

// daemonSep returns the index of the "::" separating host and module, or -1
// when spec is not a "host::module" spec (a "/" before it means a local
// path; "[v6]::m" keeps its colons inside brackets).
func daemonSep(spec string) int {
	start := 0
	if at := strings.IndexByte(spec, '@'); at >= 0 && !strings.ContainsRune(spec[:at], '/') {
		start = at + 1
	}
	if strings.HasPrefix(spec[start:], "[") {
		end := strings.IndexByte(spec[start:], ']')
		if end < 0 {
			return -1
		}
		start += end
	}
	i := strings.Index(spec[start:], "::")
	if i < 0 || strings.ContainsRune(spec[:start+i], '/') {
		return -1
	}
	return start + i
}

func splitHostPort(hp string) (string, int, error) {
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", 0, errors.New("unterminated [ in host")
		}
		host, rest := hp[1:end], hp[end+1:]
		if rest == "" {
			return host, 0, nil
		}
		if !strings.HasPrefix(rest, ":") {
			return "", 0, fmt.Errorf("unexpected %q after the host", rest)
		}
		port, err := parsePort(rest[1:])
		return host, port, err
	}
	host, p, hasPort := strings.Cut(hp, ":")
	if !hasPort {
		return host, 0, nil
	}
	port, err := parsePort(p)
	return host, port, err
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port %q: want a number from 1 to 65535", s)
	}
	return n, nil
}

// Daemon mirrors the source into a module of an rsync daemon, with gsync's
// own rsync sender (package rsyncproto). Each push uses one TCP connection;
// the next one is opened, greeted, authenticated and pointed at the module
// ahead of time by a goroutine the Daemon owns, so that a push only pays
// the protocol round trips.
type Daemon struct {
	cfg   DaemonConfig
	opts  Options
	log   *slog.Logger
	url   string                    // rsync://host:port/module/path, for errors
	name  string                    // String()
	attrs func(*rsyncproto.Options) // wireAttrs of opts.Attrs
	links linkIndex                 // -H: the names of multiply-linked files

	warnedNoDel sync.Once // see receiverDeletes

	// peerProto is the protocol negotiated with the daemon last time (0
	// before the first push); see oldPeer.
	peerProto int

	standby *standby[*daemonConn]
	maxAge  time.Duration // standbyMaxAge; shorter in tests
}

var _ Target = (*Daemon)(nil)

// daemonConn is one connection that passed the daemon handshake (or the
// error of trying).
type daemonConn struct {
	conn *probeConn
	d    *rsyncproto.Daemon
	err  error
	at   time.Time // when the handshake ended
}

// standbyMaxAge is how long a connection that passed the handshake is
// used at most: rsync 3.5's daemon closes one that has not sent its
// arguments within 60 s (clientserver.c: DAEMON_HANDSHAKE_TIMEOUT, less
// with a module "timeout"), and a push must not start on a connection
// the daemon is about to drop (a startup sync after a long watch setup
// did, and failed). An older one is replaced by a fresh one.
const standbyMaxAge = 45 * time.Second

func (c *daemonConn) close() {
	if c != nil && c.conn != nil {
		c.conn.Close()
	}
}

// NewDaemon returns a Target for the daemon module cfg describes. It does not
// connect: the first connection is opened in the background, and its
// errors surface (classified) from the first FullSync or Push.
func NewDaemon(cfg DaemonConfig, opts Options) (*Daemon, error) {
	opts, err := absSource("daemon", opts)
	if err != nil {
		return nil, err
	}
	if cfg.Host == "" || cfg.Module == "" {
		return nil, Fatal(fmt.Errorf("create daemon target: host and module are required (got %q::%q)", cfg.Host, cfg.Module))
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultDaemonPort
	}
	if err := rsyncproto.CheckProtocol(cfg.Protocol); err != nil {
		return nil, Fatal(fmt.Errorf("create daemon target: %w", err))
	}
	if opts.rulesNeeded() && len(cfg.ExcludeRules) == 0 && opts.Delete != DeleteNever {
		return nil, Fatal(errors.New("create daemon target: excludes without ExcludeRules: the daemon cannot keep excluded target paths when it deletes (give rsync rules equivalent to the excludes, or DeleteNever)"))
	}
	if cfg.User == "" {
		// authenticate.c:auth_client falls back like this.
		for _, env := range []string{"USER", "LOGNAME"} {
			if u := os.Getenv(env); u != "" {
				cfg.User = u
				break
			}
		}
		if cfg.User == "" {
			cfg.User = "nobody"
		}
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	attrs, err := wireAttrs(opts)
	if err != nil {
		return nil, Fatal(fmt.Errorf("create daemon target: %w", err))
	}
	d := &Daemon{cfg: cfg, opts: opts, attrs: attrs, maxAge: standbyMaxAge}
	hp := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	d.url = "rsync://" + hp + "/" + path.Join(cfg.Module, cfg.Path)
	host := cfg.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if cfg.Port == DefaultDaemonPort {
		d.name = host + "::" + path.Join(cfg.Module, cfg.Path)
	} else {
		d.name = d.url
	}
	d.log = targetLogger(opts, d.name)
	d.standby = newStandby(d.open, (*daemonConn).close)
	d.standby.start()
	return d, nil
}

// String names the target: "host::module/path", or the rsync:// URL when the
// port is not 873. It never includes the password.
func (d *Daemon) String() string { return d.name }

// Protocol returns the protocol version negotiated by the last push (0
// before the first one).
func (d *Daemon) Protocol() int { return d.peerProto }

// Close stops the goroutine opening connections ahead of time and closes
// the standby connection.
func (d *Daemon) Close() error {
	d.standby.stop()
	return nil
}

// open dials the daemon and runs the handshake up to "@RSYNCD: OK".
func (d *Daemon) open(ctx context.Context) *daemonConn {
	to := d.cfg.Timeout
	if to <= 0 {
		to = dialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	addr := net.JoinHostPort(d.cfg.Host, strconv.Itoa(d.cfg.Port))
	nc, err := d.cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		return &daemonConn{err: dialError(err)}
	}
	pc := &probeConn{Conn: quickAck(nc)}
	rd, err := rsyncproto.DialDaemon(ctx, pc, rsyncproto.DaemonConfig{
		Module: d.cfg.Module, User: d.cfg.User, Password: d.cfg.Password, MaxProtocol: d.cfg.Protocol,
		Timeout: d.cfg.Timeout})
	if err != nil {
		pc.Close()
		return &daemonConn{err: err}
	}
	return &daemonConn{conn: pc, d: rd, at: time.Now()}
}

// dialError strips net.OpError's "dial tcp addr:" prefix: the caller names
// the target already.
func dialError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return &dialErr{op.Err}
	}
	return err
}

// dialErr marks an error of connecting; it is always transient.
type dialErr struct{ err error }

func (e *dialErr) Error() string { return e.err.Error() }
func (e *dialErr) Unwrap() error { return e.err }

// conn returns a connection ready for one push: the standby one if it is
// still alive, else a fresh one. It asks the opener for the next one.
func (d *Daemon) conn(ctx context.Context) (*daemonConn, error) {
	c, err := d.standby.take(ctx)
	if err != nil {
		return nil, err
	}
	if c.err != nil || time.Since(c.at) > d.maxAge || !c.conn.alive() {
		// The daemon restarted, dropped the idle connection, is about
		// to (standbyMaxAge), or was down when we tried: one fresh
		// attempt, now.
		if c.err == nil {
			d.log.Debug("standby connection went stale; reconnecting", "age", time.Since(c.at).Round(time.Millisecond).String())
		}
		c.close()
		c = d.open(ctx)
	}
	d.standby.ask()
	if c.err != nil {
		return nil, c.err
	}
	return c, nil
}

// probeConn is the connection under a standby handshake. alive checks,
// without blocking, that the daemon has not closed it; a byte read by the
// check is returned by the next Read.
type probeConn struct {
	net.Conn
	pending []byte
}

func (c *probeConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// alive reports whether the peer still holds the connection open: after
// "@RSYNCD: OK" the daemon says nothing until it gets our arguments, so a
// short read must time out. EOF or a reset means the daemon went away.
func (c *probeConn) alive() bool {
	if err := c.Conn.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	var b [1]byte
	n, err := c.Conn.Read(b[:])
	if err := c.Conn.SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	if n > 0 {
		// Unexpected (an error message, say): let the protocol read it.
		c.pending = append(c.pending, b[:n]...)
		return true
	}
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// FullSync makes the module directory equal to the source, with rsync's
// quick check (size and mtime) deciding which files are sent.
func (d *Daemon) FullSync(ctx context.Context) (Stats, error) {
	if d.opts.Attrs.HardLinks {
		d.links.reset()
		d.links.scan(d.opts.Source, ".", d.opts.Exclude)
	}
	del := d.opts.Delete.Full()
	req := d.request(".", []rsyncproto.Path{{Name: ".", Recursive: true}}, del, false)
	st, err := d.run(ctx, req, "")
	st = fullSyncSkippedDeletes(st, d.log)
	if err != nil {
		return st, d.classify("sync to", err)
	}
	return st, nil
}

// receiverDeletes reports whether a receiver that negotiated protocol
// proto may delete: it keeps excluded target paths only by the filter list
// (the rules NewDaemon requires with excludes), which a peer below
// rsyncproto.ScopesDeletes ignores when deleting. It logs once when it may
// not.
func (d *Daemon) receiverDeletes(proto int) bool {
	if d.opts.Exclude == nil || receiverScopesDeletes(d.opts, d.cfg.ExcludeRules, proto) {
		return true
	}
	d.warnedNoDel.Do(func() {
		d.log.Warn("deletions are not propagated: with excludes set, the daemon's rsync protocol cannot keep excluded target files when it deletes", "protocol", proto)
	})
	return false
}

// request builds a rsyncproto request rooted at the source directory sub
// ("." for the source root).
func (d *Daemon) request(sub string, paths []rsyncproto.Path, del, ignoreTimes bool) rsyncproto.Request {
	root, dest := d.opts.Source, path.Join(d.cfg.Module, d.cfg.Path)
	if sub != "." {
		root = filepath.Join(root, filepath.FromSlash(sub))
		dest = path.Join(dest, sub)
	}
	o := rsyncproto.Options{
		Delete:        del,
		IgnoreTimes:   ignoreTimes,
		DryRun:        d.opts.DryRun,
		OneFileSystem: d.opts.OneFileSystem,
		Timeout:       d.cfg.Timeout,
		MaxProtocol:   d.cfg.Protocol,
		Progress:      d.opts.Progress,
		Listed:        d.opts.Listed,
		Warn:          func(msg string) { d.log.Warn("rsync daemon said", "text", msg) },
	}
	// A whole tree streams its file list (incremental recursion) where
	// the daemon takes it.
	o.IncRecurse = len(paths) == 1 && paths[0].Name == "." && paths[0].Recursive
	d.attrs(&o)
	if del {
		o.ExcludeRules = d.cfg.ExcludeRules
	}
	if ex := d.opts.Exclude; ex != nil {
		if sub == "." {
			o.Exclude = ex
		} else {
			o.Exclude = func(rel string, isDir bool) bool { return ex(path.Join(sub, rel), isDir) }
		}
	}
	o.XattrFilter = xattrFilterUnder(d.opts.XattrExclude, sub)
	return rsyncproto.Request{Root: root, Dest: dest, Paths: paths, Options: o}
}

// run performs one push on a standby connection. Failed paths in the
// returned stats are relative to the source root (sub is the request's
// root relative to it).
func (d *Daemon) run(ctx context.Context, req rsyncproto.Request, sub string) (Stats, error) {
	c, err := d.conn(ctx)
	if err != nil {
		return Stats{}, err
	}
	defer c.close()
	d.peerProto = c.d.Protocol()
	if req.Options.Delete && !d.receiverDeletes(d.peerProto) {
		req.Options.Delete = false
		req.Options.ExcludeRules = nil
	}
	said := &daemonSaid{}
	warn := req.Options.Warn
	req.Options.Warn = func(msg string) {
		said.add(msg)
		warn(msg)
	}
	res, err := c.d.Push(ctx, req)
	if err != nil {
		err = said.wrap(err)
	}
	var st Stats
	if res != nil {
		st = Stats{Files: res.Files, Deleted: res.Deleted, Bytes: res.LiteralBytes}
		for _, p := range res.Removed {
			st.Removed = append(st.Removed, path.Join(sub, p))
		}
		for _, f := range res.Failed {
			// The peer names the root "" or "."; gsync says change.Root.
			p := path.Join(sub, f.Path)
			st.Failed = append(st.Failed, FileError{Path: p, Err: f.Err})
		}
		warnAttrsNotKept(d.log, res)
	}
	return st, err
}

// daemonSaid keeps the first messages the daemon sent during one push: the
// final error ("syntax or usage error (code 1)") often says less than an
// earlier line ("ERROR: module is read only").
type daemonSaid struct {
	mu   sync.Mutex
	msgs []string
}

func (s *daemonSaid) add(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) < 4 {
		s.msgs = append(s.msgs, strings.TrimSpace(msg))
	}
}

// wrap adds the daemon's messages to err, unless err already holds them.
func (s *daemonSaid) wrap(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var extra []string
	for _, m := range s.msgs {
		if m != "" && !strings.Contains(err.Error(), m) {
			extra = append(extra, m)
		}
	}
	if len(extra) == 0 {
		return err
	}
	return fmt.Errorf("%w (the daemon said: %s)", err, strings.Join(extra, "; "))
}

// Push applies one batch. Daemons have no rename: a Rename deletes From and
// sends Path recursively. Every listed path is sent with --ignore-times (a
// same-size same-second rewrite must arrive), but for those whose
// attributes alone changed, which follow in a push of their own with the
// quick check (splitAttribOnly); deletes are confined to the listed paths
// by the filter list, or, for peers that ignore filter rules when
// deleting (protocol < 29, gokrazy/rsync), by pushing the parent
// directory of each deleted path recursively with --delete.
func (d *Daemon) Push(ctx context.Context, changes []Change) (Stats, error) {
	if d.oldPeer() && d.opts.Delete.Running() {
		return d.push(ctx, changes, true) // pushByRoots: one way for all
	}
	return pushAttribApart(ctx, changes, d.opts.Source, d.opts.Attrs.HardLinks, d.push)
}

// push is Push for changes, with -I (changed) or the quick check; with
// the deletes and rules of a batch either way (lsyncd's rsync gets
// --delete and the filter rules for every path: receiver-side rules
// protect names of xattrs, and -m prunes, with them).
func (d *Daemon) push(ctx context.Context, changes []Change, changed bool) (Stats, error) {
	if len(changes) == 0 {
		return Stats{}, nil
	}
	var set pathSet
	add := func(p string, rec bool) { set.add(path.Clean(p), rec) }
	for _, ch := range changes {
		switch ch.Op {
		case change.Move:
			if !d.excluded(ch.From, ch.IsDir) {
				add(ch.From, false)
			}
			if !d.excluded(ch.Path, ch.IsDir) {
				add(ch.Path, true)
			}
		default:
			if !d.excluded(ch.Path, ch.IsDir) {
				add(ch.Path, ch.Recursive)
			}
		}
	}
	if len(set.list) > 0 && d.opts.Attrs.HardLinks {
		d.links.expand(d.opts.Source, &set, d.opts.Exclude)
	}
	paths := set.list
	if len(paths) == 0 {
		return Stats{}, nil
	}
	del := d.opts.Delete.Running()
	if d.oldPeer() && del {
		return d.pushByRoots(ctx, paths)
	}
	var req rsyncproto.Request
	if changed {
		req = d.changedRequest(paths, del)
	} else {
		req = d.request(".", paths, del, false)
	}
	st, err := d.run(ctx, req, "")
	if del && errors.Is(err, rsyncproto.ErrScopedDeleteUnsupported) {
		// The peer turned out to be one that ignores filter rules when
		// deleting; nothing was sent yet.
		return d.pushByRoots(ctx, paths)
	}
	if err == nil && del {
		st, err = retrySkippedDeletes(st, d.opts.Source, func(gone []rsyncproto.Path) (Stats, error) {
			return d.run(ctx, d.changedRequest(gone, true), "")
		})
	}
	if err != nil {
		return st, d.classify("push to", err)
	}
	return st, nil
}

// maxDeletePasses bounds the repeated delete passes of pushByRoots.
const maxDeletePasses = 64

// pushByRoots is Push for peers that cannot scope --delete by filter rules:
// first the listed paths without --delete, then, for every listed path
// missing at the source and every recursive directory, the nearest existing
// directory is pushed recursively with --delete as its own transfer root.
// Nothing outside those directories can be deleted.
func (d *Daemon) pushByRoots(ctx context.Context, paths []rsyncproto.Path) (Stats, error) {
	var roots, missing []string
	var send []rsyncproto.Path
	for _, p := range paths {
		fi, err := os.Lstat(filepath.Join(d.opts.Source, filepath.FromSlash(p.Name)))
		switch {
		case err == nil && p.Recursive && fi.IsDir():
			roots = append(roots, p.Name)
			send = append(send, rsyncproto.Path{Name: p.Name})
		case err == nil:
			send = append(send, p)
		case isNotExist(err): // also below a directory that is a file now (ENOTDIR)
			r := path.Dir(p.Name)
			for r != "." && !isDir(filepath.Join(d.opts.Source, filepath.FromSlash(r))) {
				r = path.Dir(r)
			}
			roots = append(roots, r)
			missing = append(missing, p.Name)
		default:
			send = append(send, p) // the sender reports the error
		}
	}
	for i, r := range roots {
		roots[i] = d.sendableRoot(r)
	}
	roots = topmost(roots)
	for _, r := range roots {
		if r != "." {
			send = append(send, rsyncproto.Path{Name: r}) // creates its parents
		}
	}
	var total Stats
	if len(send) > 0 {
		st, err := d.run(ctx, d.changedRequest(send, false), "")
		total = total.Add(st)
		if err != nil {
			return total, d.classify("push to", err)
		}
	}
	if !d.receiverDeletes(d.peerProto) {
		return total, nil
	}
	passes := deletePassesByRoot(roots, missing)
	for pass := range maxDeletePasses {
		ran := false
		for _, r := range roots {
			if pass >= passes[r] || (d.opts.Exclude != nil && d.opts.Exclude(r, true)) {
				continue
			}
			ran = true
			st, err := d.run(ctx, d.request(r, []rsyncproto.Path{{Name: ".", Recursive: true}}, true, false), r)
			total = total.Add(st)
			if err != nil {
				return total, d.classify("push to", err)
			}
		}
		if !ran {
			break
		}
	}
	if total.Deleted == 0 && !d.opts.DryRun {
		// A peer that cannot scope deletes reports none: count the
		// listed paths that were missing at the source.
		total.Deleted = len(missing)
	}
	return total, nil
}

// sendableRoot returns r, or its nearest parent directory that can be named
// as a transfer root on the daemon's command line (see
// rsyncproto.DestExpands: no newline, no wildcard). A wider root is pushed
// and cleaned like any other, over a larger directory.
func (d *Daemon) sendableRoot(r string) string {
	base := path.Join(d.cfg.Module, d.cfg.Path)
	for r != "." && rsyncproto.DestExpands(d.cfg.Module, path.Join(base, r)) {
		r = path.Dir(r)
	}
	return r
}

// deletePassesByRoot returns, for each transfer root of pushByRoots, how
// many delete passes remove the missing paths below it.
//
// gokrazy/rsync v0.3.7 (receiver/do.go: deleteFiles) walks the destination
// with fs.WalkDir and returns fs.SkipDir after each removal; after a removed
// file that skips the rest of its directory, subdirectories included, so
// one session may remove as little as one entry per directory. Whether the
// target entry was a file is unknown here, so every missing path is assumed
// to be one: the count may be higher than needed, never lower. Each root
// gets at least one pass (it may also be a recursive directory whose
// deletions were not listed).
func deletePassesByRoot(roots, missing []string) map[string]int {
	byRoot := make(map[string][]string, len(roots))
	for _, m := range missing {
		for _, r := range roots {
			if r == "." {
				byRoot[r] = append(byRoot[r], m)
				break
			}
			if strings.HasPrefix(m, r+"/") {
				byRoot[r] = append(byRoot[r], strings.TrimPrefix(m, r+"/"))
				break
			}
		}
	}
	passes := make(map[string]int, len(roots))
	for _, r := range roots {
		passes[r] = max(1, walkDeletePasses(byRoot[r]))
	}
	return passes
}

// delNode is a directory of walkDeletePasses' tree of missing paths.
type delNode struct {
	kids map[string]*delNode
	gone bool // missing at the source: removed when the walk reaches it
}

// walkDeletePasses simulates gokrazy/rsync's deleting walk (see
// deletePassesByRoot) over the missing paths, given relative to the
// walk's root, and returns how many walks remove them all.
func walkDeletePasses(missing []string) int {
	root := &delNode{}
	for _, m := range missing {
		n := root
		for _, name := range strings.Split(m, "/") {
			if n.kids == nil {
				n.kids = map[string]*delNode{}
			}
			k := n.kids[name]
			if k == nil {
				k = &delNode{}
				n.kids[name] = k
			}
			n = k
		}
		n.gone = true
	}
	passes := 0
	for len(root.kids) > 0 && passes <= len(missing) {
		walkDeleteOnce(root)
		passes++
	}
	return passes
}

// walkDeleteOnce is one walk of walkDeletePasses: it visits n's entries in
// name order (as fs.WalkDir does), removes the first missing one and skips
// the rest of n, and descends into the others.
func walkDeleteOnce(n *delNode) {
	names := make([]string, 0, len(n.kids))
	for name := range n.kids {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		k := n.kids[name]
		if k.gone {
			delete(n.kids, name)
			return
		}
		walkDeleteOnce(k)
		if len(k.kids) == 0 {
			delete(n.kids, name)
		}
	}
}

// excluded reports whether rel or one of its parent directories is
// excluded (the sender only checks the listed path itself), rel as what it
// is now at the source, or, when it is gone, as what the change said it
// was (a deleted directory matches "dir/" patterns).
func (d *Daemon) excluded(rel string, wasDir bool) bool {
	if d.opts.Exclude == nil {
		return false
	}
	rel = path.Clean(rel)
	if fi, err := lstatBelow(d.opts.Source, rel); err == nil {
		wasDir = fi.IsDir()
	}
	return excludedPath(d.opts.Exclude, rel, wasDir)
}

// oldPeer reports whether the daemon negotiated a protocol that cannot
// scope deletes by filter rules (rsyncproto.ScopesDeletes); gokrazy/rsync
// (protocol 27) also rejects -I.
func (d *Daemon) oldPeer() bool { return d.peerProto != 0 && !rsyncproto.ScopesDeletes(d.peerProto) }

// changedRequest is the request for paths the kernel reported changed: they
// must not be skipped by the quick check. That is -I, or for old peers -c
// (whole-file checksums: the receiver compares contents instead of size
// and mtime), since gokrazy/rsync refuses -I.
func (d *Daemon) changedRequest(paths []rsyncproto.Path, del bool) rsyncproto.Request {
	if d.oldPeer() {
		req := d.request(".", paths, del, false)
		req.Options.Checksum = true
		return req
	}
	return d.request(".", paths, del, true)
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

// topmost drops duplicates and directories below another one of the list.
func topmost(dirs []string) []string {
	sort.Strings(dirs)
	var out []string
	for _, d := range dirs {
		covered := false
		for _, o := range out {
			if o == "." || d == o || strings.HasPrefix(d, o+"/") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, d)
		}
	}
	return out
}

// classify wraps err as "verb URL: cause" with its retry class
// (ARCHITECTURE.md, fatal vs transient): network failures and rsync's transient exit codes are worth a
// retry; refused options, authentication and unknown modules are not.
func (d *Daemon) classify(verb string, err error) error {
	var pe *PeerOptionError
	if errors.As(peerRejected(err, d.url, nil), &pe) {
		return Fatal(fmt.Errorf("%s %s: %w", verb, d.url, pe))
	}
	wrapped := fmt.Errorf("%s %s: %w", verb, d.url, err)
	var de *dialErr
	if errors.As(err, &de) {
		cause := de.err
		var se *os.SyscallError
		if errors.As(cause, &se) && se.Syscall == "connect" {
			cause = se.Err
		}
		return Transient(fmt.Errorf("%s %s: connect: %w", verb, d.url, cause))
	}
	if sshx.IsPermanent(err) { // a daemon over ssh: host key, login, ssh config
		return Fatal(wrapped)
	}
	var ee *rsyncproto.ExitError
	if errors.As(err, &ee) {
		switch ee.Code {
		case rsyncproto.ExitStartClient:
			msg := strings.ToLower(ee.Msg)
			switch {
			case strings.Contains(msg, "authentication failed") || strings.Contains(msg, "auth failed"):
				return Fatal(fmt.Errorf("%s %s: %w (check the user name, --password-file or RSYNC_PASSWORD)", verb, d.url, err))
			case strings.Contains(msg, "unknown module"):
				return Fatal(fmt.Errorf("%s %s: %w (check the module name; `rsync %s::` lists the modules)", verb, d.url, err, d.cfg.Host))
			case strings.Contains(msg, "access denied"):
				return Fatal(fmt.Errorf("%s %s: %w (the module's \"hosts allow\"/\"hosts deny\" refuse this host)", verb, d.url, err))
			}
			return Transient(wrapped)
		}
		hint := "the daemon refused the transfer options; check the module's \"read only\" and \"refuse options\" settings"
		if strings.Contains(strings.ToLower(err.Error()), "read only") {
			hint = "the module is read-only; set \"read only = no\" for it in rsyncd.conf"
		}
		return classifyExit(verb+" "+d.url, err, ee, hint, fmt.Sprintf(
			"the daemon speaks an unsupported rsync protocol; gsync needs rsync >= 2.6.4 or protocol %d-%d", rsyncproto.MinProtocol, rsyncproto.MaxProtocol))
	}
	if sourceGone(err, d.opts.Source) {
		return Fatal(wrapped)
	}
	return Transient(wrapped)
}
