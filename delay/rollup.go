package delay

import "github.com/gsync/gsync/internal/change"

// The roll-up keeps the queue bounded, in the manner of Syncthing's event
// aggregator: past Config.RollupAt items, the paths below some directory
// level are replaced by one recursive sync of their ancestor at that level.
// A batch is state-based, so a recursive sync of a directory mirrors every
// change below it, whatever the individual items were; only renames are
// lost (they become transfers) and the target has more to compare.

// rollup shrinks the queue to at most c.rollAt/2 items: queued moves are
// split into Delete + Create, then every item deeper than the chosen level
// L is replaced by a recursive sync of its ancestor at depth L (depth 1 is
// a top-level name). L is the deepest level that is small enough; when not
// even depth 1 is, the queue becomes a full sync, due when the oldest
// queued item was due.
func (c *Collator) rollup() {
	c.overloaded = true
	for e := c.head; e != nil; {
		next := e.next
		if e.it.Op == change.Move {
			c.splitQueued(e)
		}
		e = next
	}
	goal := max(c.rollAt/2, 1)
	if c.n <= goal {
		return
	}
	// Per depth d: nodes of c.paths (paths with a member at or below them)
	// and members. Rolling up at level L leaves the members above L plus
	// one item per node at depth L.
	var nodes, members []int
	var count func(n *pnode, d int)
	count = func(n *pnode, d int) {
		for len(nodes) <= d {
			nodes, members = append(nodes, 0), append(members, 0)
		}
		nodes[d]++
		if n.here > 0 {
			members[d]++
		}
		for _, k := range n.kids {
			count(k, d+1)
		}
	}
	if root := c.paths.nodes[""]; root != nil {
		count(root, 0)
	}
	level, above := 0, 0
	for d := 1; d < len(nodes); d++ {
		if above+nodes[d] > goal {
			break
		}
		level = d
		above += members[d]
	}
	if level == 0 {
		c.rollToFull()
		return
	}
	var at []string
	var collect func(n *pnode, d int)
	collect = func(n *pnode, d int) {
		if d == level {
			if n.below > 0 {
				at = append(at, n.path)
			}
			return
		}
		for _, k := range n.kids {
			collect(k, d+1)
		}
	}
	collect(c.paths.nodes[""], 0)
	for _, dir := range at {
		c.rollInto(dir)
	}
}

// rollInto replaces the queued items strictly below dir by one recursive
// sync of dir, in the queue slot of the earliest due of them (or of dir's
// own item), due at the earliest of their due times.
func (c *Collator) rollInto(dir string) {
	below := c.paths.below(dir)
	x := c.byPath[dir]
	keep := x
	for _, p := range below {
		e := c.byPath[p]
		if keep == nil || e.due.Before(keep.due) {
			keep = e
		}
	}
	due := keep.due
	rolled := Item{Op: change.Modify, Path: dir, IsDir: true, Recursive: !c.rules.plainRollup}
	if x != nil {
		rolled, _ = c.combine(x.it, rolled) // never vanishes: rolled is no Delete
	}
	for _, p := range below {
		if e := c.byPath[p]; e != keep {
			c.removePlain(e)
		}
	}
	if x != nil && x != keep {
		c.removePlain(x)
	}
	if keep.it.Path != dir {
		delete(c.byPath, keep.it.Path)
		c.paths.remove(keep.it.Path)
		c.byPath[dir] = keep
		c.paths.add(dir)
	}
	keep.it, keep.due = rolled, due
	if !keep.rolled {
		keep.rolled = true
		c.rolledN++
	}
}

// rollToFull replaces the queue by a full sync due when its oldest item
// was (a full sync already queued keeps its time).
func (c *Collator) rollToFull() {
	due := c.now()
	for e := c.head; e != nil; e = e.next {
		if e.due.Before(due) {
			due = e.due
		}
	}
	c.reset()
	if !c.full {
		c.full, c.fullAt = true, due
	}
}

// splitQueued turns the queued move m into Delete(From), in m's slot, plus
// Create(Path), recursive for a directory, merged with the items queued
// after m on those paths (which are newer).
func (c *Collator) splitQueued(m *entry) {
	mv := m.it
	due := m.due
	c.degrade(m)
	cr := Item{Op: change.Create, Path: mv.Path, IsDir: mv.IsDir, Recursive: mv.IsDir || mv.Recursive}
	if c.rolledN > 0 && c.rolledAbove(cr.Path) {
		return
	}
	if x := c.byPath[cr.Path]; x != nil {
		merged, keep := c.combine(cr, x.it)
		if !keep { // only with rules.vanishCreateDelete
			c.removePlain(x)
			return
		}
		x.it = merged
		if due.Before(x.due) {
			x.due = due
		}
		c.afterPlain(x)
		return
	}
	x := c.push(cr, due)
	c.byPath[cr.Path] = x
	c.paths.add(cr.Path)
	c.afterPlain(x)
}

// rolledAbove reports whether a strict ancestor of p is a rolled-up
// directory in the queue.
func (c *Collator) rolledAbove(p string) bool {
	for q, ok := parentPath(p); ok && q != ""; q, ok = parentPath(q) {
		if e := c.byPath[q]; e != nil && e.rolled {
			return true
		}
	}
	return false
}
