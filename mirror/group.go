package mirror

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Group runs the mirrors of several sources side by side (one process,
// several lsyncd sync{} blocks), with lsyncd's rules: a bad
// configuration or a failed startup sync of one mirror stops them all
// (gently); a mirror whose targets all failed ends alone, the others go
// on.
type Group struct {
	log     *slog.Logger
	clock   Clock // the first mirror's
	mirrors []*Mirror

	mu       sync.Mutex
	stopping bool // Stop was called (by the caller or after a startup failure)
}

// NewGroup returns a group of one mirror per configuration; Run starts
// them.
func NewGroup(log *slog.Logger, cfgs ...Config) *Group {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Group{log: log, clock: realClock{}}
	for _, c := range cfgs {
		g.mirrors = append(g.mirrors, New(c))
	}
	if len(g.mirrors) > 0 {
		g.clock = g.mirrors[0].clock
	}
	return g
}

// Mirrors returns the group's mirrors, in the order of their configs.
func (g *Group) Mirrors() []*Mirror { return g.mirrors }

// Run runs every mirror until all have ended and returns the first
// error of one (nil when they were stopped).
func (g *Group) Run(ctx context.Context) error {
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(g.mirrors))
	for i, m := range g.mirrors {
		go func() { results <- result{i, m.Run(ctx)} }()
	}
	var first error
	for range g.mirrors {
		r := <-results
		g.mu.Lock()
		stopping := g.stopping
		g.mu.Unlock()
		if r.err == nil || (stopping && errors.Is(r.err, context.Canceled)) {
			continue
		}
		if len(g.mirrors) > 1 {
			c := g.mirrors[r.i].cfg
			g.log.Error("sync failed", "sync", c.Name, "source", c.Source, "err", r.err)
		}
		if first == nil {
			first = r.err
		}
		var se StartupError
		var ce ConfigError
		if (errors.As(r.err, &se) || errors.As(r.err, &ce)) && !stopping {
			// Later failures (every target of a mirror failed) end
			// their own mirror only.
			go g.Stop()
		}
	}
	return first
}

// Stopping reports whether Stop was called.
func (g *Group) Stopping() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopping
}

// Stop stops every mirror (see Mirror.Stop; a second Stop ends the
// pushes in flight at once).
func (g *Group) Stop() {
	g.mu.Lock()
	g.stopping = true
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range g.mirrors {
		wg.Go(m.Stop)
	}
	wg.Wait()
}

// FullSync queues a full sync on every mirror.
func (g *Group) FullSync() {
	var wg sync.WaitGroup
	for _, m := range g.mirrors {
		wg.Go(m.FullSync)
	}
	wg.Wait()
}

// Alive reports whether every running mirror's loop answered a probe
// within timeout (a stuck loop: false).
func (g *Group) Alive(timeout time.Duration) bool {
	deadline, stop := g.clock.NewTimer(timeout)
	defer stop()
	for _, m := range g.mirrors {
		select {
		case <-m.Ping():
		case <-deadline:
			return false
		}
	}
	return true
}
