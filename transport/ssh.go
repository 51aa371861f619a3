package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pkg/sftp"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/rsyncproto"
	"github.com/gsync/gsync/sshx"
)

// blockedDirMsg is how rsync reports a directory it would not delete
// (delete.c:delete_item).
const blockedDirMsg = "cannot delete non-empty directory: "

// sshStandbySessions is how many exec sessions already running the batch
// rsync are kept ready. OpenSSH needs 0.1 to 1 s to start one (it forks
// and runs the login shell); with one, a push that follows the last one
// by less than that waits for it (p95 of write-to-arrival at --delay 0
// was 0.4 to 1.5 s). With four, started in parallel, pushes every 50 ms
// find one waiting. A session counts as ready once its rsync has
// answered our protocol version (sshd confirms an exec before the shell
// has started it: on a busy server that takes seconds, and a push must
// not stall inside the protocol meanwhile). sshd's MaxSessions (10 by
// default) also counts the SFTP session, the running batch and the full
// sync's session.
const sshStandbySessions = 4

// sshWaitExit bounds the wait for a remote rsync's exit status after its
// protocol session ended.
const sshWaitExit = 30 * time.Second

// SSHConfig selects a directory on an ssh server.
type SSHConfig struct {
	// SSH says how to connect (host, user, port, keys, known_hosts).
	SSH sshx.Config
	// Dir is the remote directory: absolute, relative to the remote home,
	// "" or "~" for the home itself, "~/x" below it. It is created when
	// missing.
	Dir string
	// RsyncPath is the remote rsync command ("" = "rsync"). Like rsync's
	// --rsync-path it is a shell command line ("sudo rsync" works).
	RsyncPath string
	// ExcludeRules are rsync filter rules equivalent to Options.Exclude.
	// With them (or without excludes) the remote rsync does the deletes;
	// otherwise, or when Protocol is one that cannot scope deletes by
	// filter (rsyncproto.ScopesDeletes), gsync deletes over SFTP, asking
	// Options.Exclude, so excluded target paths are never deleted either
	// way.
	ExcludeRules []string
	// Timeout stops a transfer when no data moved for this long, and
	// bounds every SFTP call (rename, remove, mkdir, stat, ...; the SFTP
	// channel is then closed and the push fails as transient); 0 = no
	// limit.
	Timeout time.Duration
	// Protocol is the highest rsync protocol offered (0 =
	// rsyncproto.MaxProtocol).
	Protocol int
}

// ParseSSHTarget parses "[user@]host:dir" ("[v6addr]:dir" for IPv6). ok is
// false when spec is no ssh target: no ':' or a '/' before it (a local
// path), or a daemon target ("host::module").
func ParseSSHTarget(spec string) (user, host, dir string, ok bool) {
	rest := spec
	if at := strings.IndexByte(spec, '@'); at >= 0 && !strings.ContainsAny(spec[:at], "/:") {
		user, rest = spec[:at], spec[at+1:]
	}
	var colon int
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return "", "", "", false
		}
		host, colon = rest[1:end], end+1
	} else {
		colon = strings.IndexByte(rest, ':')
		if colon < 0 {
			return "", "", "", false
		}
		host = rest[:colon]
	}
	if host == "" || strings.ContainsRune(host, '/') || strings.HasPrefix(rest[colon:], "::") {
		return "", "", "", false
	}
	return user, host, rest[colon+1:], true
}

// SSH mirrors the source into a directory on an ssh server. It keeps one
// connection for its lifetime: every batch runs "rsync --server" in an exec
// session (opened ahead of time by a goroutine the SSH owns, so a push
// costs no session setup), and renames, deletes and mkdirs go through one
// long-lived SFTP session on the same connection.
type SSH struct {
	cfg   SSHConfig
	opts  Options
	log   *slog.Logger
	name  string
	attrs func(*rsyncproto.Options) // wireAttrs of opts.Attrs
	links linkIndex                 // -H: the names of multiply-linked files
	// deletes says how deletes reach the target (an sshDeletes): by the
	// remote rsync's scoped --delete, over SFTP with opts.Exclude when the
	// remote rsync cannot be left to do them (receiverScopesDeletes), or,
	// without SFTP, by pushing the nearest existing parent directory
	// recursively with --delete. It changes when the peer turns out to
	// speak a protocol below 29 (openrsync, gokrazy/rsync).
	deletes atomic.Int32
	// peerProto is the protocol the remote rsync negotiated last (0:
	// none yet).
	peerProto atomic.Int32
	// peerScopes: the remote rsync speaks a protocol below 29 but is
	// openrsync, which honours the filter list when it deletes (its
	// receiver asks rules_match for every entry it would delete), so
	// deletes stay scoped by the remote rsync. identified: asked once.
	peerScopes atomic.Bool
	identified atomic.Bool

	client *sshx.Client // set once by ensure
	dir    string       // resolved absolute remote directory (relative to the login directory without SFTP)
	// noSFTP: the server has no SFTP (set once by ensure). Moves are
	// re-sent (the source deleted, the destination sent) and deletes are
	// left to the remote rsync.
	noSFTP bool

	standby *standby[*sshStandby] // set once by ensure
	closeMu sync.Mutex
	closed  bool

	standbyUsed atomic.Int64 // pushes that ran on a standby session
	// single: the server runs one rsync at a time (rrsync's single-run
	// lock refused a second): no standby sessions, one fresh session per
	// run.
	single atomic.Bool
}

var _ Target = (*SSH)(nil)

// sshStandby is an exec session already running the batch rsync, which
// has been sent rsyncproto.ServerHello and has answered it, or the error
// of starting one.
type sshStandby struct {
	sess *sshx.Session
	cmd  string // the command it runs
	err  error
	// ended: the remote command ended (or its session failed) before
	// its answer.
	ended bool
}

