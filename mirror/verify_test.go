package mirror

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/gsync/gsync/filter"
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
}

func (v *verifyTarget) Verify(context.Context, transport.VerifyOptions) (transport.VerifyResult, error) {
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
