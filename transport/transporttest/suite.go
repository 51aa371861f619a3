//go:build unix

package transporttest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/treediff"
	"github.com/gsync/gsync/transport"
)

// Caps declares the limits of a target; the suite relaxes its checks
// accordingly.
type Caps struct {
	// NoDevices: the target cannot create device nodes (even as root).
	NoDevices bool
	// NoSpecials: the target cannot create fifos.
	NoSpecials bool
	// MtimeGranularity is the precision of mtimes on the target; zero
	// means nanoseconds.
	MtimeGranularity time.Duration
	// SymlinkMtimes: the target preserves the mtimes of symlinks.
	SymlinkMtimes bool
	// NodeMtimeSeconds: the target keeps the mtimes of device nodes and
	// special files only to the second. C rsync does at its default
	// --modify-window=0: recv_generator (generator.c) creates the node and
	// calls set_file_attrs without ATTRS_ACCURATE_TIME, so same_mtime
	// (rsync.c) compares whole seconds (same_time, util1.c) and leaves a
	// node whose source mtime falls in the second it was created with the
	// creation time. The sender cannot ask for more: -@-1 (nanosecond
	// compares) means "every mtime is equal" to rsync 3.1.0-3.1.2
	// (util.c:cmp_time before 3.1.3), which would make their quick check
	// skip changed files of the same size.
	NodeMtimeSeconds bool
	// NoDirMtimes: the target does not preserve directory mtimes.
	NoDirMtimes bool
	// IgnoreRootMode: the target does not set the mode of its root.
	IgnoreRootMode bool
	// RenameKeepsInode: a Rename is done in place on the target, so a
	// renamed directory keeps its inode.
	RenameKeepsInode bool
}

// Harness creates targets for the suite.
type Harness struct {
	// New returns a target mirroring src with opts (opts.Source is src)
	// and the directory on disk that holds the target tree. The target
	// directory must start empty; the harness closes the target in a
	// cleanup.
	New  func(t *testing.T, src string, opts transport.Options) (transport.Target, string)
	Caps Caps
}

// Run runs every scenario as a subtest of t.
func Run(t *testing.T, h Harness) {
	scenarios := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"FullSyncVaried", fullSyncVaried},
		{"FullSyncDevices", fullSyncDevices},
		{"PushCreateModify", pushCreateModify},
		{"PushMkdirChain", pushMkdirChain},
		{"PushRecursive", pushRecursive},
		{"RenameFile", renameFile},
		{"RenameDir", renameDir},
		{"RenameMissingOnTarget", renameMissingOnTarget},
		{"Deletes", deletes},
		{"ScopedDelete", scopedDelete},
		{"Excluded", excluded},
		{"ExcludedDeletes", excludedDeletes},
		{"TypeChange", typeChange},
		{"DeleteModes", deleteModes},
		{"UnreadableSource", unreadableSource},
		{"UnwritableTarget", unwritableTarget},
		{"DryRun", dryRun},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { s.fn(t, h) })
	}
}

// env is one scenario's source, target and helpers.
type env struct {
	t    *testing.T
	h    Harness
	src  tree
	dst  tree
	tgt  transport.Target
	opts transport.Options
}

// setup creates a source with build applied and a target for it.
func setup(t *testing.T, h Harness, opts transport.Options, build func(tree)) *env {
	t.Helper()
	src := tree{t: t, root: t.TempDir()}
	if build != nil {
		build(src)
	}
	opts.Source = src.root
	tgt, dir := h.New(t, src.root, opts)
	// Fixtures hold read-only directories; let the temp dir cleanup (which
	// runs after this) remove them when not running as root.
	t.Cleanup(func() { makeRemovable(src.root); makeRemovable(dir) })
	return &env{t: t, h: h, src: src, dst: tree{t: t, root: dir}, tgt: tgt, opts: opts}
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *env) fullSync() transport.Stats {
	e.t.Helper()
	st, err := e.tgt.FullSync(e.ctx())
	if err != nil {
		e.t.Fatalf("FullSync: %v", err)
	}
	return st
}

