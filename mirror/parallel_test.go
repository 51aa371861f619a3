package mirror

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/watcher"
)

// fakePool opens a new fakeTarget on every Open: the target and the
// extra instances of Target.MaxProcesses.
type fakePool struct {
	events bool // the instances run events (EventTarget)
	mu     sync.Mutex
	insts  []*fakeTarget
}

func (p *fakePool) open(_ *filter.Set, opts transport.Options) (transport.Target, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := &fakeTarget{name: "pool", opts: opts}
	p.insts = append(p.insts, f)
	if p.events {
		return eventTarget{f}, "", nil
	}
	return f, "", nil
}

func (p *fakePool) inst(i int) *fakeTarget {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.insts[i]
}

func (p *fakePool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.insts)
}

// blockAll makes every instance's next pushes wait for ch.
func (p *fakePool) blockAll(ch chan struct{}) {
	for i := range p.len() {
		p.inst(i).set(func(f *fakeTarget) { f.block = ch })
	}
}

// hold puts a batch (of the path "z") in flight, blocked until the
// returned function is called, so that the events sent meanwhile are
// collated into the next batch.
func hold(t *testing.T, e *loopEnv, p *fakePool, st *Status) (release func()) {
	t.Helper()
	ch := make(chan struct{})
	p.blockAll(ch)
	e.event(change.Create, "z")
	testutil.Eventually(t, "the holding push in flight", func() bool { return st.Snapshot().Pushes == 1 })
	return func() { close(ch) }
}

// pushed returns every path pushed on any instance, and how many
// instances were pushed on.
func (p *fakePool) pushed() (paths []string, used int) {
	p.mu.Lock()
	insts := slices.Clone(p.insts)
	p.mu.Unlock()
	for _, f := range insts {
		got := read(f, func(f *fakeTarget) []string { return slices.Clone(f.pushed) })
		paths = append(paths, got...)
		if read(f, func(f *fakeTarget) int { return f.pushes }) > 0 {
			used++
		}
	}
	slices.Sort(paths)
	return paths, used
}

// newPoolLoop starts a loop (delay 0) to one target of the pool with
// maxProcesses n, and waits for its startup full sync.
func newPoolLoop(t *testing.T, p *fakePool, n int) (*loopEnv, *Status) {
	t.Helper()
	w, clock, buf := newFakeWatcher(), newFakeClock(), &testutil.Buffer{}
	src := t.TempDir()
	testutil.WriteRel(t, src, "f0")
	st := NewStatus("pool", nil)
	cfg := Config{Source: src, MaxDelays: 1000, Clock: clock,
		Log:     slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Watch:   func(context.Context, watcher.Options) (watcher.Watcher, error) { return w, nil },
		Targets: []Target{{Spec: "pool", Open: p.open, Status: st, MaxProcesses: n}}}
	e := &loopEnv{src: src, w: w, clock: clock, status: []*Status{st}, log: buf, done: make(chan error, 1), finished: make(chan struct{})}
	e.m = New(cfg)
	go func() {
		e.done <- e.m.Run(context.Background())
		close(e.finished)
	}()
	t.Cleanup(func() {
		e.m.Stop()
		e.m.Stop() // the second cancels the pushes still blocked
		<-e.finished
	})
	testutil.Eventually(t, "startup full sync", func() bool { return st.Snapshot().Started })
	return e, st
}

// TestMaxProcessesPushesAtOnce: with maxProcesses 3, a batch of four
// disjoint sets of changes goes out as three pushes at once, on three
// instances of the target (each opened with the target's Open), counted
// in the status; the next batch waits until all three returned.
func TestMaxProcessesPushesAtOnce(t *testing.T) {
	t.Parallel()
	p := &fakePool{}
	e, st := newPoolLoop(t, p, 3)
	if n := p.len(); n != 3 {
		t.Fatalf("%d instances opened, want 3", n)
	}
	unhold := hold(t, e, p, st)
	for _, ev := range []watcher.Event{{Op: change.Create, Path: "a", IsDir: true}, {Op: change.Create, Path: "a/1"},
		{Op: change.Create, Path: "b/1"}, {Op: change.Create, Path: "c/1"}, {Op: change.Create, Path: "c/2"}} {
		e.w.events <- ev
	}
	release := make(chan struct{})
	p.blockAll(release)
	unhold()
	testutil.Eventually(t, "three pushes in flight", func() bool { return st.Snapshot().Pushes == 3 })
	e.event(change.Modify, "a/1")
	never(t, "a push while the groups of a batch are in flight", func() bool { return st.Snapshot().Pushes > 3 })
	close(release)
	testutil.Eventually(t, "every change pushed", func() bool {
		got, _ := p.pushed()
		return slices.Equal(got, []string{"a", "a/1", "a/1", "b/1", "c/1", "c/2", "z"})
	})
	testutil.Eventually(t, "no push in flight", func() bool { return st.Snapshot().Pushes == 0 })
	s := st.Snapshot()
	if s.PeakPushes != 3 || s.Processes != 3 {
		t.Errorf("peak pushes %d, processes %d; want 3 and 3", s.PeakPushes, s.Processes)
	}
	if _, used := p.pushed(); used != 3 {
		t.Errorf("%d instances pushed on, want 3", used)
	}
}

