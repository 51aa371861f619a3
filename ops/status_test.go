package ops

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/ops/opstest"
)

// TestStatusReportActive checks the lines of a batch in flight, in
// lsyncd's layout.
func TestStatusReportActive(t *testing.T) {
	s := mirror.Snapshot{Name: "Sync1", Source: "/src", Target: "host::m",
		Queued: 2, Waiting: []delay.Item{{Op: change.Modify, Path: "a"}}, Active: []delay.Item{
			{Op: change.Create, Path: "d", IsDir: true},
			{Op: change.Move, From: "x", Path: "y"},
		}, ActiveTotal: 2, InFlight: true, Watches: 1, State: mirror.StatePushing}
	st, err := opstest.ParseStatus(renderStatus(time.Now(), []mirror.Snapshot{s}))
	if err != nil {
		t.Fatal(err)
	}
	want := opstest.Sync{Name: "Sync1", Source: "/src/", Target: "host::m", Delays: 4,
		Lines: []string{"active Create /d/", "active Move /x -> /y", "wait   Modify /a", "wait   (1 more)"}}
	if len(st.Syncs) != 1 {
		t.Fatalf("syncs = %+v", st.Syncs)
	}
	if diff := cmp.Diff(want, st.Syncs[0]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
