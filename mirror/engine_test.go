package mirror

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/watcher"
)

// fakeTarget is a transport.Target that records what it was asked to do
// and fails as told.
type fakeTarget struct {
	name string

	mu        sync.Mutex
	pushed    []string         // paths of the pushes, in order
	pushes    int              // calls of Push
	fulls     int              // full syncs
	fullErr   error            // every FullSync fails with it
	pushErr   error            // every Push fails with it
	failPaths map[string]error // these paths fail alone (Stats.Failed)
	block     chan struct{}    // non-nil: Push waits until it is closed
	fullBlock chan struct{}    // non-nil: FullSync reports progress, then waits until it is closed
	opts      transport.Options
	closed    bool
}

func (f *fakeTarget) FullSync(ctx context.Context) (transport.Stats, error) {
	f.mu.Lock()
	block, opts := f.fullBlock, f.opts
	f.mu.Unlock()
	if block != nil {
		opts.Listed(5)
		opts.Progress("a", 100)
		select {
		case <-block:
		case <-ctx.Done():
			return transport.Stats{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fulls++
	return transport.Stats{}, f.fullErr
}

func (f *fakeTarget) Push(ctx context.Context, changes []transport.Change) (transport.Stats, error) {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return transport.Stats{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes++
	if f.pushErr != nil {
		return transport.Stats{}, f.pushErr
	}
	var st transport.Stats
	for _, c := range changes {
		f.pushed = append(f.pushed, c.Path)
		if err, ok := f.failPaths[c.Path]; ok {
			st.Failed = append(st.Failed, transport.FileError{Path: c.Path, Err: err})
			continue
		}
		st.Files++
	}
	return st, nil
}

func (f *fakeTarget) String() string { return f.name }

func (f *fakeTarget) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// got reports whether path was pushed.
func (f *fakeTarget) got(path string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.pushed, path)
}

// read returns fn's result under the lock.
func read[T any](f *fakeTarget, fn func(f *fakeTarget) T) T {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fn(f)
}

func (f *fakeTarget) set(fn func(f *fakeTarget)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeTarget) open(_ *filter.Set, opts transport.Options) (transport.Target, string, error) {
	f.mu.Lock()
	f.opts = opts
	f.mu.Unlock()
	return f, "", nil
}

// fakeWatcher is a watcher.Watcher the test feeds.
type fakeWatcher struct {
	events chan watcher.Event
	errs   chan error
}

func newFakeWatcher() *fakeWatcher {
	return &fakeWatcher{events: make(chan watcher.Event, 100), errs: make(chan error, 10)}
}

func (w *fakeWatcher) Events() <-chan watcher.Event { return w.events }
func (w *fakeWatcher) Errors() <-chan error         { return w.errs }
func (w *fakeWatcher) Watches() int                 { return 1 }
func (w *fakeWatcher) Close() error                 { return nil }

// fakeClock is a Clock that moves only when told; its timers fire when
// it passes their deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	c       chan time.Time
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		t.stopped = true
	} else {
		c.timers = append(c.timers, t)
	}
	return t.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the clock by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			t.c <- c.now
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// loopEnv is a mirror of a fresh source to fake targets, run with a fake
// watcher and a fake clock.
type loopEnv struct {
	m        *Mirror
	src      string
	w        *fakeWatcher
	clock    *fakeClock
	status   []*Status
	log      *testutil.Buffer
	done     chan error
	finished chan struct{}
}

// newLoop starts the loop of cfg (delay 0 unless set) to the targets,
// after setup (the source holds f0 unless empty is set: an empty
// source is never fully synced).
func newLoop(t *testing.T, cfg Config, empty bool, targets ...*fakeTarget) *loopEnv {
	t.Helper()
	if cfg.Source == "" {
		cfg.Source = t.TempDir()
	}
	e := &loopEnv{src: cfg.Source, w: newFakeWatcher(), clock: newFakeClock(), log: &testutil.Buffer{},
		done: make(chan error, 1), finished: make(chan struct{})}
	if !empty {
		testutil.WriteRel(t, e.src, "f0")
	}
	if cfg.MaxDelays == 0 {
		cfg.MaxDelays = 1000
	}
	cfg.Clock = e.clock
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.Watch = func(context.Context, watcher.Options) (watcher.Watcher, error) { return e.w, nil }
	for _, f := range targets {
		st := NewStatus(f.name, nil)
		e.status = append(e.status, st)
		cfg.Targets = append(cfg.Targets, Target{Spec: f.name, Open: f.open, Status: st})
	}
	e.m = New(cfg)
	go func() {
		e.done <- e.m.Run(context.Background())
		close(e.finished)
	}()
	t.Cleanup(func() {
		for _, f := range targets {
			f.set(func(f *fakeTarget) {
				if f.block != nil {
					select {
					case <-f.block:
					default:
						close(f.block)
					}
				}
			})
		}
		e.m.Stop()
		select {
		case <-e.finished:
		case <-time.After(30 * time.Second):
			t.Error("the loop did not stop")
		}
	})
	return e
}

// event sends a watcher event for rel.
func (e *loopEnv) event(op change.Op, rel string) {
	e.w.events <- watcher.Event{Op: op, Path: rel}
}

// state returns the state target i publishes.
func (e *loopEnv) state(i int) State { return e.status[i].Snapshot().State }

// never checks that ok does not come to hold within a short while.
func never(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		if ok() {
			t.Fatalf("unexpectedly: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFatalTargetStopsAlone: a fatal error on one target stops that
// target only (state failed, connections closed); the other keeps
// mirroring; the loop ends when no target is left.
func TestFatalTargetStopsAlone(t *testing.T) {
	bad := &fakeTarget{name: "bad", pushErr: transport.Fatal(errors.New("module refused the transfer"))}
	good := &fakeTarget{name: "good"}
	e := newLoop(t, Config{}, false, bad, good)
	testutil.Eventually(t, "startup full syncs", func() bool {
		return read(bad, func(f *fakeTarget) int { return f.fulls }) == 1 && read(good, func(f *fakeTarget) int { return f.fulls }) == 1
	})
	e.event(change.Create, "f1")
	testutil.Eventually(t, "bad failed", func() bool { return e.state(0) == StateFailed })
	e.event(change.Create, "f2")
	testutil.Eventually(t, "f2 on the good target", func() bool { return good.got("f2") })
	if st := e.state(1); st == StateFailed {
		t.Errorf("good target state %v", st)
	}
	if !read(bad, func(f *fakeTarget) bool { return f.closed }) {
		t.Error("the failed target was not closed")
	}
	if n := read(bad, func(f *fakeTarget) int { return f.pushes }); n != 1 {
		t.Errorf("the failed target was pushed to %d times, want 1 (a fatal error is not retried)", n)
	}
	select {
	case err := <-e.done:
		t.Fatalf("the loop ended with a target left: %v", err)
	default:
	}
	// The last target fails too: now the loop ends, with an error.
	good.set(func(f *fakeTarget) { f.pushErr = transport.Fatal(errors.New("gone")) })
	e.event(change.Create, "f3")
	select {
	case err := <-e.done:
		if err == nil || !strings.Contains(err.Error(), "every target") {
			t.Errorf("loop ended with %v, want every target failed", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the loop did not end when every target had failed")
	}
}

// TestTransientRetriesWithBackoff: a push that fails transiently is
// retried after the target's backoff (1 s, then 2 s: capped exponential),
// not before; a push that goes through resets the backoff.
func TestTransientRetriesWithBackoff(t *testing.T) {
	f := &fakeTarget{name: "t", pushErr: transport.Transient(errors.New("connection refused"))}
	e := newLoop(t, Config{}, false, f)
	pushes := func() int { return read(f, func(f *fakeTarget) int { return f.pushes }) }
	testutil.Eventually(t, "startup full sync", func() bool { return e.status[0].Snapshot().Started })
	e.event(change.Create, "a")
	testutil.Eventually(t, "first attempt", func() bool { return pushes() == 1 })
	testutil.Eventually(t, "retrying", func() bool { return e.state(0) == StateRetrying })
	if got, want := e.status[0].Snapshot().RetryAt, e.clock.Now().Add(backoffMin); !got.Equal(want) {
		t.Errorf("retry at %v, want %v", got, want)
	}
	e.clock.Advance(backoffMin - time.Millisecond)
	never(t, "a retry before the backoff passed", func() bool { return pushes() > 1 })
	e.clock.Advance(time.Millisecond)
	testutil.Eventually(t, "second attempt after 1 s", func() bool { return pushes() == 2 })
	testutil.Eventually(t, "retrying again", func() bool { return e.state(0) == StateRetrying })
	e.clock.Advance(backoffMin)
	never(t, "the second retry after 1 s (want 2 s)", func() bool { return pushes() > 2 })
	f.set(func(f *fakeTarget) { f.pushErr = nil })
	e.clock.Advance(backoffMin)
	testutil.Eventually(t, "third attempt after 2 s", func() bool { return f.got("a") })
	testutil.Eventually(t, "idle", func() bool { return e.state(0) == StateIdle })
	// The backoff starts again from its minimum.
	f.set(func(f *fakeTarget) { f.pushErr = transport.Transient(errors.New("reset")) })
	e.event(change.Create, "b")
	testutil.Eventually(t, "retrying on b", func() bool { return e.state(0) == StateRetrying })
	if got, want := e.status[0].Snapshot().RetryAt, e.clock.Now().Add(backoffMin); !got.Equal(want) {
		t.Errorf("after a good push the retry is at %v, want %v (backoff reset)", got, want)
	}
}

// TestStartupFailure: without Insist a failed startup full sync ends the
// mirror with a StartupError; with Insist it is retried after a backoff
// and the mirror goes on.
func TestStartupFailure(t *testing.T) {
	t.Run("without insist", func(t *testing.T) {
		f := &fakeTarget{name: "t", fullErr: transport.Transient(errors.New("connection refused"))}
		e := newLoop(t, Config{}, false, f)
		select {
		case err := <-e.done:
			var se StartupError
			if !errors.As(err, &se) {
				t.Errorf("Run = %v, want a StartupError", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the mirror did not end")
		}
	})
	t.Run("insist", func(t *testing.T) {
		f := &fakeTarget{name: "t", fullErr: transport.Transient(errors.New("connection refused"))}
		e := newLoop(t, Config{Insist: true}, false, f)
		fulls := func() int { return read(f, func(f *fakeTarget) int { return f.fulls }) }
		testutil.Eventually(t, "retrying", func() bool { return e.state(0) == StateRetrying })
		never(t, "a retry before the backoff", func() bool { return fulls() > 1 })
		f.set(func(f *fakeTarget) { f.fullErr = nil })
		e.clock.Advance(backoffMin)
		testutil.Eventually(t, "the startup sync retried", func() bool { return e.status[0].Snapshot().Started })
		select {
		case err := <-e.done:
			t.Fatalf("the mirror ended: %v", err)
		default:
		}
	})
}

// TestSlowTargetDoesNotDelayOthers: a target whose push hangs does not
// hold back the other target's batches.
func TestSlowTargetDoesNotDelayOthers(t *testing.T) {
	slow := &fakeTarget{name: "slow", block: make(chan struct{})}
	fast := &fakeTarget{name: "fast"}
	e := newLoop(t, Config{NoInit: true}, false, slow, fast)
	e.event(change.Create, "a")
	testutil.Eventually(t, "a on the fast target", func() bool { return fast.got("a") })
	e.event(change.Create, "b")
	testutil.Eventually(t, "b on the fast target", func() bool { return fast.got("b") })
	if e.state(0) != StatePushing {
		t.Errorf("slow target state %v, want pushing", e.state(0))
	}
	close(slow.block)
	testutil.Eventually(t, "a and b on the slow target", func() bool { return slow.got("a") && slow.got("b") })
}

// TestEmptySourceGuard: an empty source is never fully synced (startup,
// FullSync, overflow), but deletions reported one by one still go out.
func TestEmptySourceGuard(t *testing.T) {
	f := &fakeTarget{name: "t"}
	e := newLoop(t, Config{Delete: transport.DeleteAlways}, true, f)
	testutil.Eventually(t, "the startup sync held back", func() bool {
		return strings.Contains(e.log.String(), "full sync held back")
	})
	e.m.FullSync()
	e.w.events <- watcher.Event{Op: change.Overflow}
	e.event(change.Delete, "gone")
	testutil.Eventually(t, "the deletion pushed", func() bool { return f.got("gone") })
	if n := read(f, func(f *fakeTarget) int { return f.fulls }); n != 0 {
		t.Errorf("%d full syncs of an empty source reached the target", n)
	}
	if !e.status[0].Snapshot().Started {
		t.Error("a held-back startup sync leaves the target not ready")
	}
	// AllowEmptySource lifts it.
	f2 := &fakeTarget{name: "t2"}
	e2 := newLoop(t, Config{Delete: transport.DeleteAlways, AllowEmptySource: true}, true, f2)
	testutil.Eventually(t, "the startup sync with AllowEmptySource", func() bool { return read(f2, func(f *fakeTarget) int { return f.fulls }) == 1 })
	_ = e2
}

// TestFullSyncRequests: FullSync and an inotify overflow each queue a
// full sync of every running target.
func TestFullSyncRequests(t *testing.T) {
	f := &fakeTarget{name: "t"}
	e := newLoop(t, Config{}, false, f)
	fulls := func() int { return read(f, func(f *fakeTarget) int { return f.fulls }) }
	testutil.Eventually(t, "startup", func() bool { return fulls() == 1 })
	e.m.FullSync()
	testutil.Eventually(t, "requested full sync", func() bool { return fulls() == 2 })
	e.w.events <- watcher.Event{Op: change.Overflow}
	testutil.Eventually(t, "overflow full sync", func() bool { return fulls() == 3 })
	if n := e.status[0].Snapshot().Counters.Overflows; n != 1 {
		t.Errorf("overflows = %d, want 1", n)
	}
}

// TestStopLetsInFlightFinish: Stop waits for the push in flight (it is
// not canceled) and sends nothing new; the queued rest is handed over.
func TestStopLetsInFlightFinish(t *testing.T) {
	f := &fakeTarget{name: "t", block: make(chan struct{})}
	h := NewHandover()
	e := newLoop(t, Config{NoInit: true, Handover: h}, false, f)
	e.event(change.Create, "a")
	testutil.Eventually(t, "a in flight", func() bool { return e.state(0) == StatePushing })
	e.event(change.Create, "b")
	go e.m.Stop()
	never(t, "Run returned with a push in flight", func() bool {
		select {
		case <-e.finished:
			return true
		default:
			return false
		}
	})
	close(f.block)
	select {
	case err := <-e.done:
		if err != nil {
			t.Errorf("Run = %v after Stop", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the push in flight ended")
	}
	if !f.got("a") || f.got("b") {
		t.Errorf("pushed %q, want a only", f.pushed)
	}
	full, items := h.take(e.src)
	if full || len(items) != 1 || items[0].Path != "b" {
		t.Errorf("handed over %t, %+v; want b", full, items)
	}
}

// TestReloadHandOver: what one mirror had queued when stopped (changes,
// a full sync, failing paths waiting for their backoff) is pushed by the
// next mirror of the same source, even without a startup sync.
func TestReloadHandOver(t *testing.T) {
	f := &fakeTarget{name: "t", failPaths: map[string]error{"bad": errors.New("permission denied")}}
	h := NewHandover()
	e := newLoop(t, Config{NoInit: true, Handover: h, Delay: time.Hour}, false, f)
	testutil.WriteRel(t, e.src, "bad")
	e.event(change.Create, "bad")
	testutil.Eventually(t, "bad queued", func() bool { return e.status[0].Snapshot().Queued == 1 })
	e.clock.Advance(time.Hour)
	testutil.Eventually(t, "bad failing", func() bool { return len(e.status[0].Snapshot().Failing) == 1 })
	e.event(change.Create, "queued")
	e.m.Stop()
	<-e.finished

	f2 := &fakeTarget{name: "t"}
	e2 := newLoopAt(t, e.src, Config{NoInit: true, Handover: h}, f2)
	testutil.Eventually(t, "queued and bad pushed by the next mirror", func() bool { return f2.got("queued") && f2.got("bad") })
	_ = e2
}

// newLoopAt is newLoop on an existing source directory.
func newLoopAt(t *testing.T, src string, cfg Config, targets ...*fakeTarget) *loopEnv {
	t.Helper()
	cfg.Source = src
	return newLoop(t, cfg, true, targets...)
}

// TestFailingPathBacksOffAlone: a path that fails alone is backed off
// on its own; the target's next batch is not delayed, the path is
// reported as failing and retried after its backoff, which doubles.
func TestFailingPathBacksOffAlone(t *testing.T) {
	f := &fakeTarget{name: "t", failPaths: map[string]error{"bad": errors.New("permission denied")}}
	e := newLoop(t, Config{NoInit: true}, false, f)
	testutil.WriteRel(t, e.src, "bad")
	e.event(change.Create, "bad")
	e.event(change.Create, "good")
	testutil.Eventually(t, "good pushed", func() bool { return f.got("good") })
	testutil.Eventually(t, "bad failing", func() bool { return len(e.status[0].Snapshot().Failing) == 1 })
	if st := e.status[0].Snapshot(); !st.RetryAt.IsZero() || st.State != StateIdle {
		t.Errorf("the target waits (%v, until %v) for one failing path", st.State, st.RetryAt)
	}
	fp := e.status[0].Snapshot().Failing[0]
	if fp.Path != "bad" || fp.Failures != 1 || !fp.Next.Equal(e.clock.Now().Add(backoffMin)) {
		t.Errorf("failing paths = %+v, want bad once, next at +%v", fp, backoffMin)
	}
	count := func() int {
		return read(f, func(f *fakeTarget) int {
			n := 0
			for _, p := range f.pushed {
				if p == "bad" {
					n++
				}
			}
			return n
		})
	}
	e.event(change.Create, "next")
	testutil.Eventually(t, "next pushed at once", func() bool { return f.got("next") })
	if n := count(); n != 1 {
		t.Errorf("bad pushed %d times before its backoff passed", n)
	}
	// Its backoff passed: it is queued again, fails again, backs off
	// twice as long.
	e.clock.Advance(backoffMin)
	testutil.Eventually(t, "bad retried", func() bool { return count() == 2 })
	testutil.Eventually(t, "second failure", func() bool {
		fp := e.status[0].Snapshot().Failing
		return len(fp) == 1 && fp[0].Failures == 2
	})
	if fp := e.status[0].Snapshot().Failing[0]; !fp.Next.Equal(e.clock.Now().Add(2 * backoffMin)) {
		t.Errorf("second backoff ends at %v, want %v", fp.Next, e.clock.Now().Add(2*backoffMin))
	}
	e.clock.Advance(backoffMin)
	never(t, "bad retried after 1 s of a 2 s backoff", func() bool { return count() > 2 })
	// Fixed: the next push that lists it clears it.
	f.set(func(f *fakeTarget) { f.failPaths = nil })
	e.clock.Advance(backoffMin)
	testutil.Eventually(t, "bad cleared", func() bool { return len(e.status[0].Snapshot().Failing) == 0 })
}

// TestRootRetriedAlone: a failure on "." (the root's own attributes) is
// retried as the root alone, not as the whole tree again.
func TestRootRetriedAlone(t *testing.T) {
	m := New(Config{Source: t.TempDir()})
	m.src = m.cfg.Source
	it := m.retryItem(".")
	if it.Recursive || it.Path != "." || !it.IsDir {
		t.Errorf("retryItem(.) = %+v, want the root alone", it)
	}
	ch := toChanges([]delay.Item{it}, transport.DeleteAlways)
	if len(ch) != 1 || ch[0].Recursive {
		t.Errorf("root retry becomes %+v", ch)
	}
	testutil.MustMkdir(t, filepath.Join(m.src, "d"))
	if it := m.retryItem("d"); !it.Recursive {
		t.Errorf("retryItem(d) = %+v: a directory is retried recursively", it)
	}
}

// TestFailingDirSettledOnlyRecursively: a directory whose subtree failed
// (unreadable) is not settled by a push of the directory alone (a chmod
// event): its recursive retry must still come.
func TestFailingDirSettledOnlyRecursively(t *testing.T) {
	b := newPathBackoff(backoffMin, backoffMax)
	now := time.Unix(1_000_000, 0)
	b.failed("closed", errors.New("permission denied"), true, now)
	b.failed("file", errors.New("permission denied"), false, now)
	ok := b.settled([]delay.Item{{Op: change.Attrib, Path: "closed", IsDir: true}, {Op: change.Attrib, Path: "file"}}, nil)
	if !slices.Equal(ok, []string{"file"}) {
		t.Errorf("settled = %q, want [file]", ok)
	}
	ok = b.settled([]delay.Item{{Op: change.Modify, Path: "closed", IsDir: true, Recursive: true}}, nil)
	if !slices.Equal(ok, []string{"closed"}) {
		t.Errorf("settled = %q, want [closed]", ok)
	}
}

func TestToChanges(t *testing.T) {
	items := []delay.Item{
		{Op: change.Move, From: "a", Path: "b", IsDir: true},
		{Op: change.Delete, Path: "c"},
		{Op: change.Create, Path: "d", IsDir: true, Recursive: true},
		{Op: change.Attrib, Path: "e"},
	}
	got := toChanges(items, transport.DeleteAlways)
	want := []transport.Change{
		{Op: change.Move, From: "a", Path: "b", IsDir: true},
		{Op: change.Delete, Path: "c"},
		{Op: change.Create, Path: "d", IsDir: true, Recursive: true},
		{Op: change.Attrib, Path: "e"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Without runtime deletes a move becomes a recursive copy of its destination.
	got = toChanges(items[:1], transport.DeleteStartup)
	if got[0].Op != change.Create || got[0].Path != "b" || got[0].From != "" || !got[0].Recursive {
		t.Errorf("move without deletes = %+v, want a recursive sync of b", got[0])
	}
}

// TestEmptyBatchNotAtInfo: a batch that changed nothing is logged at
// debug level, not info.
func TestEmptyBatchNotAtInfo(t *testing.T) {
	var buf testutil.Buffer
	tr := &targetRun{log: slog.New(slog.NewTextHandler(&buf, nil))}
	logStats(tr, "batch", "ok", transport.Stats{}, 0)
	if buf.String() != "" {
		t.Errorf("empty batch logged at info: %s", buf.String())
	}
	logStats(tr, "batch", "ok", transport.Stats{Files: 1}, 0)
	if !strings.Contains(buf.String(), "msg=\"batch done\"") {
		t.Errorf("batch not logged: %s", buf.String())
	}
}

// TestGroupStartupFailureStopsAll: a mirror whose startup sync fails
// (without Insist) stops the others too, and its error is returned; a
// mirror whose every target failed later ends alone.
func TestGroupStartupFailureStopsAll(t *testing.T) {
	mk := func(f *fakeTarget) Config {
		src := t.TempDir()
		testutil.WriteRel(t, src, "f0")
		w := newFakeWatcher()
		return Config{Source: src, MaxDelays: 10, Clock: newFakeClock(),
			Watch:   func(context.Context, watcher.Options) (watcher.Watcher, error) { return w, nil },
			Targets: []Target{{Spec: f.name, Open: f.open}}}
	}
	bad := &fakeTarget{name: "bad", fullErr: transport.Transient(errors.New("connection refused"))}
	good := &fakeTarget{name: "good"}
	g := NewGroup(nil, mk(good), mk(bad))
	done := make(chan error, 1)
	go func() { done <- g.Run(context.Background()) }()
	select {
	case err := <-done:
		var se StartupError
		if !errors.As(err, &se) {
			t.Errorf("Run = %v, want the StartupError", err)
		}
	case <-time.After(15 * time.Second):
		g.Stop()
		t.Fatal("a failed startup sync did not stop the group")
	}

	// A later fatal error ends its own mirror only.
	dead := &fakeTarget{name: "dead", pushErr: transport.Fatal(errors.New("gone"))}
	live := &fakeTarget{name: "live"}
	cd, cl := mk(dead), mk(live)
	g = NewGroup(nil, cd, cl)
	go func() { done <- g.Run(context.Background()) }()
	testutil.Eventually(t, "startup syncs", func() bool {
		return read(dead, func(f *fakeTarget) int { return f.fulls }) == 1 && read(live, func(f *fakeTarget) int { return f.fulls }) == 1
	})
	wd, _ := cd.Watch(context.Background(), watcher.Options{})
	wd.(*fakeWatcher).events <- watcher.Event{Op: change.Create, Path: "x"}
	select {
	case <-g.Mirrors()[0].Done():
	case <-time.After(15 * time.Second):
		t.Fatal("the mirror whose target failed did not end")
	}
	wl, _ := cl.Watch(context.Background(), watcher.Options{})
	wl.(*fakeWatcher).events <- watcher.Event{Op: change.Create, Path: "y"}
	testutil.Eventually(t, "y on the live mirror", func() bool { return live.got("y") })
	g.Stop()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "every target") {
		t.Errorf("Run = %v, want the dead mirror's error", err)
	}
}

// TestLogAttributesOnce: each log line carries sync and target once,
// also when a target has a sync name of its own (merged lsyncd syncs).
func TestLogAttributesOnce(t *testing.T) {
	src := t.TempDir()
	testutil.WriteRel(t, src, "f0")
	var buf testutil.Buffer
	a, b := &fakeTarget{name: "a"}, &fakeTarget{name: "b"}
	m := New(Config{Name: "S", Source: src, MaxDelays: 10, Once: true, Log: slog.New(slog.NewTextHandler(&buf, nil)),
		Targets: []Target{{Spec: "a", Name: "S1", Open: a.open}, {Spec: "b", Open: b.open}}})
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("log:\n%s", buf.String())
	}
	for _, l := range lines {
		if strings.Count(l, " sync=") != 1 || strings.Count(l, " target=") != 1 {
			t.Errorf("want sync and target once: %s", l)
		}
	}
	if !strings.Contains(buf.String(), "sync=S1 target=a") || !strings.Contains(buf.String(), "sync=S target=b") {
		t.Errorf("wrong sync names:\n%s", buf.String())
	}
}