// TestMaxProcessesKeepsDependentOrder: a rename of a directory whose
// creation is still being pushed waits for that push, and goes out as
// Delete + Create after it (the collator splits a move that touches the
// batch in flight), never beside it.
func TestMaxProcessesKeepsDependentOrder(t *testing.T) {
	t.Parallel()
	p := &fakePool{}
	e, st := newPoolLoop(t, p, 4)
	unhold := hold(t, e, p, st)
	e.w.events <- watcher.Event{Op: change.Create, Path: "d", IsDir: true}
	e.w.events <- watcher.Event{Op: change.Create, Path: "d/f"}
	e.w.events <- watcher.Event{Op: change.Create, Path: "x"}
	release := make(chan struct{})
	p.blockAll(release)
	unhold()
	testutil.Eventually(t, "the batch of d, d/f and x in flight", func() bool { return st.Snapshot().Pushes == 2 })
	e.w.events <- watcher.Event{Op: change.Move, From: "d", Path: "e", IsDir: true}
	never(t, "the rename pushed beside the creation", func() bool { return st.Snapshot().Pushes > 2 })
	close(release)
	testutil.Eventually(t, "the rename pushed", func() bool {
		got, _ := p.pushed()
		return slices.Contains(got, "e")
	})
	// The instance that created d (group 0, the largest) had it before
	// d was deleted (the move became Delete d + Create e).
	first := read(p.inst(0), func(f *fakeTarget) []string { return slices.Clone(f.pushed) })
	if !slices.Equal(first[:min(len(first), 3)], []string{"z", "d", "d/f"}) {
		t.Fatalf("first instance pushed %q, want z, d and d/f first", first)
	}
}

// TestMaxProcessesRetriesFailedGroup: when one group of a batch fails as
// a whole, only its changes are retried (after the backoff); the other
// group's changes are done and not pushed again.
func TestMaxProcessesRetriesFailedGroup(t *testing.T) {
	t.Parallel()
	p := &fakePool{}
	e, st := newPoolLoop(t, p, 2)
	unhold := hold(t, e, p, st)
	e.event(change.Create, "a")
	e.event(change.Create, "b")
	p.blockAll(nil)
	bad := p.inst(1)
	bad.set(func(f *fakeTarget) { f.pushErr = transport.Transient(errors.New("connection reset")) })
	unhold()
	testutil.Eventually(t, "the failed group counted", func() bool { return st.Snapshot().Counters.Failures == 1 })
	if !p.inst(0).got("a") {
		t.Fatalf("group a not pushed on the first instance")
	}
	bad.set(func(f *fakeTarget) { f.pushErr = nil })
	e.clock.Advance(backoffMin)
	testutil.Eventually(t, "b retried", func() bool {
		got, _ := p.pushed()
		return slices.Contains(got, "b")
	})
	never(t, "a pushed again", func() bool {
		got, _ := p.pushed()
		return !slices.Equal(got, []string{"a", "b", "z"})
	})
}

// eventTarget is a fakeTarget that runs events (EventTarget).
type eventTarget struct{ *fakeTarget }

func (eventTarget) EventBased() bool { return true }

// TestMaxProcessesForEvents: a target that runs events (lsyncd's
// actions) runs a batch's disjoint groups at once too, as lsyncd runs up
// to maxProcesses actions on delays that do not block each other; the
// events of one group keep their order.
func TestMaxProcessesForEvents(t *testing.T) {
	t.Parallel()
	p := &fakePool{events: true}
	e, st := newPoolLoop(t, p, 3)
	if n := p.len(); n != 3 {
		t.Fatalf("%d instances opened, want 3", n)
	}
	unhold := hold(t, e, p, st)
	for _, ev := range []watcher.Event{{Op: change.Create, Path: "a", IsDir: true}, {Op: change.Create, Path: "a/1"},
		{Op: change.Create, Path: "b"}, {Op: change.Create, Path: "c"}} {
		e.w.events <- ev
	}
	release := make(chan struct{})
	p.blockAll(release)
	unhold()
	testutil.Eventually(t, "three pushes in flight", func() bool { return st.Snapshot().Pushes == 3 })
	close(release)
	testutil.Eventually(t, "every event pushed", func() bool {
		got, _ := p.pushed()
		return slices.Equal(got, []string{"a", "a/1", "b", "c", "z"})
	})
	for i := range p.len() {
		got := read(p.inst(i), func(f *fakeTarget) []string { return slices.Clone(f.pushed) })
		if i := slices.Index(got, "a"); i >= 0 && (i+1 >= len(got) || got[i+1] != "a/1") {
			t.Errorf("instance pushed %q: a/1 not right after a", got)
		}
	}
}
