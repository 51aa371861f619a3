package ops

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/transport"
)

// fatalTarget is a target whose every sync fails with a fatal error.
type fatalTarget struct{}

func (fatalTarget) FullSync(context.Context) (transport.Stats, error) {
	return transport.Stats{}, transport.Fatal(errors.New("module refused the transfer"))
}
func (fatalTarget) Push(context.Context, []transport.Change) (transport.Stats, error) {
	return transport.Stats{}, transport.Fatal(errors.New("module refused the transfer"))
}
func (fatalTarget) String() string { return "bad" }
func (fatalTarget) Close() error   { return nil }

// TestMetricsFailedTarget: a target stopped by a fatal error shows as
// failed (and down) in the metrics and the control socket's snapshot.
func TestMetricsFailedTarget(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := NewBoard("test")
	st := b.Add("bad")
	m := mirror.New(mirror.Config{Source: src, MaxDelays: 10, Insist: true, Targets: []mirror.Target{{
		Spec: "bad", Status: st,
		Open: func(*filter.Set, transport.Options) (transport.Target, string, error) { return fatalTarget{}, "", nil },
	}}})
	if err := m.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "every target") {
		t.Fatalf("Run = %v, want every target failed", err)
	}
	rec := httptest.NewRecorder()
	MetricsHandler(b).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`gsync_target_state{state="failed",sync="bad",target="bad"} 1`, `gsync_target_up{sync="bad",target="bad"} 0`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if s := b.Snapshot().Targets[0]; s.State != "failed" || s.LastError == "" {
		t.Errorf("snapshot = %+v, want failed with the error", s)
	}
}
