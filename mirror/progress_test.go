package mirror

import (
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// TestFullSyncProgress: a full sync in flight logs what it listed and
// sent every progressEvery and publishes it in the status; the status
// forgets it when the sync ends.
func TestFullSyncProgress(t *testing.T) {
	f := &fakeTarget{name: "t", fullBlock: make(chan struct{})}
	e := newLoop(t, Config{}, false, f)
	testutil.Eventually(t, "full sync started", func() bool { return e.state(0) == StateInitial && e.status[0].Snapshot().Full })
	// The status says Full before the target's FullSync has reported
	// anything: a progress line may come first with zero counts (failed
	// once under load when the test took that line for the last one).
	testutil.Eventually(t, "progress logged with the target's counts", func() bool {
		e.clock.Advance(progressEvery)
		return strings.Contains(e.log.String(), "full sync in progress") &&
			strings.Contains(e.log.String(), "listed=5 files_sent=1 bytes_sent=100")
	})
	if p := e.status[0].Snapshot().Progress; p.Listed != 5 || p.Files != 1 || p.Bytes != 100 || p.Since.IsZero() {
		t.Errorf("status progress = %+v", p)
	}
	close(f.fullBlock)
	testutil.Eventually(t, "sync done", func() bool { return e.state(0) == StateIdle })
	if p := e.status[0].Snapshot().Progress; !p.Since.IsZero() {
		t.Errorf("progress kept after the sync: %+v", p)
	}
}
