package watcher

// watchIndex finds the watches recorded at and below a path in time
// linear in their number (plus the path's depth), so dropping or moving a
// subtree never scans every watch: a tree of path components whose nodes
// hold the watch descriptors recorded under their path. A node lives while
// it holds a descriptor or has children.
type watchIndex struct {
	root indexNode
}

// indexNode is one path component.
type indexNode struct {
	kids map[string]*indexNode
	wds  []int32 // usually one; more while a moved tree is in limbo
}

// add records wd under p ("" is the root).
func (x *watchIndex) add(p string, wd int32) {
	n := &x.root
	for name, rest, ok := firstComponent(p); ok; name, rest, ok = firstComponent(rest) {
		k := n.kids[name]
		if k == nil {
			if n.kids == nil {
				n.kids = make(map[string]*indexNode)
			}
			k = &indexNode{}
			n.kids[name] = k
		}
		n = k
	}
	n.wds = append(n.wds, wd)
}

// remove forgets wd under p and prunes the nodes left empty.
func (x *watchIndex) remove(p string, wd int32) {
	x.root.remove(p, wd)
}

// remove drops wd from the node at p below n; it reports whether n is
// empty afterwards.
func (n *indexNode) remove(p string, wd int32) bool {
	name, rest, ok := firstComponent(p)
	if !ok {
		for i, w := range n.wds {
			if w == wd {
				n.wds = append(n.wds[:i], n.wds[i+1:]...)
				break
			}
		}
	} else if k := n.kids[name]; k != nil && k.remove(rest, wd) {
		delete(n.kids, name)
	}
	return len(n.wds) == 0 && len(n.kids) == 0
}

// appendTree appends the descriptors recorded at p and below it to dst.
func (x *watchIndex) appendTree(dst []int32, p string) []int32 {
	n := &x.root
	for name, rest, ok := firstComponent(p); ok; name, rest, ok = firstComponent(rest) {
		if n = n.kids[name]; n == nil {
			return dst
		}
	}
	stack := []*indexNode{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		dst = append(dst, n.wds...)
		for _, k := range n.kids {
			stack = append(stack, k)
		}
	}
	return dst
}
