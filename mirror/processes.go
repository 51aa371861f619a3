package mirror

import (
	"context"
	"fmt"

	"github.com/gsync/gsync/transport"
)

// Processes caps the pushes in flight across every mirror that shares it
// (lsyncd's settings{ maxProcesses }): each push, a full sync or one
// group of a batch, holds one of its slots while it runs. lsyncd 2.2.3
// counts its spawned processes in one global processCount, and
// runner.cycle (with Sync.invokeActions) lets no sync start an action
// while it is at uSettings.maxProcesses (lsyncd.lua). A target's own
// Target.MaxProcesses caps that target at the same time.
type Processes struct {
	slots chan struct{}
}

// NewProcesses returns a cap of n pushes at once (n >= 1).
func NewProcesses(n int) *Processes {
	return &Processes{slots: make(chan struct{}, max(n, 1))}
}

// Limit returns the number of slots (0 for nil: no cap).
func (p *Processes) Limit() int {
	if p == nil {
		return 0
	}
	return cap(p.slots)
}

// acquire waits for one slot, then takes up to want-1 more that are free
// at once, and returns how many it holds (want for nil: no cap). Waiting
// goroutines are served in turn, so no mirror starves the others (lsyncd
// starts each cycle at the next sync: Syncs.nextRound).
func (p *Processes) acquire(ctx context.Context, want int) (int, error) {
	if p == nil {
		return want, nil
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, transport.Transient(fmt.Errorf("wait for a free process (maxProcesses %d): %w", cap(p.slots), ctx.Err()))
	}
	n := 1
	for n < want {
		select {
		case p.slots <- struct{}{}:
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

// release gives back n slots.
func (p *Processes) release(n int) {
	if p == nil {
		return
	}
	for range n {
		<-p.slots
	}
}