// sshDeletes is how deletes reach an ssh target.
type sshDeletes int32

const (
	// deletesByRsync: the remote rsync's --delete, scoped by the filter
	// list to the listed paths (protocol 29 or newer).
	deletesByRsync sshDeletes = iota
	// deletesBySFTP: gsync deletes over SFTP, keeping excluded paths.
	deletesBySFTP
	// deletesByRoots: no SFTP and a peer below protocol 29: the nearest
	// existing directory of a deleted path is pushed recursively with
	// --delete as its own transfer root (like Daemon.pushByRoots).
	deletesByRoots
)

// deleteVia returns how deletes reach the target now.
func (t *SSH) deleteVia() sshDeletes { return sshDeletes(t.deletes.Load()) }

// pickDeletes chooses how deletes reach the target for a peer speaking
// proto (0: not known yet).
func (t *SSH) pickDeletes(proto int) sshDeletes {
	if proto == 0 || t.cfg.Protocol != 0 && t.cfg.Protocol < proto {
		proto = t.cfg.Protocol
	}
	if t.peerScopes.Load() {
		proto = rsyncproto.MaxProtocol // scopes deletes as well as a newer one
	}
	switch {
	case receiverScopesDeletes(t.opts, t.cfg.ExcludeRules, proto):
		return deletesByRsync
	case !t.noSFTP && !t.opts.Receiver.Backups():
		// Not with --backup: a delete over SFTP would keep no backup.
		return deletesBySFTP
	}
	return deletesByRoots
}

// learnProtocol records the protocol the remote rsync negotiated and
// switches the way of deleting when it cannot scope deletes (below
// protocol 29 it asks, once, whether the remote rsync is openrsync, which
// can); it reports whether the way changed or the peer turned out to be
// openrsync.
func (t *SSH) learnProtocol(ctx context.Context, proto int) bool {
	if proto == 0 {
		return false
	}
	t.peerProto.Store(int32(proto))
	learned := false
	if !rsyncproto.ScopesDeletes(proto) && t.identified.CompareAndSwap(false, true) && t.isOpenrsync(ctx) {
		t.peerScopes.Store(true)
		learned = true
		t.log.Info("remote rsync is openrsync: deletes stay scoped by the filter list", "protocol", proto)
	}
	via := t.pickDeletes(proto)
	if old := sshDeletes(t.deletes.Swap(int32(via))); old != via {
		t.log.Info("remote rsync speaks an old protocol: deletes change their way", "protocol", proto, "deletes", via.String())
		return true
	}
	return learned
}

// sshIdentifyTimeout bounds the remote "rsync --version" of isOpenrsync.
const sshIdentifyTimeout = 30 * time.Second

// isOpenrsync runs the remote rsync with --version and reports whether it
// says it is openrsync ("openrsync: protocol version 27", on stderr or
// stdout: main.c of openrsync). Anything else, a refusal (rrsync allows
// only --server) included, is "no": deletes then take the safe way.
func (t *SSH) isOpenrsync(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, sshIdentifyTimeout)
	defer cancel()
	sess, err := t.exec(ctx, t.cfg.RsyncPath+" --version")
	if err != nil {
		t.log.Debug("remote rsync --version not run", "err", err)
		return false
	}
	defer sess.Close()
	sess.CloseWrite()
	out, _ := io.ReadAll(io.LimitReader(sess, 4096))
	code, err := sess.Wait(ctx)
	out = append(out, sess.Stderr()...)
	t.log.Debug("remote rsync --version", "status", code, "err", err, "stderr", sess.StderrText(2))
	if code != 0 || err != nil {
		return false
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "openrsync: protocol version ") {
			return true
		}
	}
	return false
}

func (d sshDeletes) String() string {
	switch d {
	case deletesBySFTP:
		return "sftp"
	case deletesByRoots:
		return "parent push"
	}
	return "rsync"
}

// NewSSH returns a Target for cfg. It does not connect: the first FullSync
// or Push does, and its errors are classified (host key and login failures
// are fatal).
func NewSSH(cfg SSHConfig, opts Options) (*SSH, error) {
	opts, err := absSource("ssh", opts)
	if err != nil {
		return nil, err
	}
	if cfg.SSH.Host == "" {
		return nil, Fatal(errors.New("create ssh target: no host"))
	}
	if err := rsyncproto.CheckProtocol(cfg.Protocol); err != nil {
		return nil, Fatal(fmt.Errorf("create ssh target: %w", err))
	}
	if cfg.RsyncPath == "" {
		cfg.RsyncPath = "rsync"
	}
	host := cfg.SSH.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	name := host + ":" + cfg.Dir
	if cfg.SSH.User != "" {
		name = cfg.SSH.User + "@" + name
	}
	log := targetLogger(opts, name)
	if cfg.SSH.Logger == nil {
		cfg.SSH.Logger = log
	}
	attrs, err := wireAttrs(opts)
	if err != nil {
		return nil, Fatal(fmt.Errorf("create ssh target: %w", err))
	}
	t := &SSH{cfg: cfg, opts: opts, name: name, log: log, attrs: attrs}
	t.deletes.Store(int32(t.pickDeletes(0)))
	return t, nil
}

// String names the target: "user@host:dir" as given.
func (t *SSH) String() string { return t.name }

// Client returns the ssh client, nil before the first connection.
func (t *SSH) Client() *sshx.Client {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	return t.client
}

// Dir returns the resolved remote directory, "" before the first
// connection.
func (t *SSH) Dir() string {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	return t.dir
}

// Close stops the standby goroutine, ends the standby session and closes
// the connection.
func (t *SSH) Close() error {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.standby != nil {
		t.standby.stop()
	}
	if t.client != nil {
		return t.client.Close()
	}
	return nil
}

