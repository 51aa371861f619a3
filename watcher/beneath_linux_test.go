package watcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
)

// stallReader fills w's Events channel without reading it, so that the
// reader goroutine blocks and the kernel keeps the next events queued until
// the test reads again.
func stallReader(t *testing.T, w Watcher, root string) {
	t.Helper()
	dir := filepath.Join(root, "filler")
	testutil.MustMkdir(t, dir)
	deadline := time.Now().Add(60 * time.Second) // a loaded machine writes slowly
	for i := 0; len(w.Events()) < cap(w.Events()); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("events channel never filled: %d of %d", len(w.Events()), cap(w.Events()))
		}
		if i < 6000 {
			testutil.WriteFile(t, filepath.Join(dir, fmt.Sprint(i)), "x") // Create and Modify
		} else {
			time.Sleep(time.Millisecond)
		}
	}
}

// TestScanNeverFollowsSwappedDir: a new directory a/b is queued, then its
// parent a is swapped for a symlink to an outside directory that holds a
// b of its own before the watcher gets to scan a/b. The scan must not
// list, report or watch anything of the outside directory, now or later.
func TestScanNeverFollowsSwappedDir(t *testing.T) {
	forBackends(t, testScanNeverFollowsSwappedDir)
}

func testScanNeverFollowsSwappedDir(t *testing.T, backend string) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "src"), filepath.Join(base, "outside")
	testutil.MustMkdir(t, filepath.Join(root, "a"))
	testutil.MustMkdir(t, filepath.Join(outside, "b", "sub"))
	testutil.WriteFile(t, filepath.Join(outside, "b", "secret"), "s")
	w := startWatcher(t, backend, root, nil)

	stallReader(t, w, root)
	testutil.MustMkdir(t, filepath.Join(root, "a", "b")) // queued: IN_CREATE a/b
	rename(t, filepath.Join(root, "a"), filepath.Join(root, "a.old"))
	if err := os.Symlink(outside, filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	got := sentinel(t, w, root)
	testutil.WriteFile(t, filepath.Join(outside, "b", "later"), "l")
	testutil.WriteFile(t, filepath.Join(outside, "b", "sub", "later"), "l")
	got = append(got, sentinel(t, w, root)...)
	for _, ev := range got {
		if inTree(ev.Path, "a/b") && ev.Path != "a/b" {
			t.Errorf("event %v from the directory outside the tree", ev)
		}
	}
}

// TestOpenDirBeneath: both ways of opening a directory (openat2, and the
// openat(O_NOFOLLOW) walk for kernels without it) refuse a symlink in any
// component and a path that climbs out of the root.
func TestOpenDirBeneath(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "src")
	testutil.MustMkdir(t, filepath.Join(root, "a", "b"))
	testutil.MustMkdir(t, filepath.Join(base, "outside", "b"))
	if err := os.Symlink(filepath.Join(base, "outside"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	for _, walk := range []bool{false, true} {
		t.Run(fmt.Sprintf("walk=%v", walk), func(t *testing.T) {
			tree, err := openRoot(root)
			if err != nil {
				t.Fatal(err)
			}
			defer tree.close()
			tree.noOpenat2.Store(walk)
			for _, rel := range []string{"", "a", "a/b"} {
				fd, err := tree.openDir(rel, unix.O_RDONLY)
				if err != nil {
					t.Errorf("openDir(%q): %v", rel, err)
					continue
				}
				unix.Close(fd)
			}
			for _, rel := range []string{"link", "link/b", "a/../link/b", "../outside/b", "a/../../outside"} {
				fd, err := tree.openDir(rel, unix.O_RDONLY)
				if err == nil {
					unix.Close(fd)
					t.Errorf("openDir(%q) opened a directory outside the tree", rel)
				} else if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.ENOTDIR) {
					t.Errorf("openDir(%q) = %v, want ELOOP, EXDEV or ENOTDIR", rel, err)
				}
			}
		})
	}
}
