package mirror

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/transport"
)

// guardEnv is a mirror with one local target, set up without the loop.
type guardEnv struct {
	src, dst string
	m        *Mirror
	t        *targetRun
	log      *testutil.Buffer
}

// localTarget opens the local directory dir as a target.
func localTarget(dir string) func(*filter.Set, transport.Options) (transport.Target, string, error) {
	return func(_ *filter.Set, opts transport.Options) (transport.Target, string, error) {
		t, err := transport.NewLocal(dir, opts)
		return t, dir, err
	}
}

// newGuardEnv returns a mirror of a fresh source to a fresh local
// target, with cfg's guards (source and targets filled in).
func newGuardEnv(t *testing.T, cfg Config) *guardEnv {
	t.Helper()
	base := t.TempDir()
	e := &guardEnv{src: filepath.Join(base, "src"), dst: filepath.Join(base, "dst"), log: &testutil.Buffer{}}
	testutil.MustMkdir(t, e.src)
	testutil.MustMkdir(t, e.dst)
	cfg.Source = e.src
	cfg.Targets = []Target{{Spec: e.dst, Open: localTarget(e.dst)}}
	cfg.Log = slog.New(slog.NewTextHandler(e.log, nil))
	if cfg.MaxDelays == 0 {
		cfg.MaxDelays = 1000
	}
	e.m = New(cfg)
	if err := e.m.setup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.m.close)
	e.src, e.t = e.m.src, e.m.targets[0]
	return e
}

// TestMaxDeleteCountsEntriesBelowDeletedDir: rm -rf of a directory of
// 200 files is 201 deletions, more than --max-delete 100: the batch is
// pushed without its deletions. Before, it counted 1 and deleted all.
func TestMaxDeleteCountsEntriesBelowDeletedDir(t *testing.T) {
	e := newGuardEnv(t, Config{MaxDelete: 100})
	testutil.Fill(t, e.dst, "big", 200)
	testutil.WriteRel(t, e.src, "new")
	st, err := e.m.pushBatch(context.Background(), e.t, []transport.Change{
		{Op: change.Delete, Path: "big", IsDir: true, Recursive: true},
		{Op: change.Modify, Path: "new"},
	})
	if !IsRefusal(err) || !strings.Contains(err.Error(), "--max-delete 100") {
		t.Fatalf("pushBatch = %+v, %v; want a --max-delete refusal", st, err)
	}
	if n, _ := os.ReadDir(filepath.Join(e.dst, "big")); len(n) != 200 {
		t.Errorf("target big/ holds %d files after the refused batch, want 200", len(n))
	}
	if !testutil.Exists(filepath.Join(e.dst, "new")) {
		t.Error("the batch's transfer was held back too")
	}
	// 201 entries are within --max-delete 201.
	e.m.cfg.MaxDelete = 201
	if _, err := e.m.pushBatch(context.Background(), e.t, []transport.Change{{Op: change.Delete, Path: "big", IsDir: true, Recursive: true}}); err != nil {
		t.Fatal(err)
	}
	if testutil.Exists(filepath.Join(e.dst, "big")) {
		t.Error("a batch within --max-delete did not delete")
	}
}

// TestMaxDeleteHeldBackKeepsOptions: the transfers of a batch whose
// deletions are held back land with the target's own options: the twin
// that pushes them is opened as the target is (here with --chmod F600;
// before, a local target's twin was opened without its options).
func TestMaxDeleteHeldBackKeepsOptions(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	testutil.MustMkdir(t, src)
	testutil.Fill(t, dst, "big", 5)
	testutil.WriteRel(t, src, "new")
	open := func(_ *filter.Set, opts transport.Options) (transport.Target, string, error) {
		opts.Attrs.Chmod = "F600"
		tgt, err := transport.NewLocal(dst, opts)
		return tgt, dst, err
	}
	m := New(Config{Source: src, MaxDelays: 1000, MaxDelete: 2, Targets: []Target{{Spec: dst, Open: open}},
		Log: slog.New(slog.DiscardHandler)})
	if err := m.setup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.close)
	_, err := m.pushBatch(context.Background(), m.targets[0], []transport.Change{
		{Op: change.Delete, Path: "big", IsDir: true, Recursive: true},
		{Op: change.Modify, Path: "new"},
	})
	if !IsRefusal(err) {
		t.Fatalf("pushBatch: %v; want a --max-delete refusal", err)
	}
	fi, err := os.Lstat(filepath.Join(dst, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("new landed with mode %v, want 0600 (--chmod F600)", fi.Mode().Perm())
	}
}

