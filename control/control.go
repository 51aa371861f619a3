// Package control is gsync's local control socket: a running gsync serves
// a JSON snapshot of its state on a unix socket that only its owner can
// reach, and "gsync status" reads it. One connection carries one snapshot,
// written by the server, then closed.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Status is what a gsync process reports about itself.
type Status struct {
	PID     int       `json:"pid"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	Socket  string    `json:"socket,omitempty"` // filled in by Query
	Targets []Target  `json:"targets"`
}

// Target is the state of one sync to one target.
type Target struct {
	Sync   string `json:"sync"`
	Source string `json:"source"`
	Target string `json:"target"`
	// State is one of "initial sync", "idle", "pushing", "retrying",
	// "stopped", "failed" (a fatal error stopped this target only).
	State string `json:"state"`
	// NextAttempt is when a retrying target tries again.
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	Queue       int        `json:"queue"`     // changes waiting
	InFlight    int        `json:"in_flight"` // changes of the push in flight
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	BytesPushed int64      `json:"bytes_pushed"`
	FilesPushed int64      `json:"files_pushed"`
	Deleted     int64      `json:"deleted"`
	Renamed     int64      `json:"renamed"`
	Batches     int64      `json:"batches"`
	Failures    int64      `json:"failures"` // pushes that failed and were retried
	Events      int64      `json:"events"`
	Watches     int        `json:"watches"`
	Overflows   int64      `json:"overflows"`
	// FailingPaths are the paths that keep failing on this target; each
	// is retried with its own backoff while the others go on.
	FailingPaths []FailingPath `json:"failing_paths,omitempty"`
	// Hook runs (--on-push) and failures (timeouts included), and the
	// last failure.
	HookRuns      int64      `json:"hook_runs,omitempty"`
	HookFailures  int64      `json:"hook_failures,omitempty"`
	LastHookError string     `json:"last_hook_error,omitempty"`
	LastHookAt    *time.Time `json:"last_hook_error_at,omitempty"`
	// The last periodic verify (--verify-every): when it ended, the
	// paths it found drifted, its error.
	LastVerify  *time.Time `json:"last_verify,omitempty"`
	DriftPaths  int        `json:"drift_paths,omitempty"`
	VerifyError string     `json:"verify_error,omitempty"`
	// Progress of a full sync in flight (updated every 10 s).
	Progress *Progress `json:"progress,omitempty"`

	// Pushes are the pushes running now: several at once when a batch
	// was split for maxProcesses (MaxProcesses); PeakPushes is the most
	// that ran at once since the start.
	Pushes       int `json:"pushes"`
	PeakPushes   int `json:"peak_pushes"`
	MaxProcesses int `json:"max_processes"`
}

// Progress is how far a full sync in flight got.
type Progress struct {
	Since  time.Time `json:"since"`
	Listed int64     `json:"listed"`     // entries listed
	Files  int64     `json:"files_sent"` // files whose data was sent
	Bytes  int64     `json:"bytes_sent"`
}

// FailingPath is a path that keeps failing on a target.
type FailingPath struct {
	Path        string    `json:"path"`
	Failures    int       `json:"failures"` // in a row
	LastError   string    `json:"last_error"`
	NextAttempt time.Time `json:"next_attempt"`
}

// DefaultDir is the directory of the default sockets:
// $XDG_RUNTIME_DIR/gsync, else /run/gsync for root, else
// $TMPDIR/gsync-UID.
func DefaultDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "gsync")
	}
	if os.Geteuid() == 0 {
		return "/run/gsync"
	}
	return filepath.Join(os.TempDir(), "gsync-"+strconv.Itoa(os.Getuid()))
}

// DefaultPath is the default socket of the process pid: DefaultDir()/PID.sock.
func DefaultPath(pid int) string {
	return filepath.Join(DefaultDir(), strconv.Itoa(pid)+".sock")
}

// Listen creates the socket at path, owner-only: its directory is created
// with mode 0700 if missing; it must be this user's own, not a symlink,
// and writable by nobody else (DefaultDir: mode 0700, see CheckDir); the
// socket gets mode 0600. A stale socket
// (nobody listening) is replaced; a live one is an error.
func Listen(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	// Only the last directory is created: a missing /run (a container's
	// empty root) means no default socket rather than a new /run.
	if err := os.Mkdir(dir, 0o700); err == nil {
		// The umask may have taken bits away; CheckDir wants exactly 0700.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("restrict control socket directory: %w", err)
		}
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create control socket directory: %w", err)
	}
	if err := checkDir(dir, dir == DefaultDir()); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s is in use by another running gsync; give this one its own --control-socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale control socket: %w", err)
		}
	}
	// Listen on a temporary name, restrict it, then rename it into place:
	// nobody else can connect in between, and the process umask is left
	// alone (other goroutines create files).
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.tmp", filepath.Base(path), os.Getpid()))
	os.Remove(tmp)
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("restrict control socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("create control socket: %w", err)
	}
	return &listener{UnixListener: ul, path: path}, nil
}

// listener removes its socket file when closed.
type listener struct {
	*net.UnixListener
	path string
}

func (l *listener) Close() error {
	err := l.UnixListener.Close()
	os.Remove(l.path)
	return err
}

// Serve answers every connection on ln with snapshot() until ctx ends, then
// closes ln (which removes the socket file).
func Serve(ctx context.Context, ln net.Listener, snapshot func() Status) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close() // also when Accept returned before the AfterFunc's Close did its work
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accept on control socket: %w", err)
		}
		// One small write per connection: answered inline, bounded by a
		// deadline so that a stuck client cannot hold the loop.
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		json.NewEncoder(c).Encode(snapshot())
		c.Close()
	}
}

// Query reads the status of the gsync serving the socket at path, whose
// directory must be this user's own, as for Listen.
func Query(ctx context.Context, path string) (Status, error) {
	dir := filepath.Dir(path)
	if err := checkDir(dir, dir == DefaultDir()); err != nil {
		return Status{}, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Status{}, fmt.Errorf("connect to control socket: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	var st Status
	if err := json.NewDecoder(io.LimitReader(c, 64<<20)).Decode(&st); err != nil {
		return Status{}, fmt.Errorf("read control socket %s: %w", path, err)
	}
	st.Socket = path
	return st, nil
}

// QueryDir queries every socket in dir (the default sockets of all running
// gsync processes of this user), oldest process first. Sockets nobody
// listens on are removed. It returns no error for an empty or missing dir,
// and refuses a dir that fails CheckDir.
func QueryDir(ctx context.Context, dir string) ([]Status, error) {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err := CheckDir(dir); err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.sock"))
	if err != nil {
		return nil, fmt.Errorf("list control sockets: %w", err)
	}
	var out []Status
	var errs []string
	for _, p := range names {
		st, err := Query(ctx, p)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
				os.Remove(p) // its process is gone
				continue
			}
			errs = append(errs, err.Error())
			continue
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return out, nil
}
