package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

func skipDir(rel string, _ bool) bool { return rel == "skip" }

// save takes and commits a snapshot of root as the index of key.
func save(t *testing.T, file, key, root string, dirty ...string) {
	t.Helper()
	s, err := Take(context.Background(), file, key, root, skipDir, time.Unix(1, 2))
	testutil.Must(t, err)
	testutil.Must(t, s.Commit(file, dirty))
}

func compare(t *testing.T, file, key, root string) *Diff {
	t.Helper()
	d, err := Compare(context.Background(), file, key, root, skipDir)
	testutil.Must(t, err)
	return d
}

// TestCompareFindsEveryChange: each kind of change after a snapshot is
// found, and nothing else.
func TestCompareFindsEveryChange(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	w := func(rel, s string) { testutil.WriteFile(t, filepath.Join(root, rel), s) }
	w("same", "s")
	w("content", "aaaa")
	w("mode", "m")
	w("replaced", "r")
	w("gone", "g")
	w("d/sub/f", "f")
	w("d.x", "sorts between d and d/sub in byte order")
	w("keep/f", "k")
	w("skip/f", "excluded")
	w("typed/f", "a directory that becomes a file")
	past := time.Unix(1700000000, 0)
	for _, p := range []string{"content", "replaced"} {
		testutil.Must(t, os.Chtimes(filepath.Join(root, p), past, past))
	}
	file := File(dir, KeyOf("k"))
	save(t, file, "k", root, "keep/f", "never-was")

	// Same size, same mtime, new content: only the ctime tells.
	testutil.Must(t, os.WriteFile(filepath.Join(root, "content"), []byte("bbbb"), 0o644))
	testutil.Must(t, os.Chtimes(filepath.Join(root, "content"), past, past))
	testutil.Must(t, os.Chmod(filepath.Join(root, "mode"), 0o600))
	// Replaced by a file of the same size and mtime: another inode.
	w("replaced.new", "r")
	testutil.Must(t, os.Chtimes(filepath.Join(root, "replaced.new"), past, past))
	testutil.Must(t, os.Rename(filepath.Join(root, "replaced.new"), filepath.Join(root, "replaced")))
	testutil.Must(t, os.Remove(filepath.Join(root, "gone")))
	testutil.Must(t, os.RemoveAll(filepath.Join(root, "d")))
	testutil.Must(t, os.RemoveAll(filepath.Join(root, "typed")))
	w("typed", "now a file")
	w("new", "n")
	w("skip/g", "excluded too")

	d := compare(t, file, "k", root)
	if want := []string{"content", "keep/f", "mode", "new", "replaced", "typed"}; !equalSorted(d.Changed, want) {
		t.Errorf("changed = %q, want %q", d.Changed, want)
	}
	if want := []string{"d", "gone", "never-was", "typed/f"}; !equalSorted(d.Deleted, want) {
		t.Errorf("deleted = %q, want %q", d.Deleted, want)
	}
	if !d.Taken.Equal(time.Unix(1, 2)) {
		t.Errorf("taken = %v", d.Taken)
	}
	// The same tree again: nothing but the dirty paths.
	save(t, file, "k", root)
	if d := compare(t, file, "k", root); len(d.Changed)+len(d.Deleted) > 0 {
		t.Errorf("unchanged tree: changed %q, deleted %q", d.Changed, d.Deleted)
	}
}

func equalSorted(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// TestWalkOrder: the walk's order is the order before defines, which
// the comparison merges on.
func TestWalkOrder(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"a/b", "a.b", "a-c/x", "b", "a/a/z", "ab"} {
		testutil.WriteFile(t, filepath.Join(root, p), p)
	}
	var got []string
	testutil.Must(t, Walk(context.Background(), root, nil, func(rel string, _ Entry, _ bool) error {
		got = append(got, rel)
		return nil
	}))
	want := []string{"a", "a/a", "a/a/z", "a/b", "a-c", "a-c/x", "a.b", "ab", "b"}
	if !slices.Equal(got, want) {
		t.Fatalf("walk order %q, want %q", got, want)
	}
	for i := 1; i < len(got); i++ {
		if !before(got[i-1], got[i]) || before(got[i], got[i-1]) {
			t.Errorf("before(%q, %q) disagrees with the walk", got[i-1], got[i])
		}
	}
}

