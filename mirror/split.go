package mirror

import (
	"cmp"
	"path"
	"slices"
	"strings"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
)

// splitChanges divides the changes of one batch into at most n groups
// that may be pushed at the same time (lsyncd's maxProcesses): no path
// of one group equals, contains or lies below a path of another. Both
// ends of a move count, a delete or a recursive change covers its
// subtree by the same rule, and a per-directory filter file (mergeFile;
// nil: none) counts as its directory, whose deletes read it. Changes
// that overlap, directly or through others, stay in one group, in batch
// order, so the order of dependent changes is kept; the groups are
// balanced by their number of changes (the largest set of overlapping
// changes first, each to the smallest group so far). lsyncd's own rule
// is the same (lsyncd.lua, Combiner.combine: a delay on a path below a
// directory delay, or above it, is stacked behind it).
//
// The changes linked says so of (nil: none) form one set too, which goes
// to the first group: with -H, every change that may send a name of a
// multiply linked file (see Mirror.hardLinked), since rsync links only
// the names of one file list (hlink.c:match_hard_links), and the target
// brings the other names of a file along into its push.
func splitChanges(changes []transport.Change, n int, mergeFile func(string) bool, linked func(transport.Change) bool) [][]transport.Change {
	if n <= 1 || len(changes) <= 1 {
		return [][]transport.Change{changes}
	}
	// Every path a change touches, sorted so that a path's descendants
	// follow it directly ('/' sorts before every other byte).
	type end struct {
		key string
		idx int
	}
	ends := make([]end, 0, len(changes)+len(changes)/4)
	add := func(p string, i int) {
		p = path.Clean(p)
		if p == change.Root || p == "/" {
			p = ""
		} else if mergeFile != nil && mergeFile(p) {
			p = path.Dir(p)
			if p == "." {
				p = ""
			}
		}
		ends = append(ends, end{strings.ReplaceAll(p, "/", "\x00"), i})
	}
	for i, c := range changes {
		add(c.Path, i)
		if c.Op == change.Move && c.From != "" {
			add(c.From, i)
		}
	}
	slices.SortStableFunc(ends, func(a, b end) int { return strings.Compare(a.key, b.key) })

	// Union-find over change indexes; the stack holds the chain of
	// ancestors of the current path, each already joined to the one
	// below it, so joining the current path to the top joins it to all.
	parent := make([]int, len(changes))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		if ra, rb := find(a), find(b); ra != rb {
			parent[max(ra, rb)] = min(ra, rb)
		}
	}
	var stack []end
	for _, e := range ends {
		for len(stack) > 0 && !coversKey(stack[len(stack)-1].key, e.key) {
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			union(stack[len(stack)-1].idx, e.idx)
		}
		stack = append(stack, e)
	}
	firstLinked := -1
	for i, c := range changes {
		if linked == nil || !linked(c) {
			continue
		}
		if firstLinked < 0 {
			firstLinked = i
		} else {
			union(firstLinked, i)
		}
	}

	// Components in order of their first change, then largest first.
	type comp struct{ first, size int }
	byRoot := map[int]*comp{}
	var comps []*comp
	for i := range changes {
		r := find(i)
		c := byRoot[r]
		if c == nil {
			c = &comp{first: i}
			byRoot[r] = c
			comps = append(comps, c)
		}
		c.size++
	}
	if len(comps) == 1 {
		return [][]transport.Change{changes}
	}
	slices.SortStableFunc(comps, func(a, b *comp) int { return cmp.Compare(b.size, a.size) })
	if firstLinked >= 0 {
		// The linked set first: it takes the first group.
		lc := byRoot[find(firstLinked)]
		i := slices.Index(comps, lc)
		copy(comps[1:i+1], comps[:i])
		comps[0] = lc
	}
	groups := min(n, len(comps))
	load := make([]int, groups)
	groupOf := map[int]int{} // component (its first change) -> group
	for _, c := range comps {
		g := 0
		for j := range load {
			if load[j] < load[g] {
				g = j
			}
		}
		load[g] += c.size
		groupOf[c.first] = g
	}
	out := make([][]transport.Change, groups)
	for i, c := range changes {
		g := groupOf[byRoot[find(i)].first]
		out[g] = append(out[g], c)
	}
	return out
}

// coversKey reports whether the path of key a equals or contains that of
// key b (keys: paths with '/' as NUL, the root "").
func coversKey(a, b string) bool {
	return a == "" || a == b || strings.HasPrefix(b, a+"\x00")
}
