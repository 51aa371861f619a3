package ops

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gsync/gsync/control"
)

// Endpoints are the ops endpoints a process serves over its board. The
// caller opens the listeners (it knows the flags and which errors are
// fatal); Serve owns them from then on.
type Endpoints struct {
	StatusFile     string        // the lsyncd-layout status file, or ""
	StatusInterval time.Duration // how often it is rewritten at most
	Control        net.Listener  // the control socket that gsync status reads, or nil
	Metrics        net.Listener  // /metrics, /healthz and /readyz (Handler), or nil
	// Alive asks the mirror loops for /healthz (mirror.Group.Alive); nil:
	// /healthz answers ok while the process serves.
	Alive   func(timeout time.Duration) bool
	Systemd bool // send sd_notify READY=1 and STATUS= lines
}

// Serve starts the readers of b that e names. stop ends them and returns
// when they have: the status file gets its last state written, the
// listeners are closed.
func Serve(ctx context.Context, b *Board, e Endpoints, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var stops []func()
	if e.StatusFile != "" {
		stops = append(stops, NewStatusWriter(e.StatusFile, e.StatusInterval, log, b).Start(ctx))
	}
	if e.Control != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := control.Serve(ctx, e.Control, b.Snapshot); err != nil {
				log.Error("control socket stopped", "err", err)
			}
		}()
	}
	if e.Metrics != nil {
		srv := &http.Server{Handler: Handler(b, e.Alive), ReadHeaderTimeout: 10 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(e.Metrics); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics endpoint stopped", "err", err)
			}
		}()
		stops = append(stops, func() { srv.Close() })
		log.Info("serving metrics and health", "addr", "http://"+e.Metrics.Addr().String()+"/metrics", "probes", "/healthz /readyz")
	}
	if e.Systemd {
		kick := b.Subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			NotifySystemd(ctx, b, kick, log)
		}()
	}
	return func() {
		for _, s := range stops {
			s()
		}
		cancel()
		wg.Wait()
	}
}