// TestDeleteCounter counts what batches and full syncs delete, as rsync
// counts (TestMaxDeleteCountsAsRsync in integration compares with it).
func TestDeleteCounter(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	testutil.WriteRel(t, src, "keep/a")
	testutil.WriteRel(t, src, "d/x")
	testutil.WriteRel(t, src, "typechange") // a file at the source, a directory of 3 on the target
	testutil.WriteRel(t, dst, "keep/a")
	testutil.Fill(t, dst, "gone", 5) // 6
	testutil.WriteRel(t, dst, "d/x")
	testutil.WriteRel(t, dst, "d/extra")   // 1, only in a recursive push of d
	testutil.Fill(t, dst, "typechange", 2) // 2: rsync counts no directory it makes room for
	testutil.WriteRel(t, dst, "skip.tmp")  // excluded: never deleted
	testutil.WriteRel(t, src, "hidden.h")  // not sent (sent): deleted on the target
	testutil.WriteRel(t, dst, "hidden.h")  // 1
	testutil.WriteRel(t, dst, "gone2/a.o") // perishable: kept on its own, deleted inside gone2 (1)
	testutil.WriteRel(t, dst, "gone2/b")   // 1, and gone2 itself: 1
	testutil.WriteRel(t, dst, "top.o")     // perishable, not inside a deleted directory: kept
	testutil.WriteRel(t, dst, "gone3/c.tmp")
	testutil.WriteRel(t, dst, "gone3/d") // 1; gone3 keeps c.tmp, so it stays
	tmp := func(rel string, _ bool) bool { return strings.HasSuffix(rel, ".tmp") }
	c := &localDeletes{src: src, dst: dst,
		sent:       func(rel string, _ bool) bool { return strings.HasSuffix(rel, ".h") },
		kept:       func(rel string, isDir bool) bool { return tmp(rel, isDir) || strings.HasSuffix(rel, ".o") },
		keptInside: tmp}
	cases := []struct {
		name    string
		changes []transport.Change
		want    int
	}{
		{"deleted dir", []transport.Change{{Op: change.Delete, Path: "gone", IsDir: true}}, 6},
		{"existing path", []transport.Change{{Op: change.Delete, Path: "keep/a"}}, 0},
		{"missing on target", []transport.Change{{Op: change.Delete, Path: "never"}}, 0},
		{"plain dir sync", []transport.Change{{Op: change.Modify, Path: "d", IsDir: true}}, 0},
		{"recursive dir sync", []transport.Change{{Op: change.Modify, Path: "d", IsDir: true, Recursive: true}}, 1},
		{"type change: the directory made room for is not counted", []transport.Change{{Op: change.Modify, Path: "typechange"}}, 2},
		{"not sent", []transport.Change{{Op: change.Modify, Path: "hidden.h"}}, 1},
		{"perishable inside a deleted dir", []transport.Change{{Op: change.Delete, Path: "gone2", IsDir: true}}, 3},
		{"perishable alone", []transport.Change{{Op: change.Delete, Path: "top.o"}}, 0},
		{"a dir that keeps an entry", []transport.Change{{Op: change.Delete, Path: "gone3", IsDir: true}}, 1},
		{"root", []transport.Change{{Op: change.Modify, Path: ".", IsDir: true, Recursive: true}}, 14},
	}
	for _, tc := range cases {
		if n, err := c.batch(context.Background(), tc.changes, 1000); err != nil || n != tc.want {
			t.Errorf("%s: batch = %d, %v; want %d", tc.name, n, err, tc.want)
		}
	}
	if n, err := c.full(context.Background(), 1000); err != nil || n != 14 {
		t.Errorf("full = %d, %v; want 14", n, err)
	}
	if n, _ := c.full(context.Background(), 3); n > 5 {
		t.Errorf("full(limit 3) counted %d: counting does not stop past the limit", n)
	}
}

// TestDeleteCounterDoesNotFollowSourceSymlinks: a source directory
// replaced by a symlink is gone for the local target's sync (it never
// follows a symlink below SRC), so the counter counts what the sync
// deletes there instead of looking through the link.
func TestDeleteCounterDoesNotFollowSourceSymlinks(t *testing.T) {
	base := t.TempDir()
	src, dst, outside := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "outside")
	testutil.WriteRel(t, outside, "x")
	testutil.MustMkdir(t, src)
	if err := os.Symlink(outside, filepath.Join(src, "via")); err != nil {
		t.Fatal(err)
	}
	testutil.WriteRel(t, dst, "via/x")
	c := &localDeletes{src: src, dst: dst}
	n, err := c.batch(context.Background(), []transport.Change{{Op: change.Modify, Path: "via/x"}}, 1000)
	if err != nil || n != 1 {
		t.Errorf("batch = %d, %v; want 1 (via/x is gone beneath SRC)", n, err)
	}
}