func (e *env) push(changes ...transport.Change) transport.Stats {
	e.t.Helper()
	st, err := e.tgt.Push(e.ctx(), changes)
	if err != nil {
		e.t.Fatalf("Push: %v", err)
	}
	return st
}

// treeOptions are the comparison options the target's caps allow.
func (e *env) treeOptions() treediff.Options {
	o := treediff.Options{
		MtimeGranularity:  e.h.Caps.MtimeGranularity,
		SkipSymlinkMtimes: !e.h.Caps.SymlinkMtimes,
		SkipDirMtimes:     e.h.Caps.NoDirMtimes,
		IgnoreRootMode:    e.h.Caps.IgnoreRootMode,
		CompareOwner:      os.Geteuid() == 0,
		Exclude:           e.opts.Exclude,
	}
	if e.h.Caps.NodeMtimeSeconds {
		o.NodeMtimeGranularity = time.Second
	}
	return o
}

// equal fails the test at once when target and source differ.
func (e *env) equal() {
	e.t.Helper()
	if !treediff.Equal(e.t, e.src.root, e.dst.root, e.treeOptions()) {
		e.t.FailNow()
	}
}

// present fails the test for each of paths missing on the target; why
// says why it should be there.
func (e *env) present(why string, paths ...string) {
	e.t.Helper()
	for _, p := range paths {
		if !e.dst.exists(p) {
			e.t.Errorf("%s: %q is missing on the target (deleted or never sent)", why, p)
		}
	}
}

// absent fails the test for each of paths still on the target; why says
// why it should be gone.
func (e *env) absent(why string, paths ...string) {
	e.t.Helper()
	for _, p := range paths {
		if e.dst.exists(p) {
			e.t.Errorf("%s: %q is on the target (sent or not deleted)", why, p)
		}
	}
}

// suiteExclude returns Options.Exclude as gsync builds it for the
// patterns "*.tmp" and "cache/", parents included.
func suiteExclude(t *testing.T) func(rel string, isDir bool) bool {
	t.Helper()
	rules, err := filter.New([]string{"*.tmp", "cache/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rules.Excluded
}

func noFailures(t *testing.T, st transport.Stats) {
	t.Helper()
	for _, f := range st.Failed {
		t.Errorf("unexpected failure: %q: %v", f.Path, f.Err)
	}
}

func sync(p string) transport.Change { return transport.Change{Op: change.Modify, Path: p} }
func syncDir(p string) transport.Change {
	return transport.Change{Op: change.Modify, Path: p, IsDir: true}
}
func del(p string, dir bool) transport.Change {
	return transport.Change{Op: change.Delete, Path: p, IsDir: dir}
}
func rename(from, to string, dir bool) transport.Change {
	return transport.Change{Op: change.Move, From: from, Path: to, IsDir: dir}
}

func fullSyncVaried(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) { w.varied(h.Caps) })
	st := e.fullSync()
	noFailures(t, st)
	if st.Files == 0 {
		t.Errorf("FullSync reported no files: %+v", st)
	}
	e.equal()
	// A second full sync finds nothing to do (quick check).
	st = e.fullSync()
	noFailures(t, st)
	if st.Files != 0 || st.Deleted != 0 {
		t.Errorf("second FullSync changed things: %+v", st)
	}
	e.equal()
}

