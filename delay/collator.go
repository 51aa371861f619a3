package delay

import (
	"fmt"
	"time"

	"github.com/gsync/gsync/internal/change"
)

// defaultMaxDelays is lsyncd's maxDelays default.
const defaultMaxDelays = 1000

// Collator queues items, merges them per path and hands them out as batches,
// one batch in flight at a time.
//
// A Collator is not safe for concurrent use: one owner goroutine calls all
// its methods. It does no I/O and reads the clock only through Config.Now.
//
// Rules (old item queued, new item added; never applied to the in-flight
// batch):
//
//   - Same path, neither a Move: Attrib+Attrib = Attrib; Attrib+X = X;
//     Modify+Attrib/Modify = Modify; Modify+Create = Create;
//     Modify+Delete = Delete; Create+Attrib/Modify/Create = Create;
//     Create+Delete = Delete (not "nothing": the target may already hold the
//     path); Delete+Create = Modify for a file, Create with Recursive for a
//     directory; Delete+Modify/Attrib = Modify; Delete+Delete = Delete. The
//     merged item keeps the old item's queue slot and due time, takes the new
//     item's IsDir and ORs Recursive. There is at most one non-move item per
//     path in the queue.
//
//   - A Delete always carries Recursive: should the path exist again as a
//     directory when the batch runs, its whole subtree is mirrored (IsDir
//     of a Delete may be unknown, e.g. for a retried path). A Delete with
//     IsDir drops the queued non-move items strictly below it.
//
//   - A new Move whose From or Path equals, contains or lies below the path
//     of a queued non-move item, an endpoint of a queued Move, or a path of
//     the in-flight batch, or that is added while a full sync is queued or
//     in flight, is split into Delete(From) + Create(Path, Recursive for a
//     directory). A Move retried through Done is always split.
//
//   - A new Create or Delete exactly on a queued Move's destination degrades
//     that Move, in its slot, to Delete(From); the new item is then queued
//     normally. Other items are queued after a Move (targets apply the
//     renames of a batch before its other paths).
//
//   - Past Config.RollupAt queued items the queue is rolled up (see
//     rollup): memory stays bounded however many events arrive while a
//     batch is in flight or the target is down.
//
// A Batch holds every queued item, in queue order. It is due when the oldest
// queued item is due (its time of Add plus Config.Delay) or when at least
// MaxDelays items wait; later items ride along. A full sync, once asked for,
// replaces the queued items (but for the content changes of files, which
// its quick check may miss: see AddFull) and goes out first, without delay.
type Collator struct {
	now       func() time.Time
	delay     time.Duration
	maxDelays int

	head, tail *entry
	n          int               // queued items
	byPath     map[string]*entry // queued non-move items by path
	paths      pathSet           // paths of queued non-move items
	moveEnds   pathSet           // From and Path of queued moves
	byDest     map[string]*entry // queued moves by destination

	full   bool      // a full sync is queued (always ahead of the items)
	fullAt time.Time // when it was asked for

	lastID       uint64
	inFlight     bool
	inFlightID   uint64
	inFlightFull bool
	inFlightSet  pathSet // paths (and move sources) of the in-flight batch
	// recent holds the paths of batches that ended before recentUntil
	// (Config.MoveGuard); recentFull: one of them was a full sync.
	moveGuard   time.Duration
	recent      pathSet
	recentFull  bool
	recentUntil time.Time

	notBefore time.Time

	rollAt     int  // Config.RollupAt; <= 0: never
	rolledN    int  // queued entries with rolled set
	overloaded bool // the queue was rolled up: due at once

	rules rules
}

// rules switches the safety fixes off; only tests use it, to show that the
// model test catches the rules as first specified.
type rules struct {
	vanishCreateDelete bool // Create+Delete = nothing
	ignoreInFlight     bool // moves are not split by in-flight paths
	plainDelete        bool // a Delete is not Recursive
	moveBehindFull     bool // moves are not split by a queued full sync
	retryMoves         bool // retried moves stay moves
	plainRollup        bool // a rolled-up directory is not synced recursively
}

// entry is one queued item.
type entry struct {
	it         Item
	due        time.Time
	prev, next *entry
	// rolled: a directory that items were rolled up into; it absorbs
	// every later item below it.
	rolled bool
}

