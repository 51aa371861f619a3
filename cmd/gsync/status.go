package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/transport"
)

// maxStatusActive caps the in-flight items listed per sync, so that a
// batch of 1000 paths does not make the status file huge.
const maxStatusActive = 100

// syncStatus is the state one mirror target publishes for the status
// file, the control socket, metrics and systemd. The mirror loop updates
// it; the readers take snapshots. Every method is safe on a nil
// *syncStatus (nothing reads it).
type syncStatus struct {
	board *board // wakes the readers when something changed

	mu          sync.Mutex
	name        string
	source      string
	target      string
	excludes    []string
	filters     []string
	queued      int          // items waiting in the collator
	waiting     []delay.Item // the first of them (at most maxStatusActive)
	active      []delay.Item // items of the batch in flight (at most maxStatusActive)
	activeTotal int          // items of the batch in flight
	full        bool         // the batch in flight is a full sync
	inFlight    bool
	watches     int
	lastPush    time.Time
	lastErr     string

	state       targetState
	retryAt     time.Time // next attempt while retrying
	lastSuccess time.Time
	lastErrAt   time.Time
	lastFailed  bool // the last push failed as a whole (connection, fatal)
	started     bool // the startup full sync succeeded (or there is none)
	counters    pushCounters
	failing     []failingPath // paths that keep failing, backed off one by one
}

// targetState is what a target is doing.
type targetState uint8

// The states of a target.
const (
	stateInitial  targetState = iota // the startup full sync has not succeeded yet
	stateIdle                        // nothing in flight, not waiting for a retry
	statePushing                     // a batch or full sync in flight
	stateRetrying                    // the last push failed; waiting for retryAt
	stateStopped                     // the mirror has ended
	stateFailed                      // a fatal error stopped this target; the others go on
)

func (s targetState) String() string {
	switch s {
	case stateInitial:
		return "initial sync"
	case stateIdle:
		return "idle"
	case statePushing:
		return "pushing"
	case stateRetrying:
		return "retrying"
	case stateStopped:
		return "stopped"
	case stateFailed:
		return "failed"
	}
	return "unknown"
}

// pushCounters are the totals since start; they only grow.
type pushCounters struct {
	events, overflows       int64
	batches, fullSyncs      int64 // pushes that ended (ok or partial)
	failures                int64 // pushes that failed and were re-queued
	files, deleted, renamed int64
	bytes                   int64
	fileErrors              int64 // per-path failures
	errorsByClass           map[string]int64
	latency                 [len(latencyBuckets)]int64 // cumulative later, per bucket here
	latencyCount            int64
	latencySum              float64 // seconds
}

// latencyBuckets are the upper bounds (seconds) of the push duration
// histogram.
var latencyBuckets = [...]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// setup records what does not change while the mirror runs.
func (s *syncStatus) setup(source, target string, excludes, filters []string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.source, s.target, s.excludes, s.filters = source, target, excludes, filters
	s.mu.Unlock()
	s.changed()
}

// publish records the loop's state: the queue length, its first items
// (owned by the caller's copy), b, the batch in flight, if any, and what
// the target is doing.
func (s *syncStatus) publish(queued int, waiting []delay.Item, b *delay.Batch, watches int, state targetState, retryAt time.Time) {
	if s == nil {
		return
	}
	s.mu.Lock()
	same := s.queued == queued && s.inFlight == (b != nil) && s.watches == watches &&
		s.state == state && s.retryAt.Equal(retryAt)
	s.queued, s.watches, s.inFlight = queued, watches, b != nil
	s.state, s.retryAt = state, retryAt
	s.waiting = waiting
	s.active, s.full, s.activeTotal = nil, false, 0
	if b != nil {
		// A copy: the collator owns the batch's items again after Done.
		s.active = append([]delay.Item(nil), b.Items[:min(len(b.Items), maxStatusActive)]...)
		s.full, s.activeTotal = b.Full, len(b.Items)
	}
	s.mu.Unlock()
	if !same {
		s.changed()
	}
}

// setState records a state change outside the loop's publish (stopped,
// failed). A failed target stays failed.
func (s *syncStatus) setState(state targetState) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.state != stateFailed {
		s.state = state
	}
	s.mu.Unlock()
	s.changed()
}

// setFailing records the paths that keep failing (a copy is kept).
func (s *syncStatus) setFailing(paths []failingPath) {
	if s == nil {
		return
	}
	s.mu.Lock()
	same := slices.Equal(s.failing, paths)
	s.failing = slices.Clone(paths)
	s.mu.Unlock()
	if !same {
		s.changed()
	}
}

// setStarted records that the startup full sync succeeded (or that
// there is none): the target is ready.
func (s *syncStatus) setStarted() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	s.changed()
}

