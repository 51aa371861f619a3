package watcher

import (
	"errors"
	"hash/maphash"
	"unsafe"
)

// The inotify backend keeps one compact tree of the watched directories
// (dirTree): a node per directory with its parent and its own name, never
// its full path (paths are built when an event is reported), linked to
// its siblings so a subtree is walked, dropped or moved in time linear in
// its size (a rename moves one node). Nodes live in chunks of a slab and
// refer to each other by index, their names in chunks of bytes, so a node
// costs 28 bytes plus its name, no allocation of its own and nothing for
// the garbage collector to scan. Two hash tables of indexes find a node
// by (parent, name) and by watch descriptor. About 45 heap bytes per
// watched directory; the three maps of full paths this replaces held
// about 200.

// errLoop refuses a directory whose watch is already that of a directory
// above it: a bind mount of a directory inside its own tree.
var errLoop = errors.New("directory already watched above itself (bind mount loop); not descended")

// maxDepth bounds the walk from a node up to the root: deeper than any
// path the kernel accepts (PATH_MAX 4096, at least 2 bytes per level).
const maxDepth = 2048

// nodeID is the index of a node in the slab; 0 is none.
type nodeID int32

// dirNode is one watched directory.
type dirNode struct {
	parent  nodeID // none for the root, and for a subtree moved away (limbo)
	first   nodeID // first child
	next    nodeID // siblings (or, for a free slot, the next free one)
	prev    nodeID
	wd      int32  // 0: a free slot
	nameOff uint32 // its name in parent ("" for the root), in names
	nameLen uint16
}

// chunkBits sizes the slab's chunks (4096 nodes, 160 KiB): the slab grows
// without copying and wastes at most one chunk.
const chunkBits = 12

// dirTree is the tree of watched directories.
type dirTree struct {
	chunks []*[1 << chunkBits]dirNode
	used   int    // slots handed out, free ones included
	free   nodeID // free list through dirNode.next
	root   nodeID
	byName nameTable
	byWD   wdTable
	n      int // live nodes
	names  nameArena
}

// name returns the name of a node of x.
func (x *dirTree) name(n *dirNode) string { return x.names.get(n.nameOff, n.nameLen) }

// setName gives n the name s (its old one is dropped).
func (x *dirTree) setName(n *dirNode, s string) {
	if x.name(n) == s {
		return
	}
	x.names.dead += int(n.nameLen)
	n.nameOff, n.nameLen = x.names.put(s), uint16(len(s))
}

// at returns the node id.
func (x *dirTree) at(id nodeID) *dirNode {
	return &x.chunks[id>>chunkBits][id&(1<<chunkBits-1)]
}

// add creates the node of the directory name in parent (none: the root)
// watched as wd, which is not in the tree.
func (x *dirTree) add(parent nodeID, name string, wd int32) nodeID {
	id := x.free
	if id != 0 {
		x.free = x.at(id).next
	} else {
		if x.used == 0 {
			x.used = 1 // slot 0 is none
		}
		if x.used>>chunkBits == len(x.chunks) {
			x.chunks = append(x.chunks, new([1 << chunkBits]dirNode))
		}
		id = nodeID(x.used)
		x.used++
	}
	n := x.at(id)
	*n = dirNode{wd: wd}
	x.setName(n, name)
	if parent == 0 {
		x.root = id
	} else {
		x.attach(id, parent, name)
	}
	x.byWD.set(wd, id)
	x.n++
	return id
}

// get returns the node watched as wd, or none.
func (x *dirTree) get(wd int32) nodeID { return x.byWD.get(wd) }

// alive reports whether id is still the node watched as wd.
func (x *dirTree) alive(id nodeID, wd int32) bool {
	return id != 0 && x.byWD.get(wd) == id && x.at(id).wd == wd
}

// attach hangs the detached node id below parent as name.
func (x *dirTree) attach(id, parent nodeID, name string) {
	n, p := x.at(id), x.at(parent)
	x.setName(n, name)
	n.parent, n.prev, n.next = parent, 0, p.first
	if p.first != 0 {
		x.at(p.first).prev = id
	}
	p.first = id
	x.byName.add(x, id)
}

