package transport

import (
	"context"
	"errors"
	"sync"
)

// errClosed is returned by a target used after Close.
var errClosed = errors.New("target is closed")

// standby keeps one resource (a daemon connection past its handshake, an
// ssh session already running rsync --server) opened ahead of time by a
// goroutine it owns, so that a push does not wait for its setup. Each ask
// opens one more, parked until a push takes it.
type standby[T any] struct {
	open    func(ctx context.Context) T // never fails: T carries the error
	discard func(T)

	ctx    context.Context
	cancel context.CancelFunc
	want   chan struct{}
	ready  chan T
	done   chan struct{}

	mu      sync.Mutex
	started bool
	stopped bool
}

func newStandby[T any](open func(context.Context) T, discard func(T)) *standby[T] {
	s := &standby[T]{open: open, discard: discard,
		want: make(chan struct{}, 1), ready: make(chan T, 1), done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// start starts the goroutine and asks for the first resource. Only the
// first call after newStandby does anything; none after stop.
func (s *standby[T]) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	s.ask()
	go s.run()
}

func (s *standby[T]) run() {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.want:
		}
		r := s.open(s.ctx)
		select {
		case s.ready <- r:
		case <-s.ctx.Done():
			s.discard(r)
			return
		}
	}
}

// ask requests the next resource, unless one is requested already.
func (s *standby[T]) ask() {
	select {
	case s.want <- struct{}{}:
	default:
	}
}

// take returns the resource standing by, waiting while it is being opened
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

// stop ends the goroutine and discards the resource standing by.
func (s *standby[T]) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.cancel()
	if s.started {
		<-s.done
	}
	select {
	case r := <-s.ready:
		s.discard(r)
	default:
	}
}