func fullSyncDevices(t *testing.T, h Harness) {
	if os.Geteuid() != 0 || h.Caps.NoDevices {
		t.Skip("device nodes need root and a target that can create them")
	}
	e := setup(t, h, transport.Options{}, func(w tree) {
		if err := unix.Mknod(w.path("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Skipf("mknod not permitted here: %v", err)
		}
		if err := unix.Mknod(w.path("blk"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 200))); err != nil {
			t.Skipf("mknod not permitted here: %v", err)
		}
		// "blk" keeps its creation mtime: the target may create its copy
		// within the same second (see Caps.NodeMtimeSeconds).
		w.mtime("null", base)
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	e.equal()
	if h.Caps.NodeMtimeSeconds && h.Caps.MtimeGranularity == 0 {
		// The seconds differ from the creation time's: set exactly.
		s, err := os.Lstat(e.src.path("null"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := os.Lstat(e.dst.path("null"))
		if err != nil {
			t.Fatal(err)
		}
		if !s.ModTime().Equal(d.ModTime()) {
			t.Errorf("null: mtime: src %v, dst %v", s.ModTime(), d.ModTime())
		}
	}
}

func pushCreateModify(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("same", "AAAA", 0o644, base)
		w.file("grow", "short", 0o644, base)
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	e.equal()
	// Same size, same mtime (to the nanosecond): only the event says it
	// changed, and a push must not skip it.
	e.src.file("same", "BBBB", 0o644, base)
	e.src.file("grow", "a longer content", 0o600, base.Add(time.Minute))
	e.src.file("new", "new file", 0o640, base.Add(2*time.Minute))
	e.src.fixDirTimes()
	st := e.push(sync("same"), sync("grow"), sync("new"))
	noFailures(t, st)
	if st.Files < 3 {
		t.Errorf("Stats.Files = %d, want >= 3", st.Files)
	}
	e.equal()
}

func pushMkdirChain(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("top", "t", 0o644, base)
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	// mkdir -p a/b/c; echo > a/b/c/f: the batch lists the new dirs and the file.
	e.src.file("a/b/c/f", "deep", 0o644, base)
	e.src.dir("a/b", 0o700)
	e.src.fixDirTimes()
	noFailures(t, e.push(syncDir("a"), syncDir("a/b"), syncDir("a/b/c"), sync("a/b/c/f")))
	e.equal()
	// Only the file listed: its parents are created with the source's
	// attributes all the same.
	e.src.file("x/y/z/g", "g", 0o600, base)
	e.src.dir("x/y", 0o711)
	e.src.fixDirTimes()
	noFailures(t, e.push(sync("x/y/z/g")))
	e.equal()
}

func pushRecursive(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("d/old", "o", 0o644, base)
		w.file("d/sub/old", "o", 0o644, base)
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	e.src.remove("d/sub/old")
	e.src.file("d/sub/new/n", "n", 0o644, base)
	e.src.file("d/new", "n", 0o644, base)
	e.src.fixDirTimes()
	noFailures(t, e.push(transport.Change{Op: change.Modify, Path: "d", IsDir: true, Recursive: true}))
	e.equal()
}

func renameFile(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("dir1/a", "content of a", 0o640, base)
		w.dir("dir2", 0o755)
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	e.src.rename("dir1/a", "dir2/b")
	e.src.fixDirTimes()
	noFailures(t, e.push(rename("dir1/a", "dir2/b", false)))
	e.equal()
}

func renameDir(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) {
		for i := range 500 {
			w.file(fmt.Sprintf("big/sub%d/f%03d", i%5, i), fmt.Sprint(i), 0o644, base)
		}
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	e.equal()
	ino := e.dst.inode("big")
	e.src.rename("big", "moved")
	e.src.fixDirTimes()
	st := e.push(rename("big", "moved", true))
	noFailures(t, st)
	e.equal()
	if h.Caps.RenameKeepsInode {
		if got := e.dst.inode("moved"); got != ino {
			t.Errorf("renamed directory has inode %d, want %d (copied instead of renamed)", got, ino)
		}
		if st.Renamed != 1 {
			t.Errorf("Stats.Renamed = %d, want 1", st.Renamed)
		}
	}
}

func renameMissingOnTarget(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("keep", "k", 0o644, base)
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	// Created and moved before any push: the target never saw the source.
	e.src.file("tmpdir/x", "x", 0o644, base)
	e.src.rename("tmpdir", "final")
	e.src.file("y.part", "y", 0o644, base)
	e.src.rename("y.part", "y")
	e.src.fixDirTimes()
	noFailures(t, e.push(rename("tmpdir", "final", true), rename("y.part", "y", false)))
	e.equal()
}

func deletes(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("f", "f", 0o644, base)
		w.file("keep", "k", 0o644, base)
		w.file("d/a/b/c", "c", 0o644, base)
		w.file("d/x", "x", 0o644, base)
		w.symlink("d/l", "x")
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	e.src.remove("f")
	e.src.remove("d")
	e.src.fixDirTimes()
	st := e.push(del("f", false), del("d", true))
	noFailures(t, st)
	if st.Deleted < 2 {
		t.Errorf("Stats.Deleted = %d, want >= 2", st.Deleted)
	}
	e.equal()
}

func scopedDelete(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("d/a", "a", 0o644, base)
		w.file("d/b", "b", 0o644, base)
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	e.dst.file("d/target-only", "mine", 0o644, base)
	e.dst.file("target-only-dir/f", "mine", 0o644, base)
	e.src.file("d/a", "a changed", 0o644, base.Add(time.Second))
	e.src.remove("d/b")
	e.src.file("d/c", "c", 0o644, base)
	e.src.fixDirTimes()
	noFailures(t, e.push(sync("d/a"), del("d/b", false), sync("d/c"), syncDir("d")))
	e.present("unlisted target file", "d/target-only", "target-only-dir/f")
	e.opts.Exclude = excludeTrees("d/target-only", "target-only-dir")
	e.equal()
}

func excluded(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{Exclude: suiteExclude(t)}, func(w tree) {
		w.file("x.tmp", "x", 0o644, base)
		w.file("cache/f", "f", 0o644, base)
		w.file("sub/cache/g", "g", 0o644, base)
		w.file("sub/keep", "k", 0o644, base)
		w.fixDirTimes()
	})
	e.dst.file("old.tmp", "target's", 0o644, base)
	e.dst.file("cache/keep", "target's", 0o644, base)
	noFailures(t, e.fullSync())
	check := func() {
		t.Helper()
		e.absent("excluded, never sent", "x.tmp", "cache/f", "sub/cache")
		e.present("excluded, never deleted", "old.tmp", "cache/keep")
		e.equal()
	}
	check()
	e.src.file("x.tmp", "changed", 0o644, base)
	e.src.file("sub/cache/h", "h", 0o644, base)
	e.src.fixDirTimes()
	noFailures(t, e.push(sync("x.tmp"), del("old.tmp", false), del("cache/keep", false),
		sync("sub/cache/h"), transport.Change{Op: change.Modify, Path: "sub", IsDir: true, Recursive: true}))
	check()
	e.src.remove("cache")
	e.src.fixDirTimes()
	noFailures(t, e.push(del("cache", true)))
	check()
}

// excludedDeletes: with excludes, deletes still happen (full sync extras,
// listed paths gone at the source, extras below a recursive directory),
// and excluded target paths survive all of them, also inside a deleted
// directory. Same predicate as excluded (the daemon harnesses pass rsync
// rules equivalent to it).
func excludedDeletes(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{Exclude: suiteExclude(t)}, func(w tree) {
		w.file("keep", "k", 0o644, base)
		w.file("gone", "g", 0o644, base)
		w.file("d/keep", "k", 0o644, base)
		w.file("d/gone", "g", 0o644, base)
		w.file("dd/f", "f", 0o644, base)
		w.fixDirTimes()
	})
	e.dst.file("extra", "target only", 0o644, base)
	e.dst.file("extra.tmp", "target only", 0o644, base)
	e.dst.file("d/cache/x", "target only", 0o644, base)
	noFailures(t, e.fullSync())
	e.absent("FullSync", "extra")
	e.present("FullSync", "extra.tmp", "d/cache/x", "keep", "d/keep")
	e.equal()

	e.dst.file("d/extra", "target only", 0o644, base)
	e.dst.file("d/x.tmp", "target only", 0o644, base)
	e.dst.file("dd/old.tmp", "target only", 0o644, base)
	e.src.remove("gone")
	e.src.remove("d/gone")
	e.src.remove("dd")
	e.src.fixDirTimes()
	// dd holds an excluded entry on the target: it stays (a target may
	// report that as a failure), everything else in it goes.
	e.tgt.Push(e.ctx(), []transport.Change{del("gone", false), del("dd", true),
		{Op: change.Modify, Path: "d", IsDir: true, Recursive: true}})
	e.absent("Push", "gone", "d/gone", "d/extra", "dd/f")
	e.present("Push", "extra.tmp", "d/cache/x", "d/x.tmp", "dd/old.tmp", "keep", "d/keep")
}

func typeChange(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("p", "file", 0o644, base)
		w.file("q/inner", "i", 0o644, base)
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	steps := []func(){
		func() { e.src.remove("p"); e.src.file("p/child", "c", 0o600, base) },
		func() { e.src.remove("p"); e.src.symlink("p", "q/inner") },
		func() { e.src.remove("p"); e.src.file("p", "file again", 0o644, base) },
		func() { e.src.remove("q"); e.src.symlink("q", "p") },
	}
	for i, step := range steps {
		step()
		e.src.fixDirTimes()
		noFailures(t, e.push(transport.Change{Op: change.Modify, Path: "p", Recursive: true},
			transport.Change{Op: change.Modify, Path: "q", Recursive: true}))
		if t.Failed() {
			t.Fatalf("step %d failed", i)
		}
		e.equal()
	}
}

func deleteModes(t *testing.T, h Harness) {
	modes := []struct {
		name string
		mode transport.DeleteMode
	}{{"always", transport.DeleteAlways}, {"never", transport.DeleteNever}, {"startup", transport.DeleteStartup}, {"running", transport.DeleteRunning}}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := setup(t, h, transport.Options{Delete: m.mode}, func(w tree) {
				w.file("keep", "k", 0o644, base)
				w.file("gone", "g", 0o644, base)
				w.fixDirTimes()
			})
			e.dst.file("extra", "target only", 0o644, base)
			e.dst.file("extra-dir/f", "target only", 0o644, base)
			noFailures(t, e.fullSync())
			for _, p := range []string{"extra", "extra-dir"} {
				if got := e.dst.exists(p); got != !m.mode.Full() {
					t.Errorf("after FullSync: %s exists = %v, want %v", p, got, !m.mode.Full())
				}
			}
			e.src.remove("gone")
			noFailures(t, e.push(del("gone", false)))
			if got := e.dst.exists("gone"); got != !m.mode.Running() {
				t.Errorf("after Push: gone exists = %v, want %v", got, !m.mode.Running())
			}
			if !e.dst.exists("keep") {
				t.Errorf("keep was deleted")
			}
		})
	}
}

