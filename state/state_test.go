package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

func walk(t *testing.T, root string) Tree {
	t.Helper()
	tr, unreadable, err := Walk(context.Background(), root, func(rel string, _ bool) bool { return rel == "skip" })
	if err != nil || len(unreadable) > 0 {
		t.Fatalf("walk: %v, unreadable %v", err, unreadable)
	}
	return tr
}

// TestDiffFindsEveryChange: each kind of change after a snapshot is
// found, and nothing else.
func TestDiffFindsEveryChange(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFile(t, filepath.Join(root, "same"), "s")
	testutil.WriteFile(t, filepath.Join(root, "content"), "aaaa")
	testutil.WriteFile(t, filepath.Join(root, "mode"), "m")
	testutil.WriteFile(t, filepath.Join(root, "replaced"), "r")
	testutil.WriteFile(t, filepath.Join(root, "gone"), "g")
	testutil.WriteFile(t, filepath.Join(root, "d/sub/f"), "f")
	testutil.WriteFile(t, filepath.Join(root, "keep/f"), "k")
	testutil.WriteFile(t, filepath.Join(root, "skip/f"), "excluded")
	past := time.Unix(1700000000, 0)
	for _, p := range []string{"content", "replaced"} {
		testutil.Must(t, os.Chtimes(filepath.Join(root, p), past, past))
	}
	x := &Index{Key: "k", Tree: walk(t, root), Dirty: []string{"keep/f", "never-was"}}
	if _, ok := x.Tree["skip/f"]; ok {
		t.Fatal("an excluded directory was walked")
	}

	// Same size, same mtime, new content: only the ctime tells.
	testutil.Must(t, os.WriteFile(filepath.Join(root, "content"), []byte("bbbb"), 0o644))
	testutil.Must(t, os.Chtimes(filepath.Join(root, "content"), past, past))
	testutil.Must(t, os.Chmod(filepath.Join(root, "mode"), 0o600))
	// Replaced by a file of the same size and mtime: another inode.
	testutil.WriteFile(t, filepath.Join(root, "replaced.new"), "r")
	testutil.Must(t, os.Chtimes(filepath.Join(root, "replaced.new"), past, past))
	testutil.Must(t, os.Rename(filepath.Join(root, "replaced.new"), filepath.Join(root, "replaced")))
	testutil.Must(t, os.Remove(filepath.Join(root, "gone")))
	testutil.Must(t, os.RemoveAll(filepath.Join(root, "d")))
	testutil.WriteFile(t, filepath.Join(root, "new"), "n")

	changed, deleted := x.Diff(walk(t, root))
	wantChanged := []string{"content", "keep/f", "mode", "new", "replaced"}
	// The root's own directory entries changed: "." is not in the tree,
	// but no other directory than the root was touched.
	if !slices.Equal(changed, wantChanged) {
		t.Errorf("changed = %q, want %q", changed, wantChanged)
	}
	if want := []string{"d", "gone", "never-was"}; !slices.Equal(deleted, want) {
		t.Errorf("deleted = %q, want %q", deleted, want)
	}
}

func TestSaveLoad(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFile(t, filepath.Join(root, "a/b"), "x")
	testutil.WriteFile(t, filepath.Join(root, "c"), "y")
	dir := t.TempDir()
	key := KeyOf("/src", "host::m", "-a")
	file := File(dir, key)
	if _, err := Load(file, key); !errors.Is(err, ErrNoIndex) {
		t.Fatalf("load before save: %v", err)
	}
	x := &Index{Key: key, Taken: time.Unix(1, 2), Tree: walk(t, root), Dirty: []string{"a/b"}}
	testutil.Must(t, Save(file, x))
	got, err := Load(file, key)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Taken.Equal(x.Taken) || !slices.Equal(got.Dirty, x.Dirty) || len(got.Tree) != len(x.Tree) {
		t.Fatalf("loaded %+v, saved %+v", got, x)
	}
	for p, e := range x.Tree {
		if got.Tree[p] != e {
			t.Errorf("%s: loaded %+v, saved %+v", p, got.Tree[p], e)
		}
	}
	if _, err := Load(file, KeyOf("/src", "host::m", "-a", "--delete")); !errors.Is(err, ErrOtherKey) {
		t.Errorf("load with other options: %v, want ErrOtherKey", err)
	}
	// Any damage is found: a flipped byte anywhere, a cut file.
	data, err := os.ReadFile(file)
	testutil.Must(t, err)
	for _, i := range []int{0, len(format) + 3, len(data) / 2, len(data) - 1} {
		bad := slices.Clone(data)
		bad[i] ^= 0x40
		testutil.Must(t, os.WriteFile(file, bad, 0o600))
		if _, err := Load(file, key); !errors.Is(err, ErrCorrupt) {
			t.Errorf("byte %d flipped: %v, want ErrCorrupt", i, err)
		}
	}
	testutil.Must(t, os.WriteFile(file, data[:len(data)-5], 0o600))
	if _, err := Load(file, key); !errors.Is(err, ErrCorrupt) {
		t.Errorf("cut file: %v, want ErrCorrupt", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left in the state directory: %v", ents)
	}
}

// TestWalkUnreadable: a directory that cannot be read is reported (its
// paths count as dirty), not taken as empty.
func TestWalkUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every directory")
	}
	root := t.TempDir()
	testutil.WriteFile(t, filepath.Join(root, "locked/f"), "x")
	testutil.Must(t, os.Chmod(filepath.Join(root, "locked"), 0))
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked"), 0o755) })
	_, unreadable, err := Walk(context.Background(), root, nil)
	if err != nil || !slices.Equal(unreadable, []string{"locked"}) {
		t.Fatalf("walk: %v, unreadable %v", err, unreadable)
	}
}
