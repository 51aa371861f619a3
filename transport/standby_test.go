package transport

import (
	"context"
	"errors"
	"testing"
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