// New returns an empty Collator.
func New(cfg Config) *Collator {
	c := &Collator{now: cfg.Now, delay: max(cfg.Delay, 0), maxDelays: cfg.MaxDelays, moveGuard: cfg.MoveGuard}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxDelays <= 0 {
		c.maxDelays = defaultMaxDelays
	}
	switch {
	case cfg.RollupAt == 0:
		c.rollAt = DefaultRollupAt
	case cfg.RollupAt > 0:
		c.rollAt = max(cfg.RollupAt, 2)
	}
	c.inFlightSet, c.recent = newPathSet(), newPathSet()
	c.reset()
	return c
}

// reset empties the item queue (not the full marker).
func (c *Collator) reset() {
	c.head, c.tail, c.n = nil, nil, 0
	c.byPath = make(map[string]*entry)
	c.paths = newPathSet()
	c.moveEnds = newPathSet()
	c.byDest = make(map[string]*entry)
	c.rolledN, c.overloaded = 0, false
}

// Len returns the number of queued items (a queued full sync not counted).
func (c *Collator) Len() int { return c.n }

// Waiting returns up to max queued items in queue order, for status
// reports. The collator is not changed.
func (c *Collator) Waiting(max int) []Item {
	out := make([]Item, 0, min(max, c.n))
	for e := c.head; e != nil && len(out) < max; e = e.next {
		out = append(out, e.it)
	}
	return out
}

// FullQueued reports whether a full sync is queued or in flight.
func (c *Collator) FullQueued() bool { return c.full || c.inFlightFull }

// InFlight reports whether a batch has been handed out and not yet Done.
func (c *Collator) InFlight() bool { return c.inFlight }

// Add queues one change, due Config.Delay from now. An Item with an Op
// outside Create..Move panics.
func (c *Collator) Add(it Item) {
	if it.Op < change.Create || it.Op > change.Move {
		panic(fmt.Sprintf("delay: Add of %v", it.Op))
	}
	c.add(it, c.now().Add(c.delay))
}

// AddFull queues a full sync, which goes out before every queued item. The
// full sync covers most of them, and they are dropped: deletes,
// directories, metadata changes, rolled-up directories. Its quick check
// (size and mtime) cannot see a file rewritten with the same size and
// mtime, though, so the queued content changes of files (Modify, Create,
// the destination of a file Move) stay queued, as Modify, behind it (see
// behindFull). Items added afterwards wait behind the full sync too. The
// in-flight batch is not affected.
func (c *Collator) AddFull() {
	var keep []queuedItem
	for e := c.head; e != nil; e = e.next {
		if it, ok := behindFull(e.it, e.rolled); ok {
			keep = append(keep, queuedItem{it: it, due: e.due})
		}
	}
	c.reset()
	if !c.full {
		c.full = true
		c.fullAt = c.now()
	}
	for _, q := range keep {
		c.add(q.it, q.due)
	}
}

// queuedItem is an item with its due time, while the queue is rebuilt.
type queuedItem struct {
	it     Item
	due    time.Time
	rolled bool
}

// behindFull returns what of a queued item (rolled: a rolled-up directory)
// must still be pushed after a full sync: a content change of a file,
// which the full sync's quick check may not see.
func behindFull(it Item, rolled bool) (Item, bool) {
	if rolled || it.IsDir {
		return Item{}, false
	}
	switch it.Op {
	case change.Modify, change.Create, change.Move:
		return Item{Op: change.Modify, Path: it.Path}, true
	}
	return Item{}, false
}

// Due reports when Next will return a batch if nothing else is added. It
// reports false while a batch is in flight or nothing is queued. The time
// is never before the notBefore given to the last Done.
func (c *Collator) Due() (time.Time, bool) {
	if c.inFlight {
		return time.Time{}, false
	}
	var t time.Time
	switch {
	case c.full:
		t = c.fullAt
	case c.n == 0:
		return time.Time{}, false
	case c.n >= c.maxDelays || c.overloaded:
		t = c.head.due
		if now := c.now(); now.Before(t) {
			t = now
		}
	default:
		t = c.head.due
	}
	if t.Before(c.notBefore) {
		t = c.notBefore
	}
	return t, true
}

// Next hands out the next batch if none is in flight and one is due, and
// marks it in flight until Done. A queued full sync comes first, as
// Batch{Full: true}; otherwise the batch holds every queued item in queue
// order. Batch IDs increase from 1.
func (c *Collator) Next() (Batch, bool) {
	due, ok := c.Due()
	if !ok || c.now().Before(due) {
		return Batch{}, false
	}
	c.lastID++
	c.inFlight, c.inFlightID = true, c.lastID
	c.notBefore = time.Time{}
	if c.full {
		c.full = false
		c.inFlightFull = true
		return Batch{ID: c.lastID, Full: true}, true
	}
	items := make([]Item, 0, c.n)
	for e := c.head; e != nil; e = e.next {
		items = append(items, e.it)
		c.inFlightSet.add(e.it.Path)
		if e.it.Op == change.Move {
			c.inFlightSet.add(e.it.From)
		}
	}
	c.reset()
	return Batch{ID: c.lastID, Items: items}, true
}

