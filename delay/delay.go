// Package delay collects change events, merges them per path with lsyncd's
// rules, holds them for a delay and hands them out as batches, one batch in
// flight at a time. It does no I/O and reads the clock only through Config.Now.
package delay

import (
	"fmt"
	"time"

	"github.com/gsync/gsync/internal/change"
)

// Item is one queued change. Paths are slash-separated and relative to the
// source root.
type Item struct {
	Op    change.Op
	Path  string
	From  string // Move only: the old path
	IsDir bool
	// Recursive: the whole subtree of Path must be mirrored (set when a
	// directory is replaced, when a directory move had to be split into
	// Delete + Create, and on every Delete, in case the path is a directory
	// again by the time the batch runs).
	Recursive bool
}

func (it Item) String() string {
	if it.Op == change.Move {
		return fmt.Sprintf("Move %s -> %s", it.From, it.Path)
	}
	return fmt.Sprintf("%s %s", it.Op, it.Path)
}

// Batch is a set of items handed to a target in one push. A Full batch asks
// for a full sync of the tree and has no items.
type Batch struct {
	ID    uint64
	Full  bool
	Items []Item
}

// Config configures a Collator.
type Config struct {
	// Delay is how long an item waits after it was added before it is due.
	Delay time.Duration
	// MaxDelays: with this many items waiting, a batch is due at once.
	// Zero means 1000.
	MaxDelays int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MoveGuard keeps the paths of a finished batch blocking renames for
	// this long: a watcher may deliver a move that happened before the
	// batch read the source only after the batch ended, and renaming on
	// the target then would move what the batch just wrote. Such moves are
	// split into Delete + Create instead. Zero disables the guard.
	MoveGuard time.Duration
	// RollupAt bounds the queue: when more than this many items wait, they
	// are rolled up into their ancestor directories at the deepest level
	// that leaves at most RollupAt/2 items, each such directory becoming one
	// recursive sync (Modify with IsDir and Recursive), and queued moves
	// become Delete + Create. Items that arrive later below a rolled-up
	// directory are absorbed by it. When even the top-level directories are
	// too many, the queue becomes a full sync. A rolled-up queue is due at
	// once, as with MaxDelays. Zero means DefaultRollupAt; negative
	// disables the roll-up (the queue then grows without bound).
	RollupAt int
}

// DefaultRollupAt is the queue length past which a Collator rolls items up
// into their parent directories when Config.RollupAt is zero.
const DefaultRollupAt = 10_000