// connected reports whether ensure has connected.
func (t *SSH) connected() bool {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	return t.client != nil
}

func (s *sshStandby) close() {
	if s != nil && s.sess != nil {
		s.sess.Close()
	}
}

// ensure connects, resolves and creates the remote directory and starts
// the standby goroutine, once.
func (t *SSH) ensure(ctx context.Context) error {
	t.closeMu.Lock()
	closed := t.closed
	t.closeMu.Unlock()
	if closed {
		return errClosed
	}
	if t.connected() {
		return nil
	}
	c, err := sshx.Dial(ctx, t.cfg.SSH)
	if err != nil {
		return err
	}
	dir, err := t.resolveDir(ctx, c)
	noSFTP := errors.Is(err, sshx.ErrNoSFTP)
	if noSFTP {
		dir, err = plainDir(t.cfg.Dir)
	}
	if err != nil {
		c.Close()
		return err
	}
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	if t.closed {
		c.Close()
		return errClosed
	}
	if noSFTP && t.opts.rulesNeeded() && len(t.cfg.ExcludeRules) == 0 && t.opts.Delete != DeleteNever {
		c.Close()
		return &sshDirError{fmt.Errorf("no SFTP on %s, and the excludes have no rsync rules: deletes could not keep excluded paths", c.Host())}
	}
	t.client, t.dir, t.noSFTP = c, dir, noSFTP
	if noSFTP {
		t.deletes.Store(int32(t.pickDeletes(int(t.peerProto.Load()))))
		t.log.Warn(fmt.Sprintf("no SFTP on %s: moves are re-sent", c.Host()), "dir", dir)
	}
	t.log.Debug("connected", "ssh", c.String(), "dir", dir)
	t.standby = newStandbyPool(sshStandbySessions, func(ctx context.Context) *sshStandby {
		// The options of the moment: they change when the peer turns
		// out to be an old one.
		cmd := t.command(t.batchOptions())
		t0 := time.Now()
		s, err := c.ExecCommand(ctx, cmd)
		if err != nil {
			return &sshStandby{cmd: cmd, err: err}
		}
		// Parked only once the remote rsync has answered our protocol
		// version with its own: sshd confirms the exec before the shell
		// has even started rsync, and on a busy server that takes
		// longer than a push.
		sb := &sshStandby{sess: s, cmd: cmd}
		if _, werr := s.Write(rsyncproto.ServerHello(t.cfg.Protocol)); werr != nil {
			sb.ended = true
		} else if werr := s.AwaitOutput(ctx); werr != nil {
			sb.ended = true
		}
		t.log.Debug("standby rsync session ready", "took", time.Since(t0), "ended", sb.ended)
		return sb
	}, (*sshStandby).close)
	t.standby.start()
	return nil
}

// resolveDir makes cfg.Dir absolute against the remote home and creates it
// when missing (rsync itself would create only its last component).
func (t *SSH) resolveDir(ctx context.Context, c *sshx.Client) (string, error) {
	files := c.Files(t.cfg.Timeout)
	d := t.cfg.Dir
	switch {
	case d == "" || d == "~":
		d = "."
	case strings.HasPrefix(d, "~/"):
		d = d[2:]
	case strings.HasPrefix(d, "~"):
		return "", &sshDirError{fmt.Errorf("remote directory %q: ~user is not supported; write the path", d)}
	}
	if !path.IsAbs(d) {
		home, err := files.Getwd(ctx)
		if err != nil {
			return "", fmt.Errorf("find remote home directory: %w", err)
		}
		d = path.Join(home, d)
	}
	d = path.Clean(d)
	fi, err := files.Stat(ctx, d)
	switch {
	case err == nil && !fi.IsDir():
		return "", &sshDirError{fmt.Errorf("remote %s is not a directory", d)}
	case err != nil && isSFTPNotExist(err):
		if t.opts.DryRun {
			return d, nil
		}
		if err := files.MkdirAll(ctx, d); err != nil {
			return "", dirErr(fmt.Errorf("create remote directory: %w", err)) // err names d
		}
	case err != nil:
		return "", dirErr(fmt.Errorf("stat remote directory: %w", err)) // err names d
	}
	return d, nil
}

// plainDir is the remote directory for rsync alone, without SFTP to
// resolve it: the remote rsync runs in the login directory (sshd starts
// it there, and rrsync in its restricted directory), so a relative path
// stays relative; "~" and "" are ".", "~/x" is "x". rsync creates the
// last component when it is missing, not its parents.
func plainDir(d string) (string, error) {
	switch {
	case d == "" || d == "~":
		return ".", nil
	case strings.HasPrefix(d, "~/"):
		d = d[2:]
	case strings.HasPrefix(d, "~"):
		return "", &sshDirError{fmt.Errorf("remote directory %q: ~user is not supported; write the path", d)}
	}
	if d == "" {
		return ".", nil
	}
	return path.Clean(d), nil
}

// sshDirError is a remote directory that cannot be used; not transient.
type sshDirError struct{ err error }

func (e *sshDirError) Error() string { return e.err.Error() }
func (e *sshDirError) Unwrap() error { return e.err }

// dirErr makes err an *sshDirError unless the SFTP session failed (a
// timeout is worth a retry).
func dirErr(err error) error {
	if sftpGone(err) {
		return err
	}
	return &sshDirError{err}
}

// sftpNotExist makes an SFTP "no such file" status match fs.ErrNotExist.
func sftpNotExist(err error) error {
	if err != nil && !errors.Is(err, fs.ErrNotExist) && isSFTPNotExist(err) {
		return notExistError{err}
	}
	return err
}

type notExistError struct{ error }

