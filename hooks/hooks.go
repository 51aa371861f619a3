// Package hooks runs the programs given with --on-push after a target's
// push went through: without a shell (the command line is split into
// words like -e's, internal/shellwords), one at a time and in order, with
// the push described on stdin as JSON lines and in GSYNC_* environment
// variables, each under a timeout that kills its whole process group.
//
// A Runner belongs to one target. The engine (package mirror) decides
// when a push is worth a hook and hands it to Add, which never blocks:
// pushes wait in a bounded queue, and when hooks fall behind so far that
// the queue is full, the newest waiting push absorbs the next ones (their
// paths merged, GSYNC_MERGED counting them), so a hook never misses that
// something was pushed and the mirror never waits for a hook.
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/shellwords"
)

// Defaults.
const (
	// DefaultTimeout bounds one run of a hook.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxQueue is how many pushes may wait for the hooks of one
	// target before the newest absorbs the next ones.
	DefaultMaxQueue = 16
	// MaxLines caps the lines on a hook's stdin; a merged push with more
	// paths lists the first ones and says how many it left out
	// (GSYNC_FILES_OMITTED).
	MaxLines = 100000
	// maxOutput caps the output of one run kept for the log.
	maxOutput = 8 << 10
	// waitDelay bounds the wait for a killed hook's pipes.
	waitDelay = 2 * time.Second
)

// Command is one hook: a program and its arguments, run without a shell.
type Command struct {
	Argv []string
}

// Parse splits a command line into a Command, honouring quotes and
// backslashes like a POSIX shell but expanding nothing: "|", ";", "$x"
// and "*" are plain characters of a word.
func Parse(line string) (Command, error) {
	words, err := shellwords.Split(line)
	if err != nil {
		return Command{}, fmt.Errorf("parse hook %q: %w", line, err)
	}
	if len(words) == 0 {
		return Command{}, fmt.Errorf("parse hook %q: no program given", line)
	}
	return Command{Argv: words}, nil
}

// Check reports whether the program can be run: found (in $PATH for a
// bare name) and executable.
func (c Command) Check() error {
	if _, err := exec.LookPath(c.Argv[0]); err != nil {
		return fmt.Errorf("hook %s: %w", c.String(), err)
	}
	return nil
}

// String returns the command line, words quoted where needed.
func (c Command) String() string {
	q := make([]string, len(c.Argv))
	for i, w := range c.Argv {
		q[i] = w
		if w == "" || strings.ContainsAny(w, " \t\n'\"\\$`|&;<>()*?[]#~") {
			q[i] = strconv.Quote(w)
		}
	}
	return strings.Join(q, " ")
}

// Kind is what was pushed.
type Kind string

// The kinds of a push (GSYNC_KIND).
const (
	Batch    Kind = "batch"    // an event batch: its paths are listed on stdin
	FullSync Kind = "fullsync" // a full sync: the whole tree, nothing listed
)

// Change is one path of a batch as the engine pushed it.
type Change struct {
	Path   string // relative to the source, slash-separated ("." is the root)
	Change string // create, modify, attrib, delete or move
	From   string // a move's old path
	// Recursive: a directory whose whole subtree was mirrored.
	Recursive bool
}

// Push is one push that went through, as the hooks see it.
type Push struct {
	Kind    Kind
	Sync    string // the sync's name ("" none)
	Source  string // the source directory
	Target  string // the target as given
	Changes []Change
	// The push's statistics (sums, for merged pushes).
	Updated, Deleted, Renamed int
	Bytes                     int64
	// Merged counts the pushes absorbed into this one while the hooks
	// were behind; Omitted the paths left out past MaxLines.
	Merged, Omitted int
}

// Result is one run of one hook.
type Result struct {
	Command  Command
	Kind     Kind
	Files    int           // lines on its stdin
	Took     time.Duration // until it ended (or was killed)
	Err      error         // nil: it exited 0
	TimedOut bool          // killed at the timeout
	Output   string        // its stdout and stderr, at most 8 KiB
}

