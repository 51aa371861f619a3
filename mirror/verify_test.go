package mirror

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/rsyncproto"
	"github.com/gsync/gsync/transport"
)

// verifyTarget is a fakeTarget that can be verified: it reports drift
// until a full sync (and, for content, a push of the path) fixed it.
type verifyTarget struct {
	*fakeTarget
	mu        sync.Mutex
	drift     []rsyncproto.Item // what Verify reports now
	verifies  int
	verifyErr error
	gate      chan struct{} // non-nil: Verify waits for it (or ctx)
	started   int           // calls of Verify, counted before the gate
}

func (v *verifyTarget) Verify(ctx context.Context, _ transport.VerifyOptions) (transport.VerifyResult, error) {
	v.mu.Lock()
	gate := v.gate
	v.started++
	v.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return transport.VerifyResult{}, ctx.Err()
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.verifies++
	return transport.VerifyResult{Items: slices.Clone(v.drift), Sending: true}, v.verifyErr
}

func (v *verifyTarget) FullSync(ctx context.Context) (transport.Stats, error) {
	st, err := v.fakeTarget.FullSync(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	// A full sync's quick check fixes all but same-size same-mtime content.
	v.drift = slices.DeleteFunc(v.drift, func(it rsyncproto.Item) bool { return it.Flags&rsyncproto.ItemReportChange == 0 })
	return st, err
}

func (v *verifyTarget) Push(ctx context.Context, changes []transport.Change) (transport.Stats, error) {
	st, err := v.fakeTarget.Push(ctx, changes)
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range changes {
		v.drift = slices.DeleteFunc(v.drift, func(it rsyncproto.Item) bool { return it.Name == c.Path })
	}
	return st, err
}

func (v *verifyTarget) open(*filter.Set, transport.Options) (transport.Target, string, error) {
	return v, "", nil
}

// TestVerifyRepair: Verify reports a target's drift without changing
// it; with Repair it runs a full sync, resends the files whose content
// alone differs, and verifies again.
func TestVerifyRepair(t *testing.T) {
	src := t.TempDir()
	testutil.WriteRel(t, src, "f0")
	drift := []rsyncproto.Item{
		{Name: "size", Mode: 0o100644, Flags: rsyncproto.ItemTransfer | rsyncproto.ItemReportSize},
		{Name: "content", Mode: 0o100644, Flags: rsyncproto.ItemTransfer | rsyncproto.ItemReportChange},
		{Name: "extra", Mode: 0o100644, Deleted: true},
	}
	v := &verifyTarget{fakeTarget: &fakeTarget{name: "v"}, drift: slices.Clone(drift)}
	cfg := Config{Source: src, MaxDelays: 10, Targets: []Target{{Spec: "spec", Open: v.open}}}
	reps, err := Verify(context.Background(), cfg, VerifyOptions{Checksum: true})
	if err != nil || len(reps) != 1 {
		t.Fatalf("Verify: %v, %d reports", err, len(reps))
	}
	if r := reps[0]; len(r.Items) != 3 || r.Repaired || r.Target != "spec" || !r.Differs() || r.Err != nil {
		t.Errorf("report %+v", r)
	}
	if n := read(v.fakeTarget, func(f *fakeTarget) int { return f.fulls + f.pushes }); n != 0 {
		t.Errorf("a verify without repair pushed %d times", n)
	}
	reps, err = Verify(context.Background(), cfg, VerifyOptions{Checksum: true, Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := reps[0]; len(r.Items) != 3 || !r.Repaired || len(r.Remaining) != 0 || r.Err != nil {
		t.Errorf("repair report %+v", r)
	}
	if !v.got("content") || read(v.fakeTarget, func(f *fakeTarget) int { return f.fulls }) != 1 {
		t.Errorf("repair: want one full sync and content resent; pushed %v", v.pushed)
	}
	v.verifyErr = errors.New("connection refused")
	reps, err = Verify(context.Background(), cfg, VerifyOptions{})
	if err != nil || reps[0].Err == nil {
		t.Errorf("a failed compare: %v, report %+v", err, reps[0])
	}
}

func (v *verifyTarget) setDrift(items ...rsyncproto.Item) {
	v.mu.Lock()
	v.drift = items
	v.mu.Unlock()
}

func (v *verifyTarget) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.verifies
}

// newVerifyLoop runs a loop to one verifiable target with cfg.
func newVerifyLoop(t *testing.T, cfg Config, v *verifyTarget) (*loopEnv, *Status) {
	t.Helper()
	st := NewStatus("v", nil)
	cfg.Targets = []Target{{Spec: "v", Open: v.open, Status: st}}
	e := newLoop(t, cfg, false)
	testutil.Eventually(t, "the startup sync", func() bool { return st.Snapshot().Started })
	return e, st
}

// TestPeriodicVerify: --verify-every compares the target every period
// after the startup sync, counts the drift, and queues its repair: a
// full sync and the files whose content alone differs.
func TestPeriodicVerify(t *testing.T) {
	v := &verifyTarget{fakeTarget: &fakeTarget{name: "v"}}
	e, st := newVerifyLoop(t, Config{VerifyEvery: time.Minute, VerifyChecksum: true}, v)
	v.setDrift(rsyncproto.Item{Name: "edited", Mode: 0o100644, Flags: rsyncproto.ItemTransfer | rsyncproto.ItemReportSize},
		rsyncproto.Item{Name: "content", Mode: 0o100644, Flags: rsyncproto.ItemTransfer | rsyncproto.ItemReportChange})
	e.clock.Advance(time.Minute - time.Millisecond)
	never(t, "a verify before the period", func() bool { return v.count() > 0 })
	e.clock.Advance(time.Millisecond)
	testutil.Eventually(t, "the verify", func() bool { return st.Snapshot().Counters.VerifiesDrift == 1 })
	if s := st.Snapshot(); s.DriftPaths != 2 || s.Counters.DriftPathsTotal != 2 || s.LastVerify.IsZero() {
		t.Errorf("status after the verify: drift %d, total %d, at %v", s.DriftPaths, s.Counters.DriftPathsTotal, s.LastVerify)
	}
	testutil.Eventually(t, "the repair", func() bool {
		return read(v.fakeTarget, func(f *fakeTarget) int { return f.fulls }) == 2 && v.got("content")
	})
	e.clock.Advance(time.Minute)
	testutil.Eventually(t, "the next verify finds the target equal", func() bool { return st.Snapshot().Counters.VerifiesEqual == 1 })
	if s := st.Snapshot(); s.DriftPaths != 0 {
		t.Errorf("drift %d after the repair", s.DriftPaths)
	}
}

// TestPeriodicVerifyOnly: with VerifyOnly drift is counted, not
// repaired; a failed verify is counted and retried at the next turn.
func TestPeriodicVerifyOnly(t *testing.T) {
	v := &verifyTarget{fakeTarget: &fakeTarget{name: "v"}}
	e, st := newVerifyLoop(t, Config{VerifyEvery: time.Minute, VerifyOnly: true}, v)
	v.setDrift(rsyncproto.Item{Name: "edited", Mode: 0o100644, Flags: rsyncproto.ItemTransfer | rsyncproto.ItemReportSize})
	e.clock.Advance(time.Minute)
	testutil.Eventually(t, "the verify", func() bool { return st.Snapshot().DriftPaths == 1 })
	never(t, "a repair with --verify-only", func() bool { return read(v.fakeTarget, func(f *fakeTarget) int { return f.fulls }) > 1 })
	v.mu.Lock()
	v.verifyErr = errors.New("connection refused")
	v.mu.Unlock()
	e.clock.Advance(time.Minute)
	testutil.Eventually(t, "the failed verify", func() bool { return st.Snapshot().Counters.VerifyFailures == 1 })
	if s := st.Snapshot(); s.LastVerifyErr != "connection refused" || s.State == StateFailed {
		t.Errorf("after a failed verify: %q, state %v", s.LastVerifyErr, s.State)
	}
}

// TestPeriodicVerifyLeavesChangesOnTheirWay: differences on paths that
// changed at the source while the verify ran are not drift; pushes go on
// while a verify runs.
func TestPeriodicVerifyLeavesChangesOnTheirWay(t *testing.T) {
	v := &verifyTarget{fakeTarget: &fakeTarget{name: "v"}, gate: make(chan struct{})}
	e, st := newVerifyLoop(t, Config{VerifyEvery: time.Minute, VerifyOnly: true}, v)
	v.setDrift(rsyncproto.Item{Name: "dir/busy", Mode: 0o100644, Flags: rsyncproto.ItemTransfer | rsyncproto.ItemIsNew},
		rsyncproto.Item{Name: "dir", Mode: 0o40755, Flags: rsyncproto.ItemReportTime},
		rsyncproto.Item{Name: "old", Mode: 0o100644, Flags: rsyncproto.ItemTransfer | rsyncproto.ItemReportTime})
	e.clock.Advance(time.Minute)
	testutil.Eventually(t, "the verify running", func() bool { v.mu.Lock(); defer v.mu.Unlock(); return v.started == 1 })
	e.event(change.Create, "dir/busy")
	testutil.Eventually(t, "a push while the verify runs", func() bool { return v.got("dir/busy") })
	close(v.gate)
	testutil.Eventually(t, "the verify", func() bool { return st.Snapshot().Counters.VerifiesDrift == 1 })
	if s := st.Snapshot(); s.DriftPaths != 1 {
		t.Errorf("drift %d, want 1 (only old: dir/busy and its directory changed meanwhile)", s.DriftPaths)
	}
	if !strings.Contains(e.log.String(), "item=\"<f..t...... old\"") || strings.Contains(e.log.String(), "item=\"<f+++++++++ dir/busy\"") {
		t.Errorf("drift log:\n%s", e.log.String())
	}
}