// Done ends the in-flight batch. The retry items (failed ones, possibly all
// of the batch) go back in front of the items queued meanwhile: the queue is
// rebuilt by adding retry in order and then the queued items in order, each
// queued item keeping its due time; retry items are due at once. A retried
// Move is queued as Delete(From) + Create(Path): the failed batch may have
// done the rename and synced a new From after it. No batch is
// due before notBefore (zero: no constraint). Retry items are dropped when
// a full sync is queued, since it covers them, but for the content changes
// of files (see AddFull). To retry a failed full sync,
// call AddFull after Done.
//
// Done panics when id is not the batch in flight: that is a bug of the
// owner, and guessing would lose or duplicate changes.
func (c *Collator) Done(id uint64, retry []Item, notBefore time.Time) {
	if !c.inFlight || id != c.inFlightID {
		panic(fmt.Sprintf("delay: Done(%d) but in flight is %d (%t)", id, c.inFlightID, c.inFlight))
	}
	c.guardRecent()
	c.inFlight, c.inFlightFull = false, false
	c.inFlightSet = newPathSet()
	c.notBefore = notBefore
	if c.full {
		// The queued full sync covers the retry items, but for the
		// content changes of files (see AddFull).
		kept := retry[:0:0]
		for _, it := range retry {
			if k, ok := behindFull(it, false); ok {
				kept = append(kept, k)
			}
		}
		retry = kept
	}
	if len(retry) == 0 {
		return
	}
	old := make([]queuedItem, 0, c.n)
	for e := c.head; e != nil; e = e.next {
		old = append(old, queuedItem{e.it, e.due, e.rolled})
	}
	overloaded := c.overloaded
	c.reset()
	now := c.now()
	for _, it := range retry {
		if it.Op == change.Move && !c.rules.retryMoves {
			// The failed batch may have renamed From and then synced
			// a new From: renaming again would move the wrong entry.
			c.split(it, now)
			continue
		}
		c.add(it, now)
	}
	for _, q := range old {
		c.add(q.it, q.due)
		if x := c.byPath[q.it.Path]; q.rolled && x != nil && !x.rolled {
			x.rolled = true
			c.rolledN++
		}
	}
	c.overloaded = c.overloaded || overloaded
}

// guardRecent keeps the paths of the batch that just ended blocking
// renames for Config.MoveGuard, together with those of batches that ended
// within the guard before it.
func (c *Collator) guardRecent() {
	if c.moveGuard <= 0 {
		return
	}
	now := c.now()
	if !now.Before(c.recentUntil) {
		c.recent, c.recentFull = newPathSet(), false
	}
	for p, n := range c.inFlightSet.nodes {
		for range n.here {
			c.recent.add(p)
		}
	}
	c.recentFull = c.recentFull || c.inFlightFull
	c.recentUntil = now.Add(c.moveGuard)
}

// add queues it with the given due time, applying the rules.
func (c *Collator) add(it Item, due time.Time) {
	if it.Op == change.Move {
		c.addMove(it, due)
	} else {
		c.addPlain(it, due)
	}
	if c.rollAt > 0 && c.n > c.rollAt {
		c.rollup()
	}
}

func (c *Collator) addMove(it Item, due time.Time) {
	if c.moveBlocked(it.From) || c.moveBlocked(it.Path) {
		c.split(it, due)
		return
	}
	e := c.push(it, due)
	c.moveEnds.add(it.From)
	c.moveEnds.add(it.Path)
	c.byDest[it.Path] = e
}

// split queues a move as Delete(From) + Create(Path), the Create recursive
// for a directory.
func (c *Collator) split(it Item, due time.Time) {
	c.addPlain(Item{Op: change.Delete, Path: it.From, IsDir: it.IsDir}, due)
	c.addPlain(Item{Op: change.Create, Path: it.Path, IsDir: it.IsDir, Recursive: it.IsDir || it.Recursive}, due)
}