func unreadableSource(t *testing.T, h Harness) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files with mode 000")
	}
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("a", "a", 0o644, base)
		w.file("b-secret", "b", 0o000, base)
		w.file("c", "c", 0o644, base)
		w.fixDirTimes()
	})
	st, err := e.tgt.FullSync(e.ctx())
	if err != nil {
		t.Fatalf("FullSync: %v", err)
	}
	wantFailed(t, st, "b-secret")
	e.opts.Exclude = excludeTrees("b-secret")
	e.equal()
	e.src.file("a", "a2", 0o644, base.Add(time.Second))
	e.src.file("c", "c2", 0o644, base.Add(time.Second))
	e.src.fixDirTimes()
	st, err = e.tgt.Push(e.ctx(), []transport.Change{sync("a"), sync("b-secret"), sync("c")})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	wantFailed(t, st, "b-secret")
	e.equal()
}

func unwritableTarget(t *testing.T, h Harness) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into directories with mode 0555")
	}
	e := setup(t, h, transport.Options{}, func(w tree) {
		w.file("ro/x", "x", 0o644, base)
		w.file("y", "y", 0o644, base)
		w.fixDirTimes()
	})
	noFailures(t, e.fullSync())
	e.dst.chmod("ro", 0o555)
	t.Cleanup(func() { os.Chmod(e.dst.path("ro"), 0o755) })
	e.src.file("ro/x", "x2", 0o644, base.Add(time.Second))
	e.src.file("ro/new", "n", 0o644, base)
	e.src.file("y", "y2", 0o644, base.Add(time.Second))
	st, err := e.tgt.Push(e.ctx(), []transport.Change{sync("ro/x"), sync("ro/new"), sync("y")})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	wantFailed(t, st, "ro/x", "ro/new")
	e.opts.Exclude = excludeTrees("ro")
	e.equal()
}

