package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
)

// TestWalkEntriesMatchLstat: the fd-relative walk gives every kind of
// entry the same Entry as os.Lstat does, so an index stays valid across
// the two ways of reading the tree.
func TestWalkEntriesMatchLstat(t *testing.T) {
	root := t.TempDir()
	mk := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mk(os.WriteFile(filepath.Join(root, "file"), []byte("data"), 0o640))
	mk(os.WriteFile(filepath.Join(root, "setuid"), nil, 0o755))
	mk(os.Chmod(filepath.Join(root, "setuid"), 0o755|fs.ModeSetuid|fs.ModeSetgid))
	mk(os.Mkdir(filepath.Join(root, "sticky"), 0o777))
	mk(os.Chmod(filepath.Join(root, "sticky"), 0o777|fs.ModeSticky))
	mk(os.WriteFile(filepath.Join(root, "sticky", "inner"), nil, 0o600))
	mk(os.Symlink("file", filepath.Join(root, "link")))
	mk(unix.Mkfifo(filepath.Join(root, "fifo"), 0o600))
	if os.Geteuid() == 0 {
		mk(unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	}
	n := 0
	err := Walk(context.Background(), root, nil, func(rel string, e Entry, readable bool) error {
		n++
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		want := Entry{Mode: fi.Mode(), Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Ino: st.Ino, Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec}
		if fi.IsDir() {
			want.Size = 0
		}
		if e != want || !readable {
			t.Errorf("%s: walk gives %+v (readable %v), lstat %+v", rel, e, readable, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 7 {
		t.Errorf("walked %d entries, want at least 7", n)
	}
}

// walkAll is every call walk makes to fn with the given workers.
func walkAll(t *testing.T, root string, exclude func(string, bool) bool, workers int) []walked {
	t.Helper()
	var got []walked
	testutil.Must(t, walk(context.Background(), root, exclude, func(rel string, e Entry, readable bool) error {
		got = append(got, walked{rel, e, readable})
		return nil
	}, workers))
	return got
}

// parallelTree is a tree whose root holds files between directories,
// a big directory (more entries than a segment's walker may run ahead
// by), excluded names, and extra more directories: with planDirs or
// more the walk is cut at the root, with fewer the planner walks the
// first levels itself.
func parallelTree(t *testing.T, extra int) string {
	t.Helper()
	root := t.TempDir()
	for i := range extra {
		testutil.WriteFile(t, filepath.Join(root, fmt.Sprintf("e%d/f", i)), "")
	}
	for _, p := range []string{"0", "a/x", "a/y/z", "a.b", "a-c/x", "b", "c/skip/f", "c/f", "skip/f", "zz"} {
		testutil.WriteFile(t, filepath.Join(root, p), p)
	}
	testutil.Must(t, os.Symlink("a", filepath.Join(root, "link-to-dir")))
	big := filepath.Join(root, "big")
	for i := range 10 {
		testutil.Must(t, os.MkdirAll(filepath.Join(big, fmt.Sprintf("d%d", i)), 0o755))
	}
	for i := range 5000 {
		dir := big
		if i%2 == 0 {
			dir = filepath.Join(big, fmt.Sprintf("d%d", i%10))
		}
		testutil.Must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), nil, 0o644))
	}
	return root
}

// TestWalkParallelMatchesSerial: walking the root's subtrees side by
// side gives fn exactly the calls, in the same order, of one walker.
func TestWalkParallelMatchesSerial(t *testing.T) {
	for _, extra := range []int{0, planDirs} {
		root := parallelTree(t, extra)
		exclude := func(rel string, _ bool) bool { return path.Base(rel) == "skip" }
		want := walkAll(t, root, exclude, 1)
		if len(want) < 5000 {
			t.Fatalf("the serial walk gave %d entries", len(want))
		}
		for _, w := range []int{2, 3, 16} {
			if got := walkAll(t, root, exclude, w); !slices.Equal(got, want) {
				t.Errorf("%d more dirs, %d workers: %d calls, differing from the serial walk's %d", extra, w, len(got), len(want))
			}
		}
	}
}

// TestWalkParallelStops: fn's error, or the context's end, stops every
// walker: Walk returns that error, calls fn no more, and leaves no
// goroutine behind.
func TestWalkParallelStops(t *testing.T) {
	root := parallelTree(t, planDirs)
	before := runtime.NumGoroutine()
	stop := errors.New("stop")
	n := 0
	err := walk(context.Background(), root, nil, func(string, Entry, bool) error {
		if n++; n == 100 {
			return stop
		}
		if n > 100 {
			t.Fatal("fn called after its error")
		}
		return nil
	}, 2)
	if !errors.Is(err, stop) {
		t.Errorf("walk returned %v, want fn's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = walk(ctx, root, nil, func(string, Entry, bool) error {
		if n++; n == 100 {
			cancel()
		}
		return nil
	}, 2)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("walk after cancel returned %v, want context.Canceled", err)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before the walks, %d after", before, after)
	}
}

// TestWalkParallelBoundsLookahead: while fn is held at the first entry,
// the walkers begin no more than their window of segments, however
// small the segments are that follow.
func TestWalkParallelBoundsLookahead(t *testing.T) {
	root := t.TempDir()
	for d := range 50 {
		for f := range 10 {
			testutil.WriteFile(t, filepath.Join(root, fmt.Sprintf("d%02d", d), fmt.Sprint(f)), "")
		}
	}
	var mu sync.Mutex
	begun := map[string]bool{}
	exclude := func(rel string, _ bool) bool {
		mu.Lock()
		begun[strings.SplitN(rel, "/", 2)[0]] = true
		mu.Unlock()
		return false
	}
	const workers = 2
	first := true
	testutil.Must(t, walk(context.Background(), root, exclude, func(string, Entry, bool) error {
		if first {
			first = false
			time.Sleep(300 * time.Millisecond) // the walkers run on
			mu.Lock()
			n := len(begun)
			mu.Unlock()
			if n > 2*workers {
				t.Errorf("%d segments begun while the first was not passed on, want at most %d", n, 2*workers)
			}
		}
		return nil
	}, workers))
	if len(begun) != 50 {
		t.Errorf("walked %d of 50 directories", len(begun))
	}
}
