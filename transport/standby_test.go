package transport

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestStandby(t *testing.T) {
	opened, discarded := 0, 0
	s := newStandby(func(context.Context) int { opened++; return opened }, func(int) { discarded++ })
	s.start()
	s.start() // once only
	got, err := s.take(context.Background())
	if err != nil || got != 1 {
		t.Fatalf("take = %d, %v; want 1", got, err)
	}
	s.ask()
	if got, err := s.take(context.Background()); err != nil || got != 2 {
		t.Fatalf("second take = %d, %v; want 2", got, err)
	}
	s.ask() // a third one is parked (or being opened) when stop comes
	s.stop()
	s.stop()
	if opened != discarded+2 {
		t.Errorf("opened %d, discarded %d: a parked resource leaked", opened, discarded)
	}
	if _, err := s.take(context.Background()); !errors.Is(err, errClosed) {
		t.Errorf("take after stop: %v, want errClosed", err)
	}
	// Stopped before it started: no goroutine to wait for.
	n := newStandby(func(context.Context) int { return 0 }, func(int) {})
	n.stop()
	n.start()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.take(ctx); err == nil {
		t.Error("take on a stopped standby returned no error")
	}
}

// TestStandbyPool: a pool of n opens n resources at once (not one after
// the other), and keeps n ready as they are taken.
func TestStandbyPool(t *testing.T) {
	const n = 3
	release := make(chan struct{})
	inFlight := make(chan int, 10)
	var mu sync.Mutex
	opened := 0
	s := newStandbyPool(n, func(ctx context.Context) int {
		mu.Lock()
		opened++
		id := opened
		mu.Unlock()
		inFlight <- id
		select {
		case <-release:
		case <-ctx.Done():
		}
		return id
	}, func(int) {})
	s.start()
	for range n { // all n are being opened together
		select {
		case <-inFlight:
		case <-time.After(5 * time.Second):
			t.Fatal("the pool does not open its resources in parallel")
		}
	}
	close(release)
	seen := map[int]bool{}
	for range 2 * n {
		r, err := s.take(context.Background())
		if err != nil || seen[r] {
			t.Fatalf("take = %d, %v (seen: %v)", r, err, seen)
		}
		seen[r] = true
		s.ask()
	}
	s.stop()
	mu.Lock()
	defer mu.Unlock()
	if opened > 3*n {
		t.Errorf("opened %d resources for %d takes with a pool of %d", opened, 2*n, n)
	}
}