// event counts watcher events; overflow counts inotify queue overflows.
func (s *syncStatus) event() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.counters.events++
	s.mu.Unlock()
}

func (s *syncStatus) overflow() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.counters.overflows++
	s.mu.Unlock()
	s.changed()
}

// pushed records the end of a push: its statistics, duration and error
// (class names the kind of error for metrics: "transient", "fatal").
func (s *syncStatus) pushed(at time.Time, full bool, st transport.Stats, took time.Duration, err error, class string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	c := &s.counters
	s.lastPush, s.lastErr, s.lastFailed = at, "", err != nil
	if err != nil {
		s.lastErr, s.lastErrAt = err.Error(), at
		c.failures++
		if c.errorsByClass == nil {
			c.errorsByClass = map[string]int64{}
		}
		c.errorsByClass[class]++
	} else {
		if full {
			c.fullSyncs++
		} else {
			c.batches++
		}
		c.files += int64(st.Files)
		c.deleted += int64(st.Deleted)
		c.renamed += int64(st.Renamed)
		c.bytes += st.Bytes
		if n := len(st.Failed); n > 0 {
			c.fileErrors += int64(n)
			if c.errorsByClass == nil {
				c.errorsByClass = map[string]int64{}
			}
			c.errorsByClass["file"] += int64(n)
			s.lastErr, s.lastErrAt = fmt.Sprintf("%d path(s) not mirrored, first: %v", n, st.Failed[0]), at
		} else {
			s.lastSuccess = at
		}
		secs := took.Seconds()
		for i, ub := range latencyBuckets {
			if secs <= ub {
				c.latency[i]++
				break
			}
		}
		c.latencyCount++
		c.latencySum += secs
	}
	s.mu.Unlock()
	s.changed()
}

// noteError records err as the last error without counting a failed
// push (a guard's refusal: the push itself went through).
func (s *syncStatus) noteError(at time.Time, err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.lastErr, s.lastErrAt = err.Error(), at
	if s.counters.errorsByClass == nil {
		s.counters.errorsByClass = map[string]int64{}
	}
	s.counters.errorsByClass[errorClass(err)]++
	s.mu.Unlock()
	s.changed()
}

// snapshot returns the control socket's view of the target.
func (s *syncStatus) snapshot() control.Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := control.Target{
		Sync: s.name, Source: s.source, Target: s.target, State: s.state.String(),
		Queue: s.queued, InFlight: s.activeTotal, LastError: s.lastErr,
		BytesPushed: s.counters.bytes, FilesPushed: s.counters.files,
		Deleted: s.counters.deleted, Renamed: s.counters.renamed,
		Batches: s.counters.batches + s.counters.fullSyncs, Failures: s.counters.failures,
		Events: s.counters.events, Watches: s.watches, Overflows: s.counters.overflows,
	}
	if s.full {
		t.InFlight++
	}
	for _, f := range s.failing {
		t.FailingPaths = append(t.FailingPaths, control.FailingPath{
			Path: f.path, Failures: f.failures, LastError: f.lastErr, NextAttempt: f.next})
	}
	if s.state == stateRetrying && !s.retryAt.IsZero() {
		t.NextAttempt = timePtr(s.retryAt)
	}
	if !s.lastSuccess.IsZero() {
		t.LastSuccess = timePtr(s.lastSuccess)
	}
	if !s.lastErrAt.IsZero() && s.lastErr != "" {
		t.LastErrorAt = timePtr(s.lastErrAt)
	}
	return t
}

func timePtr(t time.Time) *time.Time { return &t }

func (s *syncStatus) changed() { s.board.changed() }