func (e notExistError) Unwrap() error        { return e.error }
func (e notExistError) Is(target error) bool { return target == fs.ErrNotExist }

func isSFTPNotExist(err error) bool {
	var se *sftp.StatusError
	if errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxNoSuchFile {
		return true
	}
	return errors.Is(err, fs.ErrNotExist)
}

// batchOptions are the rsync options of event batches: -I (a path in a
// batch changed even when size and mtime match) and, unless deletes go over
// SFTP, --delete scoped to the listed paths.
func (t *SSH) batchOptions() rsyncproto.Options {
	return t.rsyncOptions(true, t.deleteVia() == deletesByRsync && t.opts.Delete.Running())
}

func (t *SSH) rsyncOptions(ignoreTimes, del bool) rsyncproto.Options {
	o := rsyncproto.Options{
		Delete:        del,
		IgnoreTimes:   ignoreTimes,
		DryRun:        t.opts.DryRun,
		OneFileSystem: t.opts.OneFileSystem,
		Timeout:       t.cfg.Timeout,
		MaxProtocol:   t.cfg.Protocol,
		Exclude:       t.opts.Exclude,
		XattrFilter:   t.opts.XattrExclude,
		Progress:      t.opts.Progress,
		Listed:        t.opts.Listed,
		Warn:          func(msg string) { t.log.Warn("remote rsync said", "text", msg) },
		// openrsync (identified by learnProtocol) honours them.
		PeerScopesDeletes: t.peerScopes.Load(),
	}
	t.attrs(&o)
	if del {
		o.ExcludeRules = t.cfg.ExcludeRules
	}
	return o
}

// command is the remote command line running rsync --server for o.
func (t *SSH) command(o rsyncproto.Options) string {
	args := rsyncproto.ServerArgs(rsyncproto.Request{Dest: t.dir, Options: o})
	return t.cfg.RsyncPath + " " + sshx.QuoteArgs(args)
}

// rrsyncLocked is what rrsync says when its single-run lock refuses a
// second rsync in the same directory (rrsync: lock_or_die).
const rrsyncLocked = "Another instance of rrsync is already accessing"

// errServerLocked marks a run refused because another rsync held the
// server's single-run lock, or the server refused one more session.
var errServerLocked = errors.New("the server runs one rsync at a time")

// noteRefused checks an error of opening an exec session for sshd's
// MaxSessions refusing it; the first time, it stops the standby sessions
// (they take the sessions) and says so. It reports whether err was such a
// refusal.
func (t *SSH) noteRefused(err error) bool {
	if !sshx.IsSessionRefused(err) {
		return false
	}
	if t.single.CompareAndSwap(false, true) {
		t.log.Warn("the ssh server refused a session (sshd's MaxSessions): no standby sessions, so each push waits for a new one; gsync needs MaxSessions 7 for them")
		t.standby.stop()
	}
	return true
}

// exec starts command in a fresh session; a refusal by sshd's
// MaxSessions is marked errServerLocked, for retryLocked.
func (t *SSH) exec(ctx context.Context, command string) (*sshx.Session, error) {
	s, err := t.client.ExecCommand(ctx, command)
	if err != nil && t.noteRefused(err) {
		err = fmt.Errorf("%w: %w", errServerLocked, err)
	}
	return s, err
}

// noteLocked checks what a remote rsync wrote to stderr for rrsync's
// single-run lock; the first time, it stops the standby sessions (they
// hold the lock while they wait) and says so. It reports whether stderr
// showed the lock.
func (t *SSH) noteLocked(stderr []byte) bool {
	if !strings.Contains(string(stderr), rrsyncLocked) {
		return false
	}
	if t.single.CompareAndSwap(false, true) {
		t.log.Warn("the server runs one rsync at a time (rrsync's lock): no standby sessions, so each push waits for a new one; add -no-lock to the rrsync command for faster pushes")
		t.standby.stop()
	}
	return true
}

// retryLocked runs run again, a few times, while it fails because another
// rsync (a standby session ending) still holds the server's lock.
func retryLocked(ctx context.Context, run func() (Stats, error)) (Stats, error) {
	st, err := run()
	for i := 0; i < 5 && errors.Is(err, errServerLocked); i++ {
		select {
		case <-ctx.Done():
			return st, err
		case <-time.After(time.Duration(100<<i) * time.Millisecond):
		}
		st, err = run()
	}
	return st, err
}

// batchSession returns a session running the batch rsync: a standby one
// (waiting for it when it is still starting: it is ahead of a fresh one),
// or a fresh one when the standby died. hello tells that the session was
// sent rsyncproto.ServerHello already (a standby one). It asks for the
// next standby.
func (t *SSH) batchSession(ctx context.Context) (sess *sshx.Session, hello bool, err error) {
	if t.single.Load() {
		sess, err = t.exec(ctx, t.command(t.batchOptions()))
		return sess, false, err
	}
	t0 := time.Now()
	tctx := ctx
	if t.cfg.Timeout > 0 {
		// A server that starts no rsync gives up like one that stalls
		// mid-transfer.
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, t.cfg.Timeout)
		defer cancel()
	}
	sb, err := t.standby.take(tctx)
	if w := time.Since(t0); w > 10*time.Millisecond {
		t.log.Debug("waited for a standby rsync session", "wait", w)
	}
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, false, fmt.Errorf("no remote rsync ready within --timeout %v: %w", t.cfg.Timeout, err)
	}
	if errors.Is(err, errClosed) && t.single.Load() {
		sess, err = t.exec(ctx, t.command(t.batchOptions()))
		return sess, false, err
	}
	if err != nil {
		return nil, false, err
	}
	t.standby.ask()
	cmd := t.command(t.batchOptions())
	if sb.err == nil && !sb.ended && !sb.sess.Exited() && sb.cmd == cmd {
		t.standbyUsed.Add(1)
		return sb.sess, true, nil
	}
	switch {
	case sb.err == nil && !sb.ended && sb.cmd != cmd:
		t.log.Debug("standby rsync session has other options; starting another")
	case sb.err == nil:
		code, werr := sb.sess.Wait(ctx)
		t.noteLocked(sb.sess.Stderr())
		t.log.Debug("standby rsync session ended; starting another", "status", code, "err", werr, "stderr", sb.sess.StderrText(5))
	default:
		t.log.Debug("standby rsync session failed; trying again", "err", sb.err)
		t.noteRefused(sb.err)
	}
	sb.close()
	sess, err = t.exec(ctx, cmd)
	return sess, false, err
}

