package watcher

import (
	"fmt"
	"hash/maphash"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// checkTree checks the tree of watched directories against model (the
// path of every watch descriptor that must be watched) and its own
// invariants: every node reachable from the root is watched under its
// descriptor, is a child of its parent's table under its name, and every
// child table counts what it holds.
func checkTree(t *testing.T, w *inotifyWatcher, model map[int32]string, step string) {
	t.Helper()
	got := make(map[int32]string)
	for _, n := range appendSubtree(nil, w.top) {
		if w.byWD.get(n.wd) != n {
			t.Fatalf("%s: node %q (wd %d) reachable but not in the wd table", step, n.name, n.wd)
		}
		p, ok := pathOf(w.top, n)
		if !ok {
			t.Fatalf("%s: node %q reachable but has no path", step, n.name)
		}
		got[n.wd] = p
		if n.parent != nil && !slices.Contains(n.parent.kids.appendNamed(nil, n.name), n) {
			t.Fatalf("%s: %q not found by name in its parent", step, p)
		}
		if kids := n.kids.appendAll(nil); n.kids != nil && (len(kids) != n.kids.n || n.kids.n == 0) {
			t.Fatalf("%s: %q holds %d children, counts %d", step, p, len(kids), n.kids.n)
		}
	}
	if w.byWD.n != len(got) {
		t.Fatalf("%s: %d watches in the table, %d reachable", step, w.byWD.n, len(got))
	}
	if !maps.Equal(got, model) {
		t.Fatalf("%s: tree %v, want %v", step, got, model)
	}
}

// TestWatchTreeFollowsEvents runs random deletes, moves within the tree,
// moves out of it and IN_IGNORED through the event handler and checks the
// tree against a model of the paths after every step: a deleted or
// moved-out subtree leaves no watch behind, a moved one is found under its
// new path only. One directory has more children than a small table holds.
func TestWatchTreeFollowsEvents(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	dirs := []string{"", "wide"}
	for i := range 150 {
		dirs = append(dirs, fmt.Sprintf("wide/w%d", i))
	}
	for i := range 200 {
		parent := dirs[rng.IntN(len(dirs))]
		dirs = append(dirs, joinRel(parent, fmt.Sprintf("d%d", i)))
	}
	w := tableWatcher(t, dirs...)
	w.events = make(chan Event, 1<<16)
	model := make(map[int32]string)
	for i, d := range dirs {
		model[int32(i+1)] = d
	}
	checkTree(t, w, model, "start")
	now := time.Now()
	for step := range 300 {
		if len(model) <= 1 {
			break
		}
		wds := slices.Sorted(maps.Keys(model))
		target := model[wds[1+rng.IntN(len(wds)-1)]]
		parent, name := splitRel(target)
		pwd := wdAt(w, parent)
		var buf []byte
		to := ""
		switch step % 3 {
		case 0: // rm -rf: the subtree's watches go
			buf = rawEvent(pwd, unix.IN_DELETE|unix.IN_ISDIR, 0, name)
		case 1: // moved out of the tree: dropped once the grace has passed
			buf = rawEvent(pwd, unix.IN_MOVED_FROM|unix.IN_ISDIR, uint32(step+1), name)
		case 2: // moved to the root or into "wide", under a new name
			dst := [2]string{"", "wide"}[rng.IntN(2)]
			if inTree(dst, target) || nodeAt(w, dst) == nil { // "wide" itself may have moved
				dst = ""
			}
			to = joinRel(dst, fmt.Sprintf("m%d", step))
			buf = append(rawEvent(pwd, unix.IN_MOVED_FROM|unix.IN_ISDIR, uint32(step+1), name),
				rawEvent(wdAt(w, dst), unix.IN_MOVED_TO|unix.IN_ISDIR, uint32(step+1), baseName(to))...)
		}
		for wd, p := range model {
			switch {
			case !inTree(p, target):
			case to == "":
				delete(model, wd)
			default:
				model[wd] = to + p[len(target):]
			}
		}
		w.process(buf, now)
		w.expire(now.Add(time.Hour), true)
		w.flush()
		checkTree(t, w, model, fmt.Sprintf("step %d (%s %q -> %q)", step, [3]string{"delete", "move out", "move"}[step%3], target, to))
	}
}

// TestKidTable adds and removes children, some sharing a name, in random
// order and checks every lookup against a model, across the table's
// growth and its backward-shift deletion.
func TestKidTable(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	tab := &kidTable{seed: maphash.MakeSeed()}
	var live []*dirNode
	for i := range 5000 {
		if len(live) > 0 && rng.IntN(3) == 0 {
			j := rng.IntN(len(live))
			if !tab.remove(live[j]) {
				t.Fatalf("step %d: remove %q: not found", i, live[j].name)
			}
			live = slices.Delete(live, j, j+1)
		} else {
			k := &dirNode{name: fmt.Sprintf("n%d", rng.IntN(400))}
			tab.add(k)
			live = append(live, k)
		}
		if tab.n != len(live) {
			t.Fatalf("step %d: n = %d, want %d", i, tab.n, len(live))
		}
		if i%50 != 0 {
			continue
		}
		for _, k := range live {
			var want []*dirNode
			for _, o := range live {
				if o.name == k.name {
					want = append(want, o)
				}
			}
			got := tab.appendNamed(nil, k.name)
			if len(got) != len(want) || !slices.Contains(got, k) {
				t.Fatalf("step %d: %d children named %q found, want %d", i, len(got), k.name, len(want))
			}
		}
	}
	if tab.remove(&dirNode{name: "n1"}) {
		t.Error("removed a child that was never added")
	}
}

// TestWDTableTurnsSparse: descriptors handed out densely live in a slice;
// when churn has made them sparse the table keeps working as a map.
func TestWDTableTurnsSparse(t *testing.T) {
	t.Parallel()
	var tab wdTable
	nodes := make(map[int32]*dirNode)
	for wd := int32(1); wd <= 1000; wd++ {
		nodes[wd] = &dirNode{wd: wd}
		tab.set(wd, nodes[wd])
	}
	if tab.sparse != nil {
		t.Fatal("dense descriptors went into a map")
	}
	// mkdir and rmdir over and over: descriptors keep growing.
	for wd := int32(1001); wd <= 20_000; wd++ {
		tab.set(wd, &dirNode{wd: wd})
		tab.del(wd)
	}
	if tab.sparse == nil || tab.dense != nil {
		t.Fatal("sparse descriptors still in a slice")
	}
	for wd, n := range nodes {
		if tab.get(wd) != n {
			t.Fatalf("get(%d) lost after the switch", wd)
		}
	}
	if tab.get(5000) != nil || tab.n != 1000 {
		t.Fatalf("get(5000) = %v, n = %d; want nil, 1000", tab.get(5000), tab.n)
	}
}

// splitRel splits a relative path into its parent ("" for the root) and
// its last name.
func splitRel(p string) (string, string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i], p[i+1:]
		}
	}
	return "", p
}