// Config configures the Runner of one target.
type Config struct {
	Commands []Command
	Timeout  time.Duration // one run; 0: DefaultTimeout
	MaxQueue int           // waiting pushes; 0: DefaultMaxQueue
	Log      *slog.Logger  // nil: nothing is logged
	// Done, if set, is called after each run, on the runner's goroutine.
	Done func(Result)
	// Environ is the environment the hooks inherit, before the GSYNC_
	// variables (nil: none besides them). The caller passes
	// os.Environ() so that this package reads no environment.
	Environ []string
}

// Runner runs the hooks of one target, one push at a time, on a
// goroutine of its own (Start, Close).
type Runner struct {
	cfg Config

	mu      sync.Mutex
	queue   []Push
	closing bool
	wake    chan struct{}
	idle    *sync.Cond // broadcast when the queue is empty and nothing runs
	running bool

	kill context.CancelFunc // kills the running hook (Close's deadline)
	done chan struct{}
}

// Start returns a runner of cfg whose goroutine runs until Close.
func Start(cfg Config) *Runner {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, kill := context.WithCancel(context.Background())
	r := &Runner{cfg: cfg, wake: make(chan struct{}, 1), kill: kill, done: make(chan struct{})}
	r.idle = sync.NewCond(&r.mu)
	go r.loop(ctx)
	return r
}

// Add queues p for the hooks; it never blocks. It reports false when p
// was merged into a push already waiting (the queue was full).
func (r *Runner) Add(p Push) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	if len(r.queue) >= r.cfg.MaxQueue {
		merge(&r.queue[len(r.queue)-1], p)
		return false
	}
	r.queue = append(r.queue, p)
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return true
}

// merge folds p into q: a full sync stays a full sync (its paths are not
// listed), paths are appended up to MaxLines.
func merge(q *Push, p Push) {
	if p.Kind == FullSync {
		q.Kind = FullSync
	}
	if q.Kind == FullSync {
		q.Omitted, q.Changes = 0, nil
	} else {
		room := max(MaxLines-len(q.Changes), 0)
		take := min(room, len(p.Changes))
		q.Changes = append(q.Changes, p.Changes[:take]...)
		q.Omitted += p.Omitted + len(p.Changes) - take
	}
	q.Updated += p.Updated
	q.Deleted += p.Deleted
	q.Renamed += p.Renamed
	q.Bytes += p.Bytes
	q.Merged += 1 + p.Merged
}

// Wait returns when every queued push has had its hooks run, or when ctx
// ends (then with ctx's error).
func (r *Runner) Wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.idle.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.queue) > 0 || r.running {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.idle.Wait()
	}
	return nil
}

// Close stops taking pushes, lets the queued ones run until ctx ends,
// then kills the running hook, drops what still waits (logged) and
// returns when the runner's goroutine has ended.
func (r *Runner) Close(ctx context.Context) {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	if err := r.Wait(ctx); err != nil {
		r.mu.Lock()
		dropped := len(r.queue)
		r.queue = nil
		r.mu.Unlock()
		if dropped > 0 {
			r.cfg.Log.Warn("hooks not run: gsync is stopping", "pushes", dropped)
		}
	}
	r.kill()
	<-r.done
}

// loop is the runner's goroutine.
func (r *Runner) loop(ctx context.Context) {
	defer close(r.done)
	for {
		r.mu.Lock()
		for len(r.queue) == 0 {
			if r.closing || ctx.Err() != nil {
				r.idle.Broadcast()
				r.mu.Unlock()
				return
			}
			r.idle.Broadcast()
			r.mu.Unlock()
			select {
			case <-r.wake:
			case <-ctx.Done():
			}
			r.mu.Lock()
		}
		p := r.queue[0]
		r.queue = r.queue[1:]
		r.running = true
		r.mu.Unlock()

		input := stdinOf(p)
		for _, c := range r.cfg.Commands {
			if ctx.Err() != nil {
				break
			}
			res := r.run(ctx, c, p, input)
			r.report(res)
		}

		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}
}