// wantFailed checks that exactly the given paths are in st.Failed.
func wantFailed(t *testing.T, st transport.Stats, paths ...string) {
	t.Helper()
	got := make(map[string]bool)
	for _, f := range st.Failed {
		got[f.Path] = true
	}
	for _, p := range paths {
		if !got[p] {
			t.Errorf("%q not reported in Stats.Failed %v", p, st.Failed)
		}
		delete(got, p)
	}
	for p := range got {
		t.Errorf("unexpected failure for %q: %v", p, st.Failed)
	}
}

func dryRun(t *testing.T, h Harness) {
	e := setup(t, h, transport.Options{DryRun: true}, func(w tree) {
		w.file("a", "a", 0o644, base)
		w.file("d/b", "b", 0o644, base)
		w.fixDirTimes()
	})
	e.dst.file("extra", "x", 0o644, base)
	e.dst.file("d/old", "x", 0o644, base)
	e.dst.fixDirTimes()
	snap := t.TempDir()
	copyTree(t, e.dst.root, snap)
	st := e.fullSync()
	if st.Files == 0 {
		t.Errorf("dry-run FullSync counted nothing: %+v", st)
	}
	e.src.remove("a")
	e.src.file("c", "c", 0o644, base)
	e.push(del("a", false), sync("c"), sync("d/b"), rename("d/old", "d/new", false))
	e.push(del("extra", false))
	if !treediff.Equal(t, snap, e.dst.root, treediff.Options{IgnoreRootMode: true, IgnoreRootMtime: true}) {
		t.Fatal("dry run changed the target")
	}
}

