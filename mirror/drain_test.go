package mirror

import (
	"bytes"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
)

// gateWriter blocks the first write that contains key until open is
// closed, and tells reached when it got there.
type gateWriter struct {
	mu            sync.Mutex
	key           []byte
	reached, open chan struct{}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	hit := g.key != nil && bytes.Contains(p, g.key)
	if hit {
		g.key = nil
	}
	g.mu.Unlock()
	if hit {
		close(g.reached)
		<-g.open
	}
	return len(p), nil
}

// TestEventsReadTogetherArePushedTogether: at delay 0, the events already
// waiting when the loop takes one join its batch: a file's create and
// close (read together from the kernel) are one push, not two.
func TestEventsReadTogetherArePushedTogether(t *testing.T) {
	t.Parallel()
	f := &fakeTarget{name: "t"}
	// The loop stops while it logs the event of "gate", so that the
	// next events are all waiting when it goes on.
	g := &gateWriter{key: []byte("path=gate"), reached: make(chan struct{}), open: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(g, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newLoop(t, Config{Log: log}, false, f)
	testutil.Eventually(t, "startup full sync", func() bool { return read(f, func(f *fakeTarget) int { return f.fulls }) == 1 })
	e.event(change.Create, "gate")
	<-g.reached
	e.event(change.Create, "f1")
	e.event(change.Modify, "f1")
	close(g.open)
	testutil.Eventually(t, "f1 pushed", func() bool { return f.got("f1") })
	pushes, pushed := read(f, func(f *fakeTarget) int { return f.pushes }), read(f, func(f *fakeTarget) []string { return slices.Clone(f.pushed) })
	if pushes != 1 || len(pushed) != 2 {
		t.Errorf("%d pushes of %q, want one push of gate and f1", pushes, pushed)
	}
}
