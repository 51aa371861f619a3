package ops

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/transport"
)

// TestMaxProcessesShown: a target's maxProcesses, its pushes in flight
// and their peak reach the metrics and the control socket's snapshot;
// several pushes in flight show in the status file and gsync status.
func TestMaxProcessesShown(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := NewBoard("test")
	st := b.Add("bad")
	m := mirror.New(mirror.Config{Source: src, MaxDelays: 10, Insist: true, Targets: []mirror.Target{{
		Spec: "bad", Status: st, MaxProcesses: 3,
		Open: func(*filter.Set, transport.Options) (transport.Target, string, error) { return fatalTarget{}, "", nil },
	}}})
	if err := m.Run(context.Background()); err == nil {
		t.Fatal("Run = nil, want every target failed")
	}
	rec := httptest.NewRecorder()
	MetricsHandler(b).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`gsync_max_processes{sync="bad",target="bad"} 3`,
		`gsync_pushes_in_flight{sync="bad",target="bad"} 0`, `gsync_pushes_in_flight_peak{sync="bad",target="bad"} 1`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if s := b.Snapshot().Targets[0]; s.MaxProcesses != 3 || s.PeakPushes != 1 || s.Pushes != 0 {
		t.Errorf("snapshot = %+v, want max processes 3, peak 1, none in flight", s)
	}

	file := string(renderStatus(time.Now(), []mirror.Snapshot{{Name: "Sync1", Source: "/src", Target: "h::m",
		ActiveTotal: 12, InFlight: true, Pushes: 3, PeakPushes: 3, Processes: 4, State: mirror.StatePushing}}))
	if !strings.Contains(file, "\n3 pushes in flight (maxProcesses 4)\n") {
		t.Errorf("status file lacks the pushes in flight:\n%s", file)
	}
	var out bytes.Buffer
	PrintStatus(&out, []control.Status{{Version: "v", Started: time.Now(), Targets: []control.Target{{Sync: "Sync1",
		State: "pushing", InFlight: 12, Pushes: 3, MaxProcesses: 4}}}}, time.Now())
	if !strings.Contains(out.String(), "pushing (12) in 3 pushes") {
		t.Errorf("gsync status lacks the pushes in flight:\n%s", out.String())
	}
}