// report logs one run and hands it to Done.
func (r *Runner) report(res Result) {
	args := []any{"hook", res.Command.String(), "kind", string(res.Kind), "files", res.Files,
		"duration", res.Took.Round(time.Millisecond).String()}
	if res.Output != "" {
		args = append(args, "output", res.Output)
	}
	if res.Err != nil {
		args = append(args, "err", res.Err)
		r.cfg.Log.Warn("hook failed; the mirror goes on", args...)
	} else {
		r.cfg.Log.Info("hook done", args...)
	}
	if r.cfg.Done != nil {
		r.cfg.Done(res)
	}
}

// run runs one hook for p, stdin input, in a process group of its own
// that is killed at the timeout (or when ctx ends).
func (r *Runner) run(ctx context.Context, c Command, p Push, input []byte) Result {
	res := Result{Command: c, Kind: p.Kind, Files: len(p.Changes)}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Dir = p.Source
	cmd.Env = append(append([]string(nil), r.cfg.Environ...), environ(p)...)
	cmd.Stdin = bytes.NewReader(input)
	out := &capped{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	ownGroup(cmd)
	cmd.WaitDelay = waitDelay
	start := time.Now()
	err := cmd.Run()
	res.Took = time.Since(start)
	res.Output = out.String()
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.TimedOut = true
		res.Err = fmt.Errorf("run hook %s: killed after the timeout of %s", c.Argv[0], r.cfg.Timeout)
	case ctx.Err() != nil:
		res.Err = fmt.Errorf("run hook %s: killed: gsync is stopping", c.Argv[0])
	default:
		res.Err = fmt.Errorf("run hook %s: %w", c.Argv[0], err)
	}
	return res
}

// environ returns the GSYNC_ variables of p.
func environ(p Push) []string {
	return []string{
		"GSYNC_KIND=" + string(p.Kind),
		"GSYNC_SYNC=" + p.Sync,
		"GSYNC_SOURCE=" + p.Source,
		"GSYNC_TARGET=" + p.Target,
		"GSYNC_FILES=" + strconv.Itoa(len(p.Changes)),
		"GSYNC_UPDATED=" + strconv.Itoa(p.Updated),
		"GSYNC_DELETED=" + strconv.Itoa(p.Deleted),
		"GSYNC_RENAMED=" + strconv.Itoa(p.Renamed),
		"GSYNC_BYTES=" + strconv.FormatInt(p.Bytes, 10),
		"GSYNC_MERGED=" + strconv.Itoa(p.Merged),
		"GSYNC_FILES_OMITTED=" + strconv.Itoa(p.Omitted),
	}
}

// line is one JSON line on a hook's stdin.
type line struct {
	Path      string `json:"path"`
	Change    string `json:"change"`
	Size      int64  `json:"size"`
	Type      string `json:"type"` // file, dir, symlink, other; "" when gone
	From      string `json:"from,omitempty"`
	Recursive bool   `json:"recursive,omitempty"`
}

// stdinOf renders p's changes as JSON lines, with each path's type and
// size as they are at the source now (looked up beneath the source,
// never through a symlink).
func stdinOf(p Push) []byte {
	if len(p.Changes) == 0 {
		return nil
	}
	root, err := beneath.Open(p.Source)
	if err != nil {
		root = nil // sizes unknown: every path reads as gone
	} else {
		defer root.Close()
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, c := range p.Changes {
		l := line{Path: c.Path, Change: c.Change, From: c.From, Recursive: c.Recursive}
		if root != nil {
			if fi, err := root.Lstat(c.Path); err == nil {
				l.Type = change.TypeOf(fi.Mode())
				if fi.Mode().IsRegular() {
					l.Size = fi.Size()
				}
			}
		}
		enc.Encode(l) // cannot fail: strings and numbers only
	}
	return b.Bytes()
}

// capped keeps the first max bytes written to it.
type capped struct {
	max  int
	b    bytes.Buffer
	more int
}

func (c *capped) Write(p []byte) (int, error) {
	n := min(max(c.max-c.b.Len(), 0), len(p))
	c.b.Write(p[:n])
	c.more += len(p) - n
	return len(p), nil
}

func (c *capped) String() string {
	s := strings.TrimRight(c.b.String(), "\n")
	if c.more > 0 {
		s += fmt.Sprintf(" ... (%d more bytes)", c.more)
	}
	return s
}