// detach takes id and its subtree out of the tree (into limbo).
func (x *dirTree) detach(id nodeID) {
	n := x.at(id)
	if n.parent == 0 {
		return
	}
	x.byName.remove(x, id)
	if n.prev != 0 {
		x.at(n.prev).next = n.next
	} else {
		x.at(n.parent).first = n.next
	}
	if n.next != 0 {
		x.at(n.next).prev = n.prev
	}
	n.parent, n.prev, n.next = 0, 0, 0
}

// drop forgets the node id: its children, if any are left, are detached
// (their own IN_IGNORED drops them), and its slot is reused.
func (x *dirTree) drop(id nodeID) {
	x.detach(id)
	n := x.at(id)
	for k := n.first; k != 0; k = n.first {
		x.detach(k)
	}
	x.byWD.del(n.wd)
	x.n--
	if id == x.root {
		n.wd = 0 // never reused: stays the root events are reported against
		return
	}
	x.names.dead += int(n.nameLen)
	*n = dirNode{next: x.free}
	x.free = id
	if x.names.dead > x.names.size()/2 && x.names.dead > nameChunk {
		x.compactNames()
	}
}

// compactNames copies the names of the live nodes into new chunks.
func (x *dirTree) compactNames() {
	var fresh nameArena
	for id := 1; id < x.used; id++ {
		n := x.at(nodeID(id))
		if n.wd != 0 {
			n.nameOff = fresh.put(x.name(n))
		}
	}
	x.names = fresh
}

// appendNamed appends the children of parent called name to dst (two may
// share a name for a moment: a directory replaced before the old one's
// IN_IGNORED was read).
func (x *dirTree) appendNamed(dst []nodeID, parent nodeID, name string) []nodeID {
	return x.byName.appendNamed(dst, x, parent, name)
}

// appendSubtree appends top and every node below it to dst.
func (x *dirTree) appendSubtree(dst []nodeID, top nodeID) []nodeID {
	start := len(dst)
	dst = append(dst, top)
	for i := start; i < len(dst); i++ { // breadth first over dst itself
		for k := x.at(dst[i]).first; k != 0; k = x.at(k).next {
			dst = append(dst, k)
		}
	}
	return dst
}

// within reports whether id is top or lies below it.
func (x *dirTree) within(id, top nodeID) bool {
	for i := 0; id != 0 && i < maxDepth; i++ {
		if id == top {
			return true
		}
		id = x.at(id).parent
	}
	return false
}

// pathOf returns the path of id relative to the root ("" for the root);
// ok is false when id does not hang below the root (limbo).
func (x *dirTree) pathOf(id nodeID) (string, bool) {
	var stack [32]*dirNode
	up := stack[:0]
	size := 0
	for ; id != x.root; id = x.at(id).parent {
		if id == 0 || len(up) == maxDepth {
			return "", false
		}
		n := x.at(id)
		up = append(up, n)
		size += int(n.nameLen) + 1
	}
	if len(up) == 0 {
		return "", true
	}
	b := make([]byte, 0, size-1)
	for i := len(up) - 1; i >= 0; i-- {
		if i != len(up)-1 {
			b = append(b, '/')
		}
		b = append(b, x.name(up[i])...)
	}
	return string(b), true
}

// nameTable finds attached nodes by (parent, name): open addressing with
// linear probing over node indexes (the key is read from the node, not
// stored twice).
type nameTable struct {
	slots []nodeID // power-of-two length, at most 7/8 full
	n     int
	seed  maphash.Seed
}

// home is where the probe sequence of (parent, name) starts.
func (t *nameTable) home(parent nodeID, name string) int {
	h := maphash.String(t.seed, name) ^ uint64(parent)*0x9e3779b97f4a7c15
	h ^= h >> 29
	return int(h & uint64(len(t.slots)-1))
}

func (t *nameTable) add(x *dirTree, id nodeID) {
	if (t.n+1)*8 > len(t.slots)*7 {
		t.grow(x)
	}
	t.put(x, id)
	t.n++
}

func (t *nameTable) put(x *dirTree, id nodeID) {
	n := x.at(id)
	mask := len(t.slots) - 1
	i := t.home(n.parent, x.name(n))
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = id
}

// grow doubles the table (makes the first one).
func (t *nameTable) grow(x *dirTree) {
	if t.slots == nil {
		t.seed = maphash.MakeSeed()
	}
	old := t.slots
	t.slots = make([]nodeID, max(64, 2*len(old)))
	for _, id := range old {
		if id != 0 {
			t.put(x, id)
		}
	}
}