// report appends the sync's block in lsyncd's layout (StatusFile.write,
// Sync.statusReport): "SyncN source=DIR/", "There are N delays", one line
// per delay with its state padded to 7 characters, then the patterns.
// gsync adds the target, the push state and the excludes, which lsyncd
// 2.2 forgets to list.
func (s *syncStatus) report(b *bytes.Buffer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(b, "%s source=%s/\n", s.name, strings.TrimSuffix(s.source, "/"))
	fmt.Fprintf(b, "target=%s\n", s.target)
	n := s.queued + s.activeTotal
	if s.full {
		n++
	}
	fmt.Fprintf(b, "There are %d delays\n", n)
	if s.full {
		fmt.Fprintf(b, "%-7s%s\n", "active", "Full /")
	}
	for _, it := range s.active {
		fmt.Fprintf(b, "%-7s%s\n", "active", statusItem(it))
	}
	if more := s.activeTotal - len(s.active); more > 0 {
		fmt.Fprintf(b, "%-7s(%d more)\n", "active", more)
	}
	for _, it := range s.waiting {
		fmt.Fprintf(b, "%-7s%s\n", "wait", statusItem(it))
	}
	if more := s.queued - len(s.waiting); more > 0 {
		fmt.Fprintf(b, "%-7s(%d more)\n", "wait", more)
	}
	if s.inFlight {
		b.WriteString("Push in flight\n")
	}
	if s.state == stateFailed {
		b.WriteString("Target failed: stopped after a fatal error (see the last error); the other targets go on\n")
	}
	for _, f := range s.failing {
		fmt.Fprintf(b, "Failing path /%s: %d failure(s), next attempt at %s: %s\n",
			strings.TrimPrefix(f.path, "/"), f.failures, f.next.Format(time.ANSIC), oneLine(f.lastErr))
	}
	if !s.lastPush.IsZero() {
		fmt.Fprintf(b, "Last push finished at %s", s.lastPush.Format(time.ANSIC))
		if s.lastErr != "" {
			fmt.Fprintf(b, " with error: %s", oneLine(s.lastErr))
		}
		b.WriteString("\n")
	}
	b.WriteString("Excluding:\n")
	if len(s.excludes) == 0 {
		b.WriteString("  nothing.\n")
	}
	for _, p := range s.excludes {
		b.WriteString(p + "\n")
	}
	b.WriteString("Filtering:\n")
	if len(s.filters) == 0 {
		b.WriteString("  nothing.\n")
	}
	for _, p := range s.filters {
		b.WriteString(p + "\n")
	}
	b.WriteString("\n\n")
}

// statusItem prints an item like lsyncd prints a delay: "Op /path", a
// directory with a trailing slash, a move as "Move /a -> /b".
func statusItem(it delay.Item) string {
	p := func(rel string) string {
		s := "/" + strings.TrimPrefix(rel, "/")
		if it.IsDir && !strings.HasSuffix(s, "/") {
			s += "/"
		}
		return s
	}
	if it.Op == delay.Move {
		return "Move " + p(it.From) + " -> " + p(it.Path)
	}
	return it.Op.String() + " " + p(it.Path)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// statusWriter rewrites the status file when a sync's state changed, at
// most once per interval (0: on every change), like lsyncd's
// statusInterval. Nothing is written while nothing changes.
type statusWriter struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	syncs    []*syncStatus
	kick     <-chan struct{}
	now      func() time.Time
}

// newStatusWriter returns a writer of path for the targets on b.
func newStatusWriter(path string, interval time.Duration, log *slog.Logger, b *board) *statusWriter {
	return &statusWriter{path: path, interval: max(interval, 0), log: log, syncs: b.all(), kick: b.subscribe(), now: time.Now}
}

// start runs the writer in a goroutine until stop is called; stop writes
// the last state if it was not written yet, and waits for the goroutine.
func (w *statusWriter) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func (w *statusWriter) run(ctx context.Context) {
	var last time.Time
	var timer *time.Timer
	var timerC <-chan time.Time
	pending := false
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			if pending {
				w.writeLogged()
			}
			return
		case <-w.kick:
			pending = true
		case <-timerC:
			timer, timerC = nil, nil
		}
		if !pending || timerC != nil {
			continue
		}
		if wait := w.interval - w.now().Sub(last); !last.IsZero() && wait > 0 {
			timer = time.NewTimer(wait)
			timerC = timer.C
			continue
		}
		w.writeLogged()
		last, pending = w.now(), false
	}
}

func (w *statusWriter) writeLogged() {
	if err := w.write(); err != nil {
		w.log.Error("status file not written", "err", err)
	}
}

// render returns the status report of every sync.
func (w *statusWriter) render() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Lsyncd status report at %s\n\n", w.now().Format(time.ANSIC))
	total := 0
	for _, s := range w.syncs {
		s.report(&b)
		s.mu.Lock()
		total += s.watches
		s.mu.Unlock()
	}
	fmt.Fprintf(&b, "Inotify watching %d directories\n", total)
	for i, s := range w.syncs {
		s.mu.Lock()
		fmt.Fprintf(&b, "  %d: %s/ (%s, %d directories)\n", i+1, strings.TrimSuffix(s.source, "/"), s.name, s.watches)
		s.mu.Unlock()
	}
	return b.Bytes()
}

// write replaces the status file atomically: a temporary file in the same
// directory, mode 0644, renamed over it.
func (w *statusWriter) write() error {
	f, err := os.CreateTemp(filepath.Dir(w.path), "."+filepath.Base(w.path)+".*")
	if err != nil {
		return fmt.Errorf("create status file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(w.render())
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, w.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write status file %s: %w", w.path, err)
	}
	return nil
}
