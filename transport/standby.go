package transport

import (
	"context"
	"errors"
	"sync"
)

// errClosed is returned by a target used after Close.
var errClosed = errors.New("target is closed")

// standby keeps n resources (a daemon connection past its handshake, an
// ssh session already running rsync --server) opened ahead of time by
// goroutines it owns, so that a push does not wait for their setup. Each
// ask opens one more, parked until a push takes it; up to n are opened at
// once, so that pushes coming faster than one setup time still find one
// ready.
type standby[T any] struct {
	open    func(ctx context.Context) T // never fails: T carries the error
	discard func(T)
	n       int

	ctx    context.Context
	cancel context.CancelFunc
	want   chan struct{} // one token per resource to open (at most n)
	ready  chan T        // opened, waiting for a push (at most n)
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	stopped bool
}

// newStandby keeps one resource ready.
func newStandby[T any](open func(context.Context) T, discard func(T)) *standby[T] {
	return newStandbyPool(1, open, discard)
}

// newStandbyPool keeps n resources ready (n >= 1).
func newStandbyPool[T any](n int, open func(context.Context) T, discard func(T)) *standby[T] {
	n = max(n, 1)
	s := &standby[T]{open: open, discard: discard, n: n,
		want: make(chan struct{}, n), ready: make(chan T, n)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// start starts the goroutines and asks for the first n resources. Only
// the first call after newStandby does anything; none after stop.
func (s *standby[T]) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	for range s.n {
		s.ask()
		s.wg.Add(1)
		go s.run()
	}
}

// run opens a resource for each token it gets, until stop.
func (s *standby[T]) run() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.want:
		}
		r := s.open(s.ctx)
		// Never blocks for long: tokens and resources together are at
		// most n, the capacity of ready.
		select {
		case s.ready <- r:
		case <-s.ctx.Done():
			s.discard(r)
			return
		}
	}
}

// ask requests one more resource, unless n are requested or ready
// already.
func (s *standby[T]) ask() {
	select {
	case s.want <- struct{}{}:
	default:
	}
}

// take returns a resource standing by, waiting while one is being opened
// (it is ahead of a fresh one). It does not ask for the next one.
func (s *standby[T]) take(ctx context.Context) (T, error) {
	var zero T
	select {
	case r := <-s.ready:
		return r, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-s.ctx.Done():
		return zero, errClosed
	}
}

// stop ends the goroutines and discards the resources standing by.
func (s *standby[T]) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.cancel()
	s.wg.Wait()
	for {
		select {
		case r := <-s.ready:
			s.discard(r)
		default:
			return
		}
	}
}