// runRsync pushes paths over sess and folds in the remote exit status. It
// also returns the target directories the receiver refused to delete to
// replace them by a non-directory.
func (t *SSH) runRsync(ctx context.Context, sess *sshx.Session, req rsyncproto.Request) (Stats, error) {
	res, err := rsyncproto.PushServer(ctx, sess, req)
	if res != nil {
		t.learnProtocol(ctx, res.Protocol)
	}
	sess.CloseWrite()
	wctx, cancel := context.WithTimeout(ctx, sshWaitExit)
	code, werr := sess.Wait(wctx)
	cancel()
	sess.Close()
	stderr := sess.Stderr()
	if werr != nil && code == -1 {
		code = 255 // no exit status: the connection or session died
	}
	if err != nil {
		if code == 126 || code == 127 {
			return Stats{}, &sshRemoteCmdError{code: code, cmd: t.cfg.RsyncPath, stderr: sess.StderrText(3)}
		}
		if t.noteLocked(stderr) {
			err = fmt.Errorf("%w: %w", errServerLocked, err)
		}
		if msg := sess.StderrText(5); msg != "" {
			err = fmt.Errorf("%w; remote said: %s", err, msg)
		}
		return Stats{}, peerRejected(err, t.name, stderr)
	}
	res.MergeRemote(code, stderr)
	var blocked []string
	for _, w := range res.Warnings {
		if i := strings.Index(w, blockedDirMsg); i >= 0 {
			blocked = append(blocked, strings.TrimSpace(w[i+len(blockedDirMsg):]))
		}
	}
	st := Stats{Files: res.Files, Deleted: res.Deleted, Bytes: res.LiteralBytes, Removed: res.Removed}
	for _, f := range res.Failed {
		st.Failed = append(st.Failed, FileError{Path: f.Path, Err: f.Err})
	}
	warnAttrsNotKept(t.log, res)
	switch res.ExitCode {
	case 0:
	case rsyncproto.ExitPartial, rsyncproto.ExitVanished:
		for _, p := range blocked {
			if !sshHasFailed(st.Failed, p) {
				st.Failed = append(st.Failed, FileError{Path: p, Err: errors.New(blockedDirMsg + p)})
			}
		}
		if len(st.Failed) == 0 && res.AttrsNotKept == 0 {
			// Failures the remote did not attribute: retry every path.
			for _, p := range req.Paths {
				st.Failed = append(st.Failed, FileError{Path: p.Name, Err: fmt.Errorf("remote rsync exit %d (%s)", res.ExitCode, rsyncproto.CodeName(res.ExitCode))})
			}
		}
	default:
		return st, &rsyncproto.ExitError{Code: res.ExitCode, Msg: "remote rsync failed: " + sess.StderrText(5)}
	}
	return st, nil
}

func sshHasFailed(failed []FileError, p string) bool {
	for _, f := range failed {
		if f.Path == p {
			return true
		}
	}
	return false
}

// sshRemoteCmdError: the remote shell could not run rsync.
type sshRemoteCmdError struct {
	code   int
	cmd    string
	stderr string // escaped (Session.StderrText)
}

func (e *sshRemoteCmdError) Error() string {
	what := "not found"
	if e.code == 126 {
		what = "not executable"
	}
	msg := fmt.Sprintf("remote command %q %s (exit %d): install rsync >= 3.1 on the server or point --rsync-path at it", e.cmd, what, e.code)
	if e.stderr != "" {
		msg += "; remote said: " + e.stderr
	}
	return msg
}

// FullSync makes the remote directory equal to the source with rsync's
// quick check. Deletes (when the delete mode allows them at startup) are
// done by the remote rsync, or over SFTP when there are excludes without
// rsync rules.
func (t *SSH) FullSync(ctx context.Context) (Stats, error) {
	if err := t.ensure(ctx); err != nil {
		return Stats{}, t.classify("sync to", err)
	}
	if t.opts.Attrs.HardLinks {
		t.links.reset()
		t.links.scan(t.opts.Source, ".", t.opts.Exclude)
	}
	var st Stats
	via := t.deleteVia()
	if via == deletesBySFTP && t.opts.Delete.Full() {
		if err := t.deleteExtras(ctx, t.files(), "", &st); err != nil {
			return st, t.classify("sync to", err)
		}
	}
	// The root pushed recursively scopes the deletes at every protocol.
	o := t.rsyncOptions(false, via != deletesBySFTP && t.opts.Delete.Full())
	o.IncRecurse = true // the whole tree: its file list streams
	rst, err := retryLocked(ctx, func() (Stats, error) {
		sess, err := t.exec(ctx, t.command(o))
		if err != nil {
			return Stats{}, err
		}
		return t.runRsync(ctx, sess, rsyncproto.Request{Root: t.opts.Source, Dest: t.dir,
			Paths: []rsyncproto.Path{{Name: ".", Recursive: true}}, Options: o})
	})
	st = st.Add(fullSyncSkippedDeletes(rst, t.log))
	if err != nil {
		return st, t.classify("sync to", err)
	}
	return st, nil
}