// TestBatchDeletesWithEmptySource: deletions the kernel reported one by
// one reach the target even when they empty the source (lsyncd: rm -rf
// src/* empties the mirror). Before, the empty-source guard held them
// back.
func TestBatchDeletesWithEmptySource(t *testing.T) {
	e := newGuardEnv(t, Config{})
	testutil.WriteRel(t, e.dst, "a")
	testutil.WriteRel(t, e.dst, "d/b")
	_, err := e.m.pushBatch(context.Background(), e.t, []transport.Change{
		{Op: change.Delete, Path: "a"},
		{Op: change.Delete, Path: "d", IsDir: true, Recursive: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if testutil.Exists(filepath.Join(e.dst, "a")) || testutil.Exists(filepath.Join(e.dst, "d")) {
		t.Errorf("deletions held back with an empty source; log:\n%s", e.log.String())
	}
}

// TestFullSyncGuards: a full sync of an empty source, or one that would
// delete more than --max-delete entries, is refused (the latter still
// transfers); a full sync is no longer silently "ok".
func TestFullSyncGuards(t *testing.T) {
	t.Run("empty source", func(t *testing.T) {
		e := newGuardEnv(t, Config{})
		testutil.WriteRel(t, e.dst, "a")
		if _, err := e.m.fullSync(context.Background(), e.t); !IsRefusal(err) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("fullSync = %v, want an empty-source refusal", err)
		}
		if !testutil.Exists(filepath.Join(e.dst, "a")) {
			t.Error("the target was wiped")
		}
	})
	t.Run("max-delete", func(t *testing.T) {
		e := newGuardEnv(t, Config{MaxDelete: 3})
		testutil.WriteRel(t, e.src, "new")
		testutil.Fill(t, e.dst, "old", 3) // 4 deletions
		if _, err := e.m.fullSync(context.Background(), e.t); !IsRefusal(err) || !strings.Contains(err.Error(), "--max-delete 3") {
			t.Errorf("fullSync = %v, want a --max-delete refusal", err)
		}
		if !testutil.Exists(filepath.Join(e.dst, "old", "f0000")) || !testutil.Exists(filepath.Join(e.dst, "new")) {
			t.Error("want the old files kept and the new one sent")
		}
	})
}

// TestSourceRootGone: a source root that disappeared or is no longer
// the file system it was at startup stops the target (a fatal error),
// in batches and full syncs, with the target unchanged.
func TestSourceRootGone(t *testing.T) {
	e := newGuardEnv(t, Config{})
	testutil.WriteRel(t, e.dst, "a")
	e.m.srcDev++ // as if the source were unmounted
	if _, err := e.m.pushBatch(context.Background(), e.t, []transport.Change{{Op: change.Delete, Path: "a"}}); err == nil || transport.IsTransient(err) || !strings.Contains(err.Error(), "no longer on the file system") {
		t.Errorf("pushBatch = %v, want a fatal error", err)
	}
	e.m.srcDev--
	if err := os.Remove(e.src); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.fullSync(context.Background(), e.t); err == nil || transport.IsTransient(err) || !strings.Contains(err.Error(), "disappeared") {
		t.Errorf("fullSync = %v, want a fatal error", err)
	}
	if !testutil.Exists(filepath.Join(e.dst, "a")) {
		t.Error("the target was changed")
	}
}

// TestVanishedMountGuard: as TestVanishedMountHoldsDeletes, without
// root: a nested mount whose device changed holds back the batch's
// changes below it and the full sync.
func TestVanishedMountGuard(t *testing.T) {
	e := newGuardEnv(t, Config{Delete: transport.DeleteAlways})
	testutil.WriteRel(t, e.src, "data/mnt/f")
	testutil.WriteRel(t, e.src, "other")
	testutil.WriteRel(t, e.dst, "data/mnt/f")
	testutil.WriteRel(t, e.dst, "data/mnt/g")
	dev := uint64(7)
	e.m.mounts = &nestedMounts{src: e.src, points: map[string]uint64{"data/mnt": 7}, devOf: func(string) (uint64, error) { return dev, nil }}
	dev = 8 // unmounted
	os.Remove(filepath.Join(e.src, "data/mnt/f"))
	if _, err := e.m.pushBatch(context.Background(), e.t, []transport.Change{
		{Op: change.Delete, Path: "data/mnt/f"},
		{Op: change.Modify, Path: "data", IsDir: true, Recursive: true},
		{Op: change.Modify, Path: "other"},
	}); err != nil {
		t.Fatal(err)
	}
	if !testutil.Exists(filepath.Join(e.dst, "data/mnt/f")) || !testutil.Exists(filepath.Join(e.dst, "data/mnt/g")) {
		t.Error("a batch deleted below a vanished mount on the target")
	}
	if !testutil.Exists(filepath.Join(e.dst, "other")) {
		t.Error("the unrelated change was held back too")
	}
	if _, err := e.m.fullSync(context.Background(), e.t); !IsRefusal(err) || !strings.Contains(err.Error(), "data/mnt") {
		t.Errorf("fullSync = %v, want a refusal naming data/mnt", err)
	}
	if !testutil.Exists(filepath.Join(e.dst, "data/mnt/g")) {
		t.Error("a full sync deleted below a vanished mount on the target")
	}
}
