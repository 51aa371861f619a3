// Package ops holds gsync's operator outputs, for cmd/gsync to wire up:
// the board that gathers the status of every target of a process, the
// lsyncd-layout status file, the Prometheus metrics, the systemd
// notifications and watchdog, the rendering of `gsync status` and the
// --once progress line. It reads no flags or environment and logs only to
// the *slog.Logger it is given.
package ops

import (
	"os"
	"sync"
	"time"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/mirror"
)

// Board holds the status of every target of this process, for the
// readers: the status file, the control socket, metrics and systemd
// notifications. Targets are added before the mirrors start; readers
// subscribe to be woken when something changed.
type Board struct {
	started time.Time
	version string

	mu      sync.Mutex
	targets []*mirror.Status
	subs    []chan struct{}
}

// NewBoard returns an empty board of a process started now, whose control
// socket answers report version.
func NewBoard(version string) *Board { return &Board{started: time.Now(), version: version} }

// Add registers a target named name (lsyncd's "SyncN").
func (b *Board) Add(name string) *mirror.Status {
	s := mirror.NewStatus(name, b.changed)
	b.mu.Lock()
	b.targets = append(b.targets, s)
	b.mu.Unlock()
	return s
}

// All returns the targets in the order they were added.
func (b *Board) All() []*mirror.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*mirror.Status(nil), b.targets...)
}

// Subscribe returns a channel that receives a value (coalesced, never
// blocking the sender) after every change.
func (b *Board) Subscribe() <-chan struct{} {
	c := make(chan struct{}, 1)
	b.mu.Lock()
	b.subs = append(b.subs, c)
	b.mu.Unlock()
	return c
}

// changed wakes every subscriber. Safe on a nil board.
func (b *Board) changed() {
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

// Snapshot is the control socket's answer.
func (b *Board) Snapshot() control.Status {
	st := control.Status{PID: os.Getpid(), Version: b.version, Started: b.started}
	for _, t := range b.All() {
		st.Targets = append(st.Targets, TargetStatus(t))
	}
	return st
}

// Ready reports whether every target has finished its startup sync.
func (b *Board) Ready() bool {
	for _, t := range b.All() {
		if !t.Snapshot().Started {
			return false
		}
	}
	return true
}