// remove deletes id. Backward-shift deletion keeps every probe sequence
// unbroken without tombstones.
func (t *nameTable) remove(x *dirTree, id nodeID) {
	if t.n == 0 {
		return
	}
	n := x.at(id)
	mask := len(t.slots) - 1
	i := t.home(n.parent, x.name(n))
	for t.slots[i] != id {
		if t.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	t.n--
	for j := (i + 1) & mask; t.slots[j] != 0; j = (j + 1) & mask {
		// Move slots[j] into the hole at i unless its home lies
		// cyclically in (i, j]: then it must stay where it is.
		k := x.at(t.slots[j])
		home := t.home(k.parent, x.name(k))
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = 0
}

func (t *nameTable) appendNamed(dst []nodeID, x *dirTree, parent nodeID, name string) []nodeID {
	if t.n == 0 {
		return dst
	}
	mask := len(t.slots) - 1
	for i := t.home(parent, name); t.slots[i] != 0; i = (i + 1) & mask {
		if n := x.at(t.slots[i]); n.parent == parent && x.name(n) == name {
			dst = append(dst, t.slots[i])
		}
	}
	return dst
}

// nameArena holds the names of the nodes in chunks of bytes, written once:
// a name costs its length (no allocation of its own, no pointer), and a
// name handed out as a string stays valid after the arena is compacted
// (the old chunk lives on while it is referenced).
type nameArena struct {
	chunks [][]byte // each of capacity nameChunk
	dead   int      // bytes of names dropped
}

// nameChunk is the size of a chunk; a name is at most 255 bytes (NAME_MAX)
// on Linux, and never longer than a chunk.
const nameChunk = 64 << 10

// put stores s and returns where: chunk index << 16 | offset.
func (a *nameArena) put(s string) uint32 {
	if len(s) == 0 {
		return 0
	}
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+len(s) > nameChunk {
		a.chunks = append(a.chunks, make([]byte, 0, nameChunk))
		last++
	}
	off := len(a.chunks[last])
	a.chunks[last] = append(a.chunks[last], s...)
	return uint32(last)<<16 | uint32(off)
}

// get returns the name stored at ref, n bytes long.
func (a *nameArena) get(ref uint32, n uint16) string {
	if n == 0 {
		return ""
	}
	c := a.chunks[ref>>16]
	return unsafe.String(&c[ref&(nameChunk-1)], int(n))
}

// size is the number of bytes stored.
func (a *nameArena) size() int {
	if len(a.chunks) == 0 {
		return 0
	}
	return (len(a.chunks)-1)*nameChunk + len(a.chunks[len(a.chunks)-1])
}

// wdTable finds a node by watch descriptor. The kernel hands out
// descriptors in increasing order (idr_alloc_cyclic in
// fs/notify/inotify/inotify_user.c, inotify_add_to_idr), so a tree
// watched at startup has dense descriptors and a slice indexed by them is
// the smallest table; once churn has made them sparse (the slice would be
// more than twice the live count) the table turns into a map.
type wdTable struct {
	dense  []nodeID
	sparse map[int32]nodeID
	n      int
}

// sparseSlack is how far the dense slice may outgrow twice the live count.
const sparseSlack = 4096

func (t *wdTable) get(wd int32) nodeID {
	if t.sparse != nil {
		return t.sparse[wd]
	}
	if wd < 0 || int(wd) >= len(t.dense) {
		return 0
	}
	return t.dense[wd]
}

// set enters id under wd, which is not in t.
func (t *wdTable) set(wd int32, id nodeID) {
	t.n++
	if t.sparse == nil && wd >= 0 && int(wd) < 2*t.n+sparseSlack {
		for int(wd) >= len(t.dense) { // bounded by the condition above
			t.dense = append(t.dense, 0)
		}
		t.dense[wd] = id
		return
	}
	if t.sparse == nil {
		t.sparse = make(map[int32]nodeID, t.n)
		for i, d := range t.dense {
			if d != 0 {
				t.sparse[int32(i)] = d
			}
		}
		t.dense = nil
	}
	t.sparse[wd] = id
}

// del removes wd, which is in t.
func (t *wdTable) del(wd int32) {
	t.n--
	if t.sparse != nil {
		delete(t.sparse, wd)
		return
	}
	t.dense[wd] = 0
}
