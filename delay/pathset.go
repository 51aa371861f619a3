package delay

import "strings"

// pathSet is a multiset of slash-separated paths kept as a tree, so that
// "does p overlap a member" (equal, ancestor or descendant, on whole path
// components) costs O(depth of p) and the members below a path can be listed
// in time proportional to that subtree. The root is the empty path "".
type pathSet struct {
	nodes map[string]*pnode
}

// pnode is one path in a pathSet. A node exists only while it or something
// below it is a member.
type pnode struct {
	path   string
	parent *pnode
	kids   []*pnode // children, in no particular order
	idx    int      // position in parent.kids
	here   int      // how often path itself is a member
	below  int      // members strictly below path
}

func newPathSet() pathSet { return pathSet{nodes: make(map[string]*pnode)} }

// parentPath returns the parent of p ("" for a top-level name) and false
// for the root itself.
func parentPath(p string) (string, bool) {
	if p == "" {
		return "", false
	}
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", true
	}
	return p[:i], true
}

// node returns the node of p, creating it and its missing ancestors.
func (s *pathSet) node(p string) *pnode {
	if n, ok := s.nodes[p]; ok {
		return n
	}
	n := &pnode{path: p}
	s.nodes[p] = n
	if pp, ok := parentPath(p); ok {
		par := s.node(pp)
		n.parent = par
		n.idx = len(par.kids)
		par.kids = append(par.kids, n)
	}
	return n
}

// add makes p a member (once more).
func (s *pathSet) add(p string) {
	n := s.node(p)
	n.here++
	for a := n.parent; a != nil; a = a.parent {
		a.below++
	}
}

// remove takes one membership of p away; p must be a member.
func (s *pathSet) remove(p string) {
	n := s.nodes[p]
	if n == nil || n.here == 0 {
		panic("delay: pathSet.remove of a non-member " + p)
	}
	n.here--
	for a := n.parent; a != nil; a = a.parent {
		a.below--
	}
	for n != nil && n.here == 0 && n.below == 0 {
		delete(s.nodes, n.path)
		par := n.parent
		if par != nil {
			last := par.kids[len(par.kids)-1]
			par.kids[n.idx] = last
			last.idx = n.idx
			par.kids[len(par.kids)-1] = nil
			par.kids = par.kids[:len(par.kids)-1]
		}
		n = par
	}
}

// overlaps reports whether a member equals p, is an ancestor of p or lies
// below p.
func (s *pathSet) overlaps(p string) bool {
	if len(s.nodes) == 0 {
		return false
	}
	if _, ok := s.nodes[p]; ok {
		return true // nodes exist only with members at or below them
	}
	for q := p; ; {
		pp, ok := parentPath(q)
		if !ok {
			return false
		}
		if n, ok := s.nodes[pp]; ok {
			for ; n != nil; n = n.parent {
				if n.here > 0 {
					return true
				}
			}
			return false
		}
		q = pp
	}
}

// below lists the members strictly below p (each once).
func (s *pathSet) below(p string) []string {
	n := s.nodes[p]
	if n == nil || n.below == 0 {
		return nil
	}
	var out []string
	var walk func(*pnode)
	walk = func(n *pnode) {
		for _, k := range n.kids {
			if k.here > 0 {
				out = append(out, k.path)
			}
			if k.below > 0 {
				walk(k)
			}
		}
	}
	walk(n)
	return out
}