func TestIndexFile(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	for i := range 50 {
		testutil.WriteFile(t, filepath.Join(root, fmt.Sprintf("d%d/f%d", i%5, i)), "x")
	}
	key := KeyOf("/src", "host::m", "-a")
	file := File(dir, key)
	if _, err := Compare(context.Background(), file, key, root, nil); !errors.Is(err, ErrNoIndex) {
		t.Fatalf("compare before a save: %v", err)
	}
	save(t, file, key, root, "d1/f1")
	if d := compare(t, file, key, root); !slices.Equal(d.Changed, []string{"d1/f1"}) || len(d.Deleted) > 0 {
		t.Errorf("a dirty path: changed %q, deleted %q", d.Changed, d.Deleted)
	}
	if _, err := Compare(context.Background(), file, KeyOf("/src", "host::m", "-a", "--delete"), root, nil); !errors.Is(err, ErrOtherKey) {
		t.Errorf("compare with other options: %v, want ErrOtherKey", err)
	}
	// Any damage is found: a flipped byte anywhere, a cut file, more data.
	data, err := os.ReadFile(file)
	testutil.Must(t, err)
	for _, i := range []int{0, len(format) + 3, len(data) / 2, len(data) - 40, len(data) - 1} {
		bad := slices.Clone(data)
		bad[i] ^= 0x40
		testutil.Must(t, os.WriteFile(file, bad, 0o600))
		if _, err := Compare(context.Background(), file, key, root, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("byte %d flipped: %v, want ErrCorrupt", i, err)
		}
	}
	for _, bad := range [][]byte{data[:len(data)-5], append(slices.Clone(data), 0)} {
		testutil.Must(t, os.WriteFile(file, bad, 0o600))
		if _, err := Compare(context.Background(), file, key, root, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%d bytes of %d: %v, want ErrCorrupt", len(bad), len(data), err)
		}
	}
	// Neither a committed nor an aborted snapshot leaves a file behind.
	s, err := Take(context.Background(), file, key, root, nil, time.Now())
	testutil.Must(t, err)
	s.Abort()
	save(t, file, key, root)
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("files left in the state directory: %v", ents)
	}
	// One left by a process that stopped mid-walk goes at the next start.
	testutil.WriteFile(t, filepath.Join(dir, "."+filepath.Base(file)+".123"), "partial")
	Clean(file)
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("Clean left: %v", ents)
	}
}

// TestUnreadableDirectory: a directory that cannot be read when the
// snapshot is taken is dirty, and one that cannot be read when the
// source is compared is changed, but what the index holds below it is
// never reported deleted.
func TestUnreadableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every directory")
	}
	root, dir := t.TempDir(), t.TempDir()
	testutil.WriteFile(t, filepath.Join(root, "locked/f"), "x")
	file := File(dir, KeyOf("k"))
	save(t, file, "k", root)
	locked := filepath.Join(root, "locked")
	testutil.Must(t, os.Chmod(locked, 0))
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	d := compare(t, file, "k", root)
	if !slices.Equal(d.Changed, []string{"locked"}) || len(d.Deleted) > 0 {
		t.Errorf("changed %q, deleted %q; want locked changed, nothing deleted", d.Changed, d.Deleted)
	}
	save(t, file, "k", root)
	testutil.Must(t, os.Chmod(locked, 0o755))
	d = compare(t, file, "k", root)
	if !slices.Contains(d.Changed, "locked") || !slices.Contains(d.Changed, "locked/f") {
		t.Errorf("after it became readable: changed %q", d.Changed)
	}
}

// TestCompareStopsEarly: a walk that fails ends the comparison with its
// error and leaves no goroutine behind (the race detector and the test's
// own leak check would see one reading the index).
func TestCompareStopsEarly(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	for i := range 2000 {
		testutil.WriteFile(t, filepath.Join(root, fmt.Sprintf("d%d/f%d", i%20, i)), "x")
	}
	file := File(dir, KeyOf("k"))
	save(t, file, "k", root)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32 // exclude runs on every walker
	_, err := Compare(ctx, file, "k", root, func(rel string, _ bool) bool {
		if n.Add(1) == 100 {
			cancel()
		}
		return false
	})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("compare with a cancelled walk: %v", err)
	}
}
