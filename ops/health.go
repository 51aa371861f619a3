package ops

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gsync/gsync/mirror"
)

// probeTimeout bounds how long /healthz waits for the mirror loops.
const probeTimeout = 5 * time.Second

// Handler serves the HTTP ops endpoints of b: /metrics (MetricsHandler),
// /healthz (200 while every mirror loop answers a probe within 5 s,
// asked through alive; nil: always) and /readyz (200 once every target
// finished its startup sync and none is failing: see Readiness).
func Handler(b *Board, alive func(timeout time.Duration) bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", MetricsHandler(b))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if alive != nil && !alive(probeTimeout) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not alive: a mirror loop did not answer within %s\n", probeTimeout)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		ready, lines := Readiness(b)
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, strings.Join(lines, ""))
	})
	return mux
}

// Readiness reports whether every target of b is ready: its startup
// full sync succeeded and it is not failing (a fatal error stopped it,
// or its last push failed as a whole and it is retrying). lines says
// why, one line per target.
func Readiness(b *Board) (ready bool, lines []string) {
	ready = true
	for _, t := range b.All() {
		s := t.Snapshot()
		why := ""
		switch {
		case s.State == mirror.StateFailed:
			why = "failed: " + oneLine(s.LastErr)
		case s.State == mirror.StateStopped:
			why = "stopped"
		case !s.Started:
			why = "startup sync not done yet"
			if s.LastFailed {
				why += " (last attempt: " + oneLine(s.LastErr) + ")"
			}
		case s.LastFailed:
			why = "failing: " + oneLine(s.LastErr)
		}
		if why == "" {
			lines = append(lines, fmt.Sprintf("%s %s: ready\n", s.Name, s.Target))
			continue
		}
		ready = false
		lines = append(lines, fmt.Sprintf("%s %s: not ready: %s\n", s.Name, s.Target, why))
	}
	if len(lines) == 0 {
		ready = false
		lines = []string{"no target yet\n"}
	}
	return ready, lines
}