// Push applies one batch: renames first, over SFTP (a failed rename falls
// back to sending the destination and deleting the source), then the other
// paths with one rsync run on the standby session (-I). Deletes are scoped
// to the listed paths. The paths whose attributes alone changed follow
// in a session of their own with the quick check (splitAttribOnly).
func (t *SSH) Push(ctx context.Context, changes []Change) (Stats, error) {
	return pushAttribApart(ctx, changes, t.opts.Source, t.opts.Attrs.HardLinks, t.push)
}

// push is Push for changes, with -I on a standby session (changed), or
// with the quick check on a fresh one; scoped deletes and rules either
// way.
func (t *SSH) push(ctx context.Context, changes []Change, changed bool) (Stats, error) {
	if len(changes) == 0 {
		return Stats{}, nil
	}
	if err := t.ensure(ctx); err != nil {
		return Stats{}, t.classify("push to", err)
	}
	via := t.deleteVia()
	var st Stats
	var send pathSet
	type item struct {
		p      string
		rec    bool
		wasDir bool // what the change said the path was (for a path now gone)
	}
	var rest []item
	for _, c := range changes {
		if c.Op != change.Move {
			continue
		}
		fallback, err := t.rename(ctx, c, &st, &send)
		if err != nil {
			return st, t.classify("push to", err)
		}
		for _, p := range fallback {
			rest = append(rest, item{p, true, c.IsDir})
		}
	}
	for _, c := range changes {
		if c.Op != change.Move {
			rest = append(rest, item{strings.TrimSuffix(c.Path, "/"), c.Recursive, c.IsDir})
		}
	}
	var missing, recursive []string
	gone := 0 // listed for the remote rsync to delete
	for _, it := range rest {
		if err := checkRel(it.p); err != nil {
			st.Failed = append(st.Failed, FileError{Path: it.p, Err: fmt.Errorf("refuse path: %w", err)})
			continue
		}
		fi, err := lstatBelow(t.opts.Source, it.p)
		isDir := it.wasDir
		if err == nil {
			isDir = fi.IsDir()
		}
		if t.excluded(it.p, isDir) {
			continue // neither sent nor deleted
		}
		switch {
		case err == nil:
			send.add(it.p, it.rec)
			if it.rec && fi.IsDir() {
				recursive = append(recursive, it.p)
			}
		case isNotExist(err):
			if via == deletesByRsync {
				send.add(it.p, false) // the remote rsync deletes it
				gone++
			} else {
				missing = append(missing, it.p)
				t.addParent(&send, it.p)
			}
		default:
			send.add(it.p, it.rec) // the sender reports the error
		}
	}
	if via == deletesBySFTP && t.opts.Delete.Running() && (len(missing) > 0 || len(recursive) > 0) {
		files := t.files()
		for _, p := range missing {
			if err := t.deletePath(ctx, files, p, &st); err != nil {
				return st, t.classify("push to", err)
			}
		}
		for _, p := range recursive {
			if err := t.deleteExtras(ctx, files, p, &st); err != nil {
				return st, t.classify("push to", err)
			}
		}
	}
	if len(send.list) > 0 && t.opts.Attrs.HardLinks {
		t.links.expand(t.opts.Source, &send, t.opts.Exclude)
	}
	if len(send.list) > 0 {
		var req rsyncproto.Request
		rst, err := retryLocked(ctx, func() (Stats, error) {
			if !changed {
				o := t.batchOptions()
				o.IgnoreTimes = false
				sess, err := t.exec(ctx, t.command(o))
				if err != nil {
					return Stats{}, err
				}
				req = rsyncproto.Request{Root: t.opts.Source, Dest: t.dir, Paths: send.list, Options: o}
				return t.runRsync(ctx, sess, req)
			}
			sess, hello, err := t.batchSession(ctx)
			if err != nil {
				return Stats{}, err
			}
			req = rsyncproto.Request{Root: t.opts.Source, Dest: t.dir, Paths: send.list, Options: t.batchOptions()}
			req.Options.HelloSent = hello
			return t.runRsync(ctx, sess, req)
		})
		if req.Options.Delete && errors.Is(err, rsyncproto.ErrScopedDeleteUnsupported) && t.learnProtocol(ctx, rsyncproto.MinProtocol) {
			// The peer speaks a protocol below 29; nothing was sent.
			// Again, with deletes the way that works there.
			more, err := t.push(ctx, changes, changed)
			return st.Add(more), err
		}
		if p := int(t.peerProto.Load()); req.Options.Delete && p != 0 && !rsyncproto.ScopesDeletes(p) && rst.Deleted == 0 && !t.opts.DryRun {
			rst.Deleted = gone // openrsync reports no deletions at protocol 27: the listed ones, at most
		}
		st, err = t.finishPush(ctx, st, rst, err, req)
		if err != nil {
			return st, err
		}
	}
	if via == deletesByRoots && t.opts.Delete.Running() && (len(missing) > 0 || len(recursive) > 0) {
		rst, err := t.deleteByRoots(ctx, missing, recursive)
		st = st.Add(rst)
		if err != nil {
			return st, t.classify("push to", err)
		}
	}
	return st, nil
}

// finishPush retries deletes the receiver skipped and adds up the batch's
// stats.
func (t *SSH) finishPush(ctx context.Context, st, rst Stats, err error, req rsyncproto.Request) (Stats, error) {
	if err == nil && req.Options.Delete {
		rst, err = retrySkippedDeletes(rst, t.opts.Source, func(gone []rsyncproto.Path) (Stats, error) {
			sess, hello, err := t.batchSession(ctx)
			if err != nil {
				return Stats{}, err
			}
			o := t.batchOptions()
			o.HelloSent = hello
			return t.runRsync(ctx, sess, rsyncproto.Request{Root: t.opts.Source, Dest: t.dir, Paths: gone, Options: o})
		})
	}
	st = st.Add(rst)
	if err != nil {
		return st, t.classify("push to", err)
	}
	return st, nil
}

