package ops

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/transport"
)

// gatedTarget is a target whose full sync waits for gate.
type gatedTarget struct{ gate chan struct{} }

func (g gatedTarget) FullSync(ctx context.Context) (transport.Stats, error) {
	select {
	case <-g.gate:
		return transport.Stats{Files: 1}, nil
	case <-ctx.Done():
		return transport.Stats{}, ctx.Err()
	}
}
func (gatedTarget) Push(context.Context, []transport.Change) (transport.Stats, error) {
	return transport.Stats{}, nil
}
func (gatedTarget) String() string { return "gated" }
func (gatedTarget) Close() error   { return nil }

// probe returns the status code and body of GET path.
func probe(t *testing.T, b *Board, alive func(time.Duration) bool, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(b, alive).ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

// TestHealthAndReadiness: /readyz is 503 until the startup sync is done,
// then 200; /healthz is 200 while the mirror loops answer probes and 503
// when they do not; a failed target makes /readyz 503 with its error.
func TestHealthAndReadiness(t *testing.T) {
	src := t.TempDir()
	testutil.Must(t, os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644))
	b := NewBoard("test")
	st := b.Add("Sync1")
	gate := make(chan struct{})
	g := mirror.NewGroup(slog.New(slog.DiscardHandler), mirror.Config{Source: src, MaxDelays: 10, Targets: []mirror.Target{{
		Spec: "gated", Status: st,
		Open: func(*filter.Set, transport.Options) (transport.Target, string, error) {
			return gatedTarget{gate}, "", nil
		},
	}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	testutil.Eventually(t, "the startup sync running", func() bool { return st.Snapshot().State == mirror.StateInitial && st.Snapshot().Target != "" })
	if code, body := probe(t, b, g.Alive, "/readyz"); code != 503 || body != "Sync1 gated: not ready: startup sync not done yet\n" {
		t.Errorf("/readyz during the startup sync: %d %q", code, body)
	}
	if code, body := probe(t, b, g.Alive, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz during the startup sync: %d %q", code, body)
	}
	close(gate)
	testutil.Eventually(t, "ready", func() bool { code, _ := probe(t, b, g.Alive, "/readyz"); return code == 200 })
	if _, body := probe(t, b, g.Alive, "/readyz"); body != "Sync1 gated: ready\n" {
		t.Errorf("/readyz body %q", body)
	}
	if code, body := probe(t, b, func(time.Duration) bool { return false }, "/healthz"); code != 503 || !strings.Contains(body, "did not answer") {
		t.Errorf("/healthz with a stuck loop: %d %q", code, body)
	}
	if code, body := probe(t, b, nil, "/metrics"); code != 200 || !strings.Contains(body, "gsync_target_state") {
		t.Errorf("/metrics: %d", code)
	}
}

// TestReadinessFailedTarget: a target stopped by a fatal error is not
// ready, and /readyz says why.
func TestReadinessFailedTarget(t *testing.T) {
	src := t.TempDir()
	testutil.Must(t, os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644))
	b := NewBoard("test")
	st := b.Add("bad")
	m := mirror.New(mirror.Config{Source: src, MaxDelays: 10, Insist: true, Targets: []mirror.Target{{
		Spec: "bad", Status: st,
		Open: func(*filter.Set, transport.Options) (transport.Target, string, error) { return fatalTarget{}, "", nil },
	}}})
	m.Run(context.Background())
	code, body := probe(t, b, nil, "/readyz")
	if code != 503 || !strings.Contains(body, "bad bad: not ready: failed: module refused the transfer") {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if code, body := probe(t, NewBoard("x"), nil, "/readyz"); code != 503 || body != "no target yet\n" {
		t.Errorf("/readyz of an empty board: %d %q", code, body)
	}
}
