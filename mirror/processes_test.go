package mirror

import (
	"context"
	"fmt"
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

// gauge counts the pushes in flight across targets, and their peak.
type gauge struct {
	mu        sync.Mutex
	cur, peak int
	fulls     int // full syncs done
}

func (g *gauge) enter() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cur++
	g.peak = max(g.peak, g.cur)
}

func (g *gauge) exit(full bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cur--
	if full {
		g.fulls++
	}
}

func (g *gauge) get() (cur, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur, g.peak
}

// gaugeTarget is a fakeTarget whose pushes the gauge counts.
type gaugeTarget struct {
	*fakeTarget
	g *gauge
}

func (t gaugeTarget) FullSync(ctx context.Context) (transport.Stats, error) {
	t.g.enter()
	defer t.g.exit(true)
	return t.fakeTarget.FullSync(ctx)
}

func (t gaugeTarget) Push(ctx context.Context, changes []transport.Change) (transport.Stats, error) {
	t.g.enter()
	defer t.g.exit(false)
	return t.fakeTarget.Push(ctx, changes)
}

// gaugedSync is one mirror of a test with a shared process cap: its
// instances (a fakePool) count their pushes in g.
type gaugedSync struct {
	pool *fakePool
	w    *fakeWatcher
	st   *Status
	m    *Mirror
}

// startGauged starts a mirror (delay 0) with maxProcesses n per target
// and the shared cap procs, its pushes counted in g, and waits for its
// startup full sync.
func startGauged(t *testing.T, name string, n int, procs *Processes, g *gauge, clock *fakeClock) *gaugedSync {
	t.Helper()
	s := &gaugedSync{pool: &fakePool{}, w: newFakeWatcher(), st: NewStatus(name, nil)}
	open := func(rules *filter.Set, opts transport.Options) (transport.Target, string, error) {
		f, _, err := s.pool.open(rules, opts)
		return gaugeTarget{f.(*fakeTarget), g}, "", err
	}
	src := t.TempDir()
	testutil.WriteRel(t, src, "f0")
	s.m = New(Config{Name: name, Source: src, MaxDelays: 1000, Clock: clock, Processes: procs,
		Log:     slog.New(slog.DiscardHandler),
		Watch:   func(context.Context, watcher.Options) (watcher.Watcher, error) { return s.w, nil },
		Targets: []Target{{Spec: name, Open: open, Status: s.st, MaxProcesses: n}}})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if err := s.m.Run(context.Background()); err != nil {
			t.Errorf("sync %s: %v", name, err)
		}
	}()
	t.Cleanup(func() {
		s.m.Stop()
		s.m.Stop()
		<-finished
	})
	testutil.Eventually(t, "startup full sync of "+name, func() bool { return s.st.Snapshot().Started })
	return s
}

// block makes every instance of s wait for ch in its next pushes.
func (s *gaugedSync) block(ch chan struct{}) { s.pool.blockAll(ch) }

// TestProcessesCapAcrossSyncs: settings{ maxProcesses } is one cap over
// every sync of a config (lsyncd.lua: runner.cycle checks processCount
// against uSettings.maxProcesses): with cap 1, two syncs whose own
// maxProcesses is 2 never have two pushes in flight between them, full
// syncs included; with cap 2 and three syncs of maxProcesses 1, two run
// at once, never three, and no sync runs two; with cap 2, a sync of
// maxProcesses 3 splits a batch into two pushes, not three.
func TestProcessesCapAcrossSyncs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cap       int
		perSync   []int
		events    [][]string // per sync
		wantPeak  int
		wantPaths [][]string
	}{
		{"cap 1, two syncs of 2", 1, []int{2, 2},
			[][]string{{"a1", "a2", "a3"}, {"b1", "b2"}}, 1,
			[][]string{{"a1", "a2", "a3", "z"}, {"b1", "b2"}}},
		{"cap 2, three syncs of 1", 2, []int{1, 1, 1},
			[][]string{{"a1"}, {"b1"}, {"c1"}}, 2,
			[][]string{{"a1", "z"}, {"b1"}, {"c1"}}},
		{"cap 2, one sync of 3", 2, []int{3},
			[][]string{{"a1", "a2", "a3"}}, 2,
			[][]string{{"a1", "a2", "a3", "z"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			procs, g, clock := NewProcesses(tt.cap), &gauge{}, newFakeClock()
			var syncs []*gaugedSync
			for i, n := range tt.perSync {
				syncs = append(syncs, startGauged(t, fmt.Sprintf("s%d", i), n, procs, g, clock))
			}
			// The first sync's batch of all its events: a push of z is
			// held while they queue.
			s0 := syncs[0]
			hold := make(chan struct{})
			s0.block(hold)
			s0.w.events <- watcher.Event{Op: change.Create, Path: "z"}
			testutil.Eventually(t, "the holding push in flight", func() bool { return s0.st.Snapshot().Pushes == 1 })
			gate := make(chan struct{})
			for i, s := range syncs {
				s.block(gate)
				for _, p := range tt.events[i] {
					s.w.events <- watcher.Event{Op: change.Create, Path: p}
				}
			}
			close(hold)
			testutil.Eventually(t, "the cap reached", func() bool {
				cur, _ := g.get()
				return cur == tt.wantPeak
			})
			never(t, "more pushes in flight than the cap", func() bool {
				cur, _ := g.get()
				return cur > tt.wantPeak
			})
			close(gate)
			for i, s := range syncs {
				testutil.Eventually(t, "every change pushed", func() bool {
					got, _ := s.pool.pushed()
					return slices.Equal(got, tt.wantPaths[i])
				})
				if peak := s.st.Snapshot().PeakPushes; peak > tt.perSync[i] {
					t.Errorf("sync %d: %d pushes at once, more than its maxProcesses %d", i, peak, tt.perSync[i])
				}
			}
			if _, peak := g.get(); peak != tt.wantPeak {
				t.Errorf("peak %d pushes in flight across the syncs, want %d", peak, tt.wantPeak)
			}
		})
	}
}

