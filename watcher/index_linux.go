package watcher

import (
	"errors"
	"hash/maphash"
)

// errLoop refuses a directory whose watch is already that of a directory
// above it: a bind mount of a directory inside its own tree.
var errLoop = errors.New("directory already watched above itself (bind mount loop); not descended")

// The inotify backend keeps one compact tree of the watched directories:
// a node per directory with its parent and its own name, never its full
// path (paths are built when an event is reported), its children in a
// small hash table by name (so a subtree is found, dropped or moved in
// time linear in its size, and a rename moves one node), and a table from
// watch descriptor to node. About 80 heap bytes per watched directory;
// three maps of full paths held about 200.

// maxDepth bounds the walk from a node up to the root: deeper than any
// path the kernel accepts (PATH_MAX 4096, at least 2 bytes per level).
const maxDepth = 2048

// dirNode is one watched directory.
type dirNode struct {
	parent *dirNode // nil for the root, and for a subtree moved away (limbo) or dropped
	name   string   // its name in parent; "" for the root
	kids   *kidTable
	wd     int32
}

// within reports whether n is top or lies below it.
func (n *dirNode) within(top *dirNode) bool {
	for i := 0; n != nil && i < maxDepth; i++ {
		if n == top {
			return true
		}
		n = n.parent
	}
	return false
}

// pathOf returns the path of n relative to root ("" for the root); ok is
// false when n does not hang below root.
func pathOf(root, n *dirNode) (string, bool) {
	var stack [32]*dirNode
	up := stack[:0]
	size := 0
	for ; n != root; n = n.parent {
		if n == nil || len(up) == maxDepth {
			return "", false
		}
		up = append(up, n)
		size += len(n.name) + 1
	}
	if len(up) == 0 {
		return "", true
	}
	b := make([]byte, 0, size-1)
	for i := len(up) - 1; i >= 0; i-- {
		if i != len(up)-1 {
			b = append(b, '/')
		}
		b = append(b, up[i].name...)
	}
	return string(b), true
}

// appendSubtree appends top and every node below it to dst.
func appendSubtree(dst []*dirNode, top *dirNode) []*dirNode {
	start := len(dst)
	dst = append(dst, top)
	for i := start; i < len(dst); i++ { // breadth first over dst itself
		dst = dst[i].kids.appendAll(dst)
	}
	return dst
}

// kidTable holds the children of a directory: open addressing with
// linear probing over node pointers, hashed by name (names are not stored
// twice). Two children may share a name for a moment (a directory
// replaced before the old one's IN_IGNORED was read); lookups see both.
type kidTable struct {
	slots []*dirNode // power-of-two length, at most 3/4 full
	n     int
	seed  maphash.Seed
}

// slot is where name's probe sequence starts.
func (t *kidTable) slot(name string) int {
	return int(maphash.String(t.seed, name) & uint64(len(t.slots)-1))
}

// add inserts k (which is not in t).
func (t *kidTable) add(k *dirNode) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	mask := len(t.slots) - 1
	i := t.slot(k.name)
	for t.slots[i] != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = k
	t.n++
}

// grow doubles the table (allocates the first one).
func (t *kidTable) grow() {
	old := t.slots
	t.slots = make([]*dirNode, max(4, 2*len(old)))
	t.n = 0
	for _, k := range old {
		if k != nil {
			t.add(k)
		}
	}
}

// remove deletes k; it reports whether k was there. Backward-shift
// deletion keeps every probe sequence unbroken without tombstones.
func (t *kidTable) remove(k *dirNode) bool {
	if t == nil || t.n == 0 {
		return false
	}
	mask := len(t.slots) - 1
	i := t.slot(k.name)
	for t.slots[i] != k {
		if t.slots[i] == nil {
			return false
		}
		i = (i + 1) & mask
	}
	t.n--
	for j := (i + 1) & mask; t.slots[j] != nil; j = (j + 1) & mask {
		// Move slots[j] into the hole at i unless its home lies
		// cyclically in (i, j]: then it must stay where it is.
		home := t.slot(t.slots[j].name)
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = nil
	return true
}

// appendNamed appends the children called name to dst.
func (t *kidTable) appendNamed(dst []*dirNode, name string) []*dirNode {
	if t == nil || t.n == 0 {
		return dst
	}
	mask := len(t.slots) - 1
	for i := t.slot(name); t.slots[i] != nil; i = (i + 1) & mask {
		if t.slots[i].name == name {
			dst = append(dst, t.slots[i])
		}
	}
	return dst
}

// appendAll appends every child to dst.
func (t *kidTable) appendAll(dst []*dirNode) []*dirNode {
	if t == nil {
		return dst
	}
	for _, k := range t.slots {
		if k != nil {
			dst = append(dst, k)
		}
	}
	return dst
}

// wdTable finds a node by watch descriptor. The kernel hands out
// descriptors in increasing order (idr_alloc_cyclic in
// fs/notify/inotify/inotify_user.c, inotify_add_to_idr), so a tree
// watched at startup has dense descriptors and a slice indexed by them is
// the smallest table; once churn has made them sparse (the slice would be
// more than twice the live count) the table turns into a map.
type wdTable struct {
	dense  []*dirNode
	sparse map[int32]*dirNode
	n      int
}

// sparseSlack is how far the dense slice may outgrow twice the live count.
const sparseSlack = 4096

func (t *wdTable) get(wd int32) *dirNode {
	if t.sparse != nil {
		return t.sparse[wd]
	}
	if wd < 0 || int(wd) >= len(t.dense) {
		return nil
	}
	return t.dense[wd]
}

// set enters n under wd, which is not in t.
func (t *wdTable) set(wd int32, n *dirNode) {
	t.n++
	if t.sparse == nil && wd >= 0 && int(wd) < 2*t.n+sparseSlack {
		for int(wd) >= len(t.dense) { // bounded by the condition above
			t.dense = append(t.dense, nil)
		}
		t.dense[wd] = n
		return
	}
	if t.sparse == nil {
		t.sparse = make(map[int32]*dirNode, t.n)
		for i, d := range t.dense {
			if d != nil {
				t.sparse[int32(i)] = d
			}
		}
		t.dense = nil
	}
	t.sparse[wd] = n
}

// del removes wd, which is in t.
func (t *wdTable) del(wd int32) {
	t.n--
	if t.sparse != nil {
		delete(t.sparse, wd)
		return
	}
	t.dense[wd] = nil
}