// moveBlocked reports whether a move endpoint p touches a queued item, a
// queued move or the in-flight batch. A full sync, queued or in flight,
// touches every path: it reads the source after the move happened, so the
// target's From may no longer be the entry that was moved.
func (c *Collator) moveBlocked(p string) bool {
	if c.paths.overlaps(p) || c.moveEnds.overlaps(p) {
		return true
	}
	if c.full && !c.rules.moveBehindFull {
		return true
	}
	if c.rules.ignoreInFlight {
		return false
	}
	if c.now().Before(c.recentUntil) && (c.recentFull || c.recent.overlaps(p)) {
		return true
	}
	return c.inFlightFull || c.inFlightSet.overlaps(p)
}

func (c *Collator) addPlain(it Item, due time.Time) {
	if it.Op == change.Delete && !c.rules.plainDelete {
		it.Recursive = true
	}
	if it.Op == change.Create || it.Op == change.Delete {
		if m := c.byDest[it.Path]; m != nil {
			c.degrade(m)
		}
	}
	if c.rolledN > 0 && c.rolledAbove(it.Path) {
		return // the recursive sync of a rolled-up directory covers it
	}
	x := c.byPath[it.Path]
	if x == nil {
		x = c.push(it, due)
		c.byPath[it.Path] = x
		c.paths.add(it.Path)
	} else {
		merged, keep := c.combine(x.it, it)
		if !keep {
			c.removePlain(x)
			return
		}
		x.it = merged
	}
	c.afterPlain(x)
}

// afterPlain applies the rules that follow from a queued non-move item.
func (c *Collator) afterPlain(x *entry) {
	if x.it.Op == change.Delete && x.it.IsDir {
		for _, p := range c.paths.below(x.it.Path) {
			c.removePlain(c.byPath[p])
		}
	}
}

// degrade turns the queued move m into Delete(From) in its slot.
func (c *Collator) degrade(m *entry) {
	delete(c.byDest, m.it.Path)
	c.moveEnds.remove(m.it.From)
	c.moveEnds.remove(m.it.Path)
	d := Item{Op: change.Delete, Path: m.it.From, IsDir: m.it.IsDir, Recursive: !c.rules.plainDelete}
	if x := c.byPath[d.Path]; x != nil {
		// x was queued after the move (one queued before would have
		// split it), so it is the newer of the two; merge into m's slot.
		merged, keep := c.combine(d, x.it)
		wasRolled := x.rolled
		c.removePlain(x)
		if !keep {
			c.unlink(m)
			return
		}
		d = merged
		if wasRolled {
			m.rolled = true
			c.rolledN++
		}
	}
	m.it = d
	c.byPath[d.Path] = m
	c.paths.add(d.Path)
	c.afterPlain(m)
}

// combine merges a new non-move item into an older one on the same path.
// keep is false when both vanish (only with rules.vanishCreateDelete).
func (c *Collator) combine(old, nw Item) (merged Item, keep bool) {
	r := nw
	r.Recursive = old.Recursive || nw.Recursive
	switch old.Op {
	case change.Attrib:
		// Attrib+Attrib absorbs; anything else replaces.
	case change.Modify:
		if nw.Op == change.Attrib {
			r.Op = change.Modify
		}
	case change.Create:
		switch nw.Op {
		case change.Attrib, change.Modify, change.Create:
			r.Op = change.Create
		case change.Delete:
			if c.rules.vanishCreateDelete {
				return Item{}, false
			}
		}
	case change.Delete:
		switch nw.Op {
		case change.Create:
			if nw.IsDir {
				r.Recursive = true
			} else {
				r.Op = change.Modify
			}
		case change.Modify, change.Attrib:
			r.Op = change.Modify
		}
	}
	return r, true
}

// push appends a new entry.
func (c *Collator) push(it Item, due time.Time) *entry {
	e := &entry{it: it, due: due, prev: c.tail}
	if c.tail == nil {
		c.head = e
	} else {
		c.tail.next = e
	}
	c.tail = e
	c.n++
	return e
}

// unlink takes e out of the queue list.
func (c *Collator) unlink(e *entry) {
	if e.prev == nil {
		c.head = e.next
	} else {
		e.prev.next = e.next
	}
	if e.next == nil {
		c.tail = e.prev
	} else {
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
	c.n--
}

// removePlain drops a queued non-move item.
func (c *Collator) removePlain(e *entry) {
	if e.rolled {
		e.rolled = false
		c.rolledN--
	}
	c.unlink(e)
	delete(c.byPath, e.it.Path)
	c.paths.remove(e.it.Path)
}