// TestProcessesCapFullSyncs: full syncs hold a process of the shared cap
// too: with cap 1, the full syncs of two syncs (SIGHUP) run one after
// the other.
func TestProcessesCapFullSyncs(t *testing.T) {
	t.Parallel()
	procs, g, clock := NewProcesses(1), &gauge{}, newFakeClock()
	gate := make(chan struct{})
	var syncs []*gaugedSync
	for i := range 2 {
		s := startGauged(t, fmt.Sprintf("s%d", i), 2, procs, g, clock)
		s.pool.inst(0).set(func(f *fakeTarget) { f.fullBlock = gate })
		syncs = append(syncs, s)
	}
	for _, s := range syncs {
		s.m.FullSync()
	}
	testutil.Eventually(t, "a full sync in flight", func() bool {
		cur, _ := g.get()
		return cur == 1
	})
	never(t, "two full syncs in flight", func() bool {
		cur, _ := g.get()
		return cur > 1
	})
	close(gate)
	testutil.Eventually(t, "both full syncs done", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.fulls == 4 // with the startup ones
	})
	if _, peak := g.get(); peak != 1 {
		t.Errorf("peak %d full syncs in flight, want 1", peak)
	}
}

// waitingTarget is a fakeTarget whose full syncs wait for ready first
// (as cmd/gsync's targets of syncs writing into one tree wait for the
// startup syncs before theirs): a FullSyncWaiter.
type waitingTarget struct {
	*fakeTarget
	ready   <-chan struct{}
	entered chan struct{} // closed when it first waits
	once    *sync.Once
}

func (w waitingTarget) WaitFullSync(ctx context.Context) error {
	w.once.Do(func() { close(w.entered) })
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w waitingTarget) FullSync(ctx context.Context) (transport.Stats, error) {
	if err := w.WaitFullSync(ctx); err != nil {
		return transport.Stats{}, err
	}
	return w.fakeTarget.FullSync(ctx)
}

// signalTarget is a fakeTarget that closes done after its first full
// sync.
type signalTarget struct {
	*fakeTarget
	once *sync.Once
	done chan struct{}
}

func (s signalTarget) FullSync(ctx context.Context) (transport.Stats, error) {
	defer s.once.Do(func() { close(s.done) })
	return s.fakeTarget.FullSync(ctx)
}

// TestProcessesWaitOutsideTheCap: a full sync that waits for another
// sync's startup (FullSyncWaiter) waits before it takes a process: with
// cap 1, the waiting sync started first must not hold the only process
// that the sync it waits for needs.
func TestProcessesWaitOutsideTheCap(t *testing.T) {
	t.Parallel()
	procs, clock := NewProcesses(1), newFakeClock()
	first := make(chan struct{})
	start := func(name string, tgt transport.Target) *Status {
		st := NewStatus(name, nil)
		src := t.TempDir()
		testutil.WriteRel(t, src, "f0")
		w := newFakeWatcher()
		m := New(Config{Name: name, Source: src, MaxDelays: 1000, Clock: clock, Processes: procs,
			Log:   slog.New(slog.DiscardHandler),
			Watch: func(context.Context, watcher.Options) (watcher.Watcher, error) { return w, nil },
			Targets: []Target{{Spec: name, Status: st,
				Open: func(*filter.Set, transport.Options) (transport.Target, string, error) { return tgt, "", nil }}}})
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			m.Run(context.Background())
		}()
		t.Cleanup(func() {
			m.Stop()
			m.Stop()
			<-finished
		})
		return st
	}
	entered := make(chan struct{})
	later := start("later", waitingTarget{&fakeTarget{name: "later"}, first, entered, &sync.Once{}})
	testutil.Eventually(t, "the later sync's startup waiting", func() bool {
		select {
		case <-entered:
			return true
		default:
			return false
		}
	})
	earlier := start("earlier", signalTarget{&fakeTarget{name: "earlier"}, &sync.Once{}, first})
	testutil.Eventually(t, "both startup syncs done", func() bool {
		return earlier.Snapshot().Started && later.Snapshot().Started
	})
}