// deleteByRoots deletes, for a peer that cannot scope deletes and without
// SFTP, by pushing the nearest existing directory of each missing path
// and each recursive directory with --delete as a transfer root of its
// own (in its own session: the root is on the remote command line), as
// Daemon.pushByRoots does. Nothing outside those directories can be
// deleted; excluded paths are protected by the filter rules.
func (t *SSH) deleteByRoots(ctx context.Context, missing, recursive []string) (Stats, error) {
	// existing is the nearest directory at or above r that the source
	// has (a recursive directory may be gone since the batch formed).
	existing := func(r string) string {
		for r != "." && !isDir(filepath.Join(t.opts.Source, filepath.FromSlash(r))) {
			r = path.Dir(r)
		}
		return r
	}
	var roots []string
	for _, r := range recursive {
		roots = append(roots, existing(r))
	}
	for _, m := range missing {
		roots = append(roots, existing(path.Dir(m)))
	}
	var total Stats
	for _, r := range topmost(roots) {
		if t.excluded(r, true) {
			continue
		}
		push := func(r string) (Stats, error) {
			req := t.rootRequest(r)
			sess, err := t.exec(ctx, t.cfg.RsyncPath+" "+sshx.QuoteArgs(rsyncproto.ServerArgs(req)))
			if err != nil {
				return Stats{}, err
			}
			return t.runRsync(ctx, sess, req)
		}
		st, err := push(r)
		if errors.Is(err, fs.ErrNotExist) && r != "." {
			// Removed at the source between the check and the push:
			// its nearest existing parent then.
			r = existing(path.Dir(r))
			st, err = push(r)
		}
		for i := range st.Failed {
			st.Failed[i].Path = path.Join(r, st.Failed[i].Path)
		}
		total = total.Add(st)
		if err != nil {
			return total, err
		}
	}
	if total.Deleted == 0 && !t.opts.DryRun {
		total.Deleted = len(missing) // peers below 29 report no deletions
	}
	return total, nil
}

// rootRequest pushes the directory r (relative to the source) recursively
// with --delete, as the transfer root.
func (t *SSH) rootRequest(r string) rsyncproto.Request {
	o := t.rsyncOptions(false, true)
	root, dest := t.opts.Source, t.dir
	if r != "." {
		root, dest = filepath.Join(root, filepath.FromSlash(r)), path.Join(dest, r)
		if ex := t.opts.Exclude; ex != nil {
			o.Exclude = func(rel string, isDir bool) bool { return ex(path.Join(r, rel), isDir) }
		}
		o.XattrFilter = xattrFilterUnder(t.opts.XattrExclude, r)
	}
	return rsyncproto.Request{Root: root, Dest: dest, Paths: []rsyncproto.Path{{Name: ".", Recursive: true}}, Options: o}
}

// addParent lists the parent directory of rel when it exists at the
// source, so that its mtime and mode follow a change inside it.
func (t *SSH) addParent(send *pathSet, rel string) {
	p := parentOf(rel)
	if p == "" {
		send.add(".", false)
		return
	}
	if fi, err := lstatBelow(t.opts.Source, p); err == nil && fi.IsDir() && !t.excluded(p, true) {
		send.add(p, false)
	}
}

// rename applies one Rename over SFTP (planRename). It returns the paths
// to transfer instead when the rename cannot be done; an error only for a
// failed connection.
func (t *SSH) rename(ctx context.Context, c Change, st *Stats, send *pathSet) ([]string, error) {
	if t.noSFTP || t.opts.Receiver.Backups() {
		// Delete + send: the remote rsync deletes the source path (it
		// is listed and gone) and receives the destination. With
		// --backup too: then the remote rsync keeps the backups rsync
		// would keep of both (a rename over SFTP would keep none).
		return []string{strings.TrimSuffix(c.Path, "/"), strings.TrimSuffix(c.From, "/")}, nil
	}
	p, ferr, err := planRename(c, t.opts.Exclude, sftpFS{t, ctx, t.files()}, t.opts.DryRun, t.log)
	switch {
	case err != nil:
		return nil, err
	case ferr != nil:
		st.Failed = append(st.Failed, *ferr)
	case p.fallback:
		return []string{p.to, p.from}, nil
	case p.renamed:
		st.Renamed++
		if t.opts.DryRun {
			return nil, nil
		}
		t.addParent(send, p.from)
		t.addParent(send, p.to)
		if p.isDir {
			// Its mtime and mode, if they changed with the move.
			if sfi, err := lstatBelow(t.opts.Source, p.to); err == nil && sfi.IsDir() {
				send.add(p.to, false)
			}
		}
	}
	return nil, nil
}

// sftpFS is the remote directory as a treeFS.
type sftpFS struct {
	t     *SSH
	ctx   context.Context
	files *sshx.Files
}

func (f sftpFS) lstat(rel string) (fs.FileInfo, error) {
	if ok, err := f.t.remoteParentsAreDirs(f.ctx, f.files, rel); err != nil || !ok {
		if err == nil {
			err = fs.ErrNotExist
		}
		return nil, err
	}
	fi, err := f.files.Lstat(f.ctx, f.t.remote(rel))
	return fi, sftpNotExist(err)
}

func (f sftpFS) readDir(rel string) ([]fs.FileInfo, error) {
	entries, err := f.files.ReadDir(f.ctx, f.t.remote(rel))
	return entries, sftpNotExist(err)
}

