package main

import (
	"os"
	"sync"
	"time"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/mirror"
)

// board holds the status of every target of this process, for the
// readers: the status file, the control socket, metrics and systemd
// notifications. Targets are added before the mirrors start; readers
// subscribe to be woken when something changed.
type board struct {
	started time.Time

	mu      sync.Mutex
	targets []*mirror.Status
	subs    []chan struct{}
}

func newBoard() *board { return &board{started: time.Now()} }

// add registers a target named name (lsyncd's "SyncN").
func (b *board) add(name string) *mirror.Status {
	s := mirror.NewStatus(name, b.changed)
	b.mu.Lock()
	b.targets = append(b.targets, s)
	b.mu.Unlock()
	return s
}

// all returns the targets in the order they were added.
func (b *board) all() []*mirror.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*mirror.Status(nil), b.targets...)
}

// subscribe returns a channel that receives a value (coalesced, never
// blocking the sender) after every change.
func (b *board) subscribe() <-chan struct{} {
	c := make(chan struct{}, 1)
	b.mu.Lock()
	b.subs = append(b.subs, c)
	b.mu.Unlock()
	return c
}

// changed wakes every subscriber. Safe on a nil board.
func (b *board) changed() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// snapshot is the control socket's answer.
func (b *board) snapshot() control.Status {
	st := control.Status{PID: os.Getpid(), Version: version, Started: b.started}
	for _, t := range b.all() {
		st.Targets = append(st.Targets, snapshot(t))
	}
	return st
}

// ready reports whether every target has finished its startup sync.
func (b *board) ready() bool {
	for _, t := range b.all() {
		if !t.Snapshot().Started {
			return false
		}
	}
	return true
}