// makeRemovable adds owner write permission to every directory below root.
func makeRemovable(root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

// copyTree copies the regular files and directories of a fixture.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	w := tree{t: t, root: to}
	var walk func(rel string)
	walk = func(rel string) {
		entries, err := os.ReadDir(path.Join(from, rel))
		if err != nil {
			t.Fatal(err)
		}
		for _, de := range entries {
			r := path.Join(rel, de.Name())
			fi, err := os.Lstat(path.Join(from, r))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case fi.IsDir():
				w.dir(r, fi.Mode().Perm())
				walk(r)
			case fi.Mode().IsRegular():
				data, err := os.ReadFile(path.Join(from, r))
				if err != nil {
					t.Fatal(err)
				}
				w.bytes(r, data, fi.ModTime())
				w.chmod(r, fi.Mode())
			}
		}
		fi, err := os.Lstat(path.Join(from, rel))
		if err != nil {
			t.Fatal(err)
		}
		w.mtime(rel, fi.ModTime())
	}
	walk(".")
}

// excludeTrees returns an Options.Exclude that excludes each of names and
// everything below it, answering for parents as the contract asks.
func excludeTrees(names ...string) func(rel string, isDir bool) bool {
	return func(rel string, _ bool) bool {
		for _, n := range names {
			if rel == n || strings.HasPrefix(rel, n+"/") {
				return true
			}
		}
		return false
	}
}