func (f sftpFS) remove(rel string, isDir bool) error {
	var err error
	if isDir {
		err = f.files.RemoveDirectory(f.ctx, f.t.remote(rel))
	} else {
		err = f.files.Remove(f.ctx, f.t.remote(rel))
	}
	if err != nil && isSFTPNotExist(err) {
		return nil
	}
	return err
}

func (f sftpFS) mkdirParents(rel string) error { return f.t.mkdirParents(f.ctx, f.files, rel) }
func (f sftpFS) broken(err error) bool         { return sftpGone(err) }

func (f sftpFS) rename(from, to string) error {
	return f.files.PosixRename(f.ctx, f.t.remote(from), f.t.remote(to))
}

// remote is the remote path of rel.
func (t *SSH) remote(rel string) string {
	return path.Join(t.dir, rel) // the root, change.Root, is t.dir
}

// remoteParentsAreDirs reports whether every parent of rel on the target is
// a real directory (no symlink is followed by a rename); err is set only
// when the SFTP session failed.
func (t *SSH) remoteParentsAreDirs(ctx context.Context, files *sshx.Files, rel string) (bool, error) {
	for p := range parentDirs(rel) {
		fi, err := files.Lstat(ctx, t.remote(p))
		if err != nil && sftpGone(err) {
			return false, err
		}
		if err != nil || !fi.IsDir() {
			return false, nil
		}
	}
	return true, nil
}

// files is the target's SFTP file system, every call bounded by
// --timeout.
func (t *SSH) files() *sshx.Files { return t.client.Files(t.cfg.Timeout) }

// mkdirParents creates the missing parent directories of rel on the
// target; a symlink or file in the way is an error (the fallback transfer
// replaces it).
func (t *SSH) mkdirParents(ctx context.Context, files *sshx.Files, rel string) error {
	for parent := range parentDirs(rel) {
		p := t.remote(parent)
		fi, err := files.Lstat(ctx, p)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			return fmt.Errorf("%s is not a directory on the target", parent)
		case !isSFTPNotExist(err):
			return err
		}
		if err := files.Mkdir(ctx, p); err != nil {
			return fmt.Errorf("create %s: %w", parent, err)
		}
	}
	return nil
}

func (t *SSH) excluded(rel string, isDir bool) bool { return excludedPath(t.opts.Exclude, rel, isDir) }

// deleter is the shared exclude-keeping deleter over SFTP.
func (t *SSH) deleter(ctx context.Context, files *sshx.Files, st *Stats) *deleter {
	return &deleter{fsys: sftpFS{t, ctx, files}, ex: t.opts.protect(), inside: t.opts.ProtectInside, hidden: t.opts.hidden(), dry: t.opts.DryRun, st: st,
		fail: func(rel string, err error) { st.Failed = append(st.Failed, FileError{Path: srcRel(rel), Err: err}) }, log: t.log}
}

// deletePath deletes, over SFTP, a listed path that no longer exists at
// the source, keeping excluded entries.
func (t *SSH) deletePath(ctx context.Context, files *sshx.Files, rel string, st *Stats) error {
	return t.deleter(ctx, files, st).deletePath(rel)
}

// deleteExtras deletes, over SFTP, the entries below the target directory
// rel that the source lacks, except excluded ones.
func (t *SSH) deleteExtras(ctx context.Context, files *sshx.Files, rel string, st *Stats) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rel != "" {
		if ok, err := t.remoteParentsAreDirs(ctx, files, rel); err != nil || !ok {
			return err
		}
	}
	srcLstat := func(rel string) (fs.FileInfo, error) {
		return os.Lstat(filepath.Join(t.opts.Source, filepath.FromSlash(rel)))
	}
	d := t.deleter(ctx, files, st)
	kept, err := d.deleteExtras(rel, func(name string) bool {
		_, err := srcLstat(child(rel, name))
		return !isNotExist(err) // kept unless known to be gone
	})
	if err != nil {
		return err
	}
	for _, e := range kept {
		c := child(rel, e.Name())
		if !e.IsDir() || d.excluded(c, true) {
			continue
		}
		if sfi, err := srcLstat(c); err == nil && sfi.IsDir() {
			if err := t.deleteExtras(ctx, files, c, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// sftpGone reports whether err means the SFTP session failed (no answer
// within --timeout, a lost connection, the push cancelled) rather than an
// answer about one path.
func sftpGone(err error) bool {
	var ne *sshx.NetError
	return errors.As(err, &ne) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sshx.ErrClosed) || errors.Is(err, sftp.ErrSSHFxConnectionLost) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// classify wraps err as "verb target: cause" with its retry class
// (ARCHITECTURE.md, fatal vs transient): host key, login and configuration failures, a
// missing remote rsync and refused options are fatal; network failures and
// rsync's transient exit codes are worth a retry.
func (t *SSH) classify(verb string, err error) error {
	wrapped := fmt.Errorf("%s %s: %w", verb, t.name, err)
	var rc *sshRemoteCmdError
	var de *sshDirError
	var pe *PeerOptionError
	switch {
	case errors.Is(err, context.Canceled):
		return Transient(wrapped)
	case sshx.IsPermanent(err), errors.As(err, &rc), errors.As(err, &de), errors.As(err, &pe):
		return Fatal(wrapped)
	}
	var ee *rsyncproto.ExitError
	if errors.As(err, &ee) {
		return classifyExit(verb+" "+t.name, err, ee,
			"the remote rsync refused the transfer options; gsync needs rsync >= 3.1 on the server",
			"the remote rsync speaks an unsupported protocol, or the remote shell prints text on startup")
	}
	var ne *sshx.NetError
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return Transient(wrapped)
	}
	if sourceGone(err, t.opts.Source) {
		return Fatal(wrapped)
	}
	return Transient(wrapped)
}
