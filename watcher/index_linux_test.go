package watcher

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// checkIndex compares the path index with a scan of every watch: for each
// directory known, the watches at and below it must be exactly those whose
// path lies in its tree.
func checkIndex(t *testing.T, w *inotifyWatcher, step string) {
	t.Helper()
	n := len(w.index.appendTree(nil, ""))
	if n != len(w.wds) {
		t.Fatalf("%s: index holds %d watches, tables %d", step, n, len(w.wds))
	}
	for _, watch := range w.wds {
		var want []int32
		for wd, other := range w.wds {
			if watch.path == "" || inTree(other.path, watch.path) {
				want = append(want, wd)
			}
		}
		got := w.index.appendTree(nil, watch.path)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: watches below %q = %v, want %v", step, watch.path, got, want)
		}
	}
}

// TestWatchIndexFollowsTables runs random deletes, moves within the tree,
// moves out of it and IN_IGNORED through the event handler and checks the
// index against the tables after every step, and that a deleted or moved-out
// subtree leaves no watch behind.
func TestWatchIndexFollowsTables(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dirs := []string{""}
	for i := range 200 {
		parent := dirs[rng.IntN(len(dirs))]
		dirs = append(dirs, joinRel(parent, fmt.Sprintf("d%d", i)))
	}
	w := tableWatcher(t, dirs...)
	w.events = make(chan Event, 1<<16)
	checkIndex(t, w, "start")
	now := time.Now()
	for step := range 300 {
		if len(w.wds) <= 1 {
			break
		}
		var target *inotifyWatch
		for _, watch := range w.wds {
			if watch.path != "" {
				target = watch
				break
			}
		}
		parent, name := splitRel(target.path)
		pwd := w.paths[parent]
		var buf []byte
		switch step % 3 {
		case 0: // rm -rf: the subtree's watches go
			buf = rawEvent(pwd, unix.IN_DELETE|unix.IN_ISDIR, 0, name)
		case 1: // moved out of the tree: dropped once the grace has passed
			buf = rawEvent(pwd, unix.IN_MOVED_FROM|unix.IN_ISDIR, uint32(step+1), name)
		case 2: // moved to the root under a new name
			buf = append(rawEvent(pwd, unix.IN_MOVED_FROM|unix.IN_ISDIR, uint32(step+1), name),
				rawEvent(w.paths[""], unix.IN_MOVED_TO|unix.IN_ISDIR, uint32(step+1), fmt.Sprintf("m%d", step))...)
		}
		w.process(buf, now)
		w.expire(now.Add(time.Hour), true)
		w.flush()
		if step%3 != 2 {
			if got := w.index.appendTree(nil, target.path); len(got) != 0 && w.paths[target.path] == 0 {
				t.Fatalf("step %d: watches %v left below removed %q", step, got, target.path)
			}
		}
		checkIndex(t, w, fmt.Sprintf("step %d", step))
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
