package watcher

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// checkTree checks the tree of watched directories against model (the
// path of every watch descriptor that must be watched) and its own
// invariants: every node reachable from the root is watched under its
// descriptor, is found by name in its parent, and its sibling links agree.
func checkTree(t *testing.T, w *inotifyWatcher, model map[int32]string, step string) {
	t.Helper()
	x := &w.index
	got := make(map[int32]string)
	for _, id := range x.appendSubtree(nil, x.root) {
		n := x.at(id)
		if x.get(n.wd) != id {
			t.Fatalf("%s: node %q (wd %d) reachable but not in the wd table", step, x.name(n), n.wd)
		}
		p, ok := x.pathOf(id)
		if !ok {
			t.Fatalf("%s: node %q reachable but has no path", step, x.name(n))
		}
		got[n.wd] = p
		if n.parent != 0 && !slices.Contains(x.appendNamed(nil, n.parent, x.name(n)), id) {
			t.Fatalf("%s: %q not found by name in its parent", step, p)
		}
		prev := nodeID(0)
		for k := n.first; k != 0; k = x.at(k).next {
			if x.at(k).prev != prev || x.at(k).parent != id {
				t.Fatalf("%s: children of %q badly linked", step, p)
			}
			prev = k
		}
	}
	if x.n != len(got) || x.byWD.n != len(got) || x.byName.n != len(got)-1 {
		t.Fatalf("%s: %d nodes, %d watches, %d names; %d reachable", step, x.n, x.byWD.n, x.byName.n, len(got))
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
			if inTree(dst, target) || nodeAt(w, dst) == 0 { // "wide" itself may have moved
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

// TestNameTable adds and removes directories in a few parents, some
// sharing a name, in random order and checks every lookup by name against
// a model, across the table's growth and its backward-shift deletion,
// that freed slots are reused and that the names' arena is compacted
// (long names, so that it is) without losing a name.
func TestNameTable(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var x dirTree
	parents := []nodeID{x.add(0, "", 1)}
	for i := range 3 {
		parents = append(parents, x.add(parents[0], fmt.Sprint("p", i), int32(i+2)))
	}
	pad := strings.Repeat("x", 200)
	names := make(map[nodeID]string)
	var live []nodeID
	wd := int32(100)
	liveBytes := 0
	for i := range 5000 {
		shrink := i > 2500 && rng.IntN(3) == 0 // then the tree shrinks
		if len(live) > 0 && (rng.IntN(3) == 0 || shrink) {
			j := rng.IntN(len(live))
			x.drop(live[j])
			liveBytes -= len(names[live[j]])
			delete(names, live[j])
			live = slices.Delete(live, j, j+1)
		} else {
			wd++
			name := fmt.Sprintf("%.*sn%d", rng.IntN(len(pad)), pad, rng.IntN(300))
			id := x.add(parents[rng.IntN(len(parents))], name, wd)
			live = append(live, id)
			names[id] = name
			liveBytes += len(name)
		}
		if x.byName.n != len(live)+3 || x.n != len(live)+4 {
			t.Fatalf("step %d: %d names, %d nodes; want %d, %d", i, x.byName.n, x.n, len(live)+3, len(live)+4)
		}
		if x.names.size() > 2*liveBytes+2*nameChunk {
			t.Fatalf("step %d: names take %d bytes for %d live", i, x.names.size(), liveBytes)
		}
		if i%50 != 0 {
			continue
		}
		for _, id := range live {
			n := x.at(id)
			if x.name(n) != names[id] {
				t.Fatalf("step %d: name %q, want %q", i, x.name(n), names[id])
			}
			var want int
			for _, o := range live {
				if x.at(o).parent == n.parent && names[o] == names[id] {
					want++
				}
			}
			got := x.appendNamed(nil, n.parent, names[id])
			if len(got) != want || !slices.Contains(got, id) {
				t.Fatalf("step %d: %d children named %q found, want %d", i, len(got), names[id], want)
			}
		}
	}
	if x.used > 2*(len(live)+4)+1 {
		t.Errorf("%d slots used for %d live nodes: freed slots not reused", x.used, len(live)+4)
	}
}

// TestWDTableTurnsSparse: descriptors handed out densely live in a slice;
// when churn has made them sparse the table keeps working as a map.
func TestWDTableTurnsSparse(t *testing.T) {
	t.Parallel()
	var tab wdTable
	for wd := int32(1); wd <= 1000; wd++ {
		tab.set(wd, nodeID(wd+7))
	}
	if tab.sparse != nil {
		t.Fatal("dense descriptors went into a map")
	}
	// mkdir and rmdir over and over: descriptors keep growing.
	for wd := int32(1001); wd <= 20_000; wd++ {
		tab.set(wd, nodeID(wd))
		tab.del(wd)
	}
	if tab.sparse == nil || tab.dense != nil {
		t.Fatal("sparse descriptors still in a slice")
	}
	for wd := int32(1); wd <= 1000; wd++ {
		if tab.get(wd) != nodeID(wd+7) {
			t.Fatalf("get(%d) lost after the switch", wd)
		}
	}
	if tab.get(5000) != 0 || tab.n != 1000 {
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
