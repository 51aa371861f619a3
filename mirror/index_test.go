package mirror

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// stopLoop stops e's loop and waits for it.
func stopLoop(t *testing.T, e *loopEnv) {
	t.Helper()
	e.m.Stop()
	select {
	case <-e.finished:
	case <-time.After(30 * time.Second):
		t.Fatal("the loop did not stop")
	}
}

// TestIndexRestart: the first start runs a full sync and saves the tree
// index; a restart pushes only what changed while gsync was down (a
// new file, a modified one, a deleted one), then verifies with a full
// sync; other options mean a full sync at once.
func TestIndexRestart(t *testing.T) {
	src, dir := t.TempDir(), t.TempDir()
	testutil.WriteRel(t, src, "keep")
	testutil.WriteRel(t, src, "mod")
	testutil.WriteRel(t, src, "gone/f")
	cfg := Config{Source: src, StateDir: dir}

	first := &fakeTarget{name: "t"}
	e := newLoop(t, cfg, false, first)
	testutil.Eventually(t, "startup full sync", func() bool { return e.state(0) == StateIdle })
	stopLoop(t, e)
	if n := read(first, func(f *fakeTarget) int { return f.fulls }); n != 1 {
		t.Fatalf("first start: %d full syncs, want 1", n)
	}
	if !strings.Contains(e.log.String(), "no tree index of this target yet") {
		t.Errorf("first start does not say why it runs a full sync:\n%s", e.log)
	}

	// While gsync is down.
	testutil.Must(t, os.WriteFile(filepath.Join(src, "mod"), []byte("changed"), 0o644))
	testutil.Must(t, os.RemoveAll(filepath.Join(src, "gone")))
	testutil.WriteRel(t, src, "new")

	second := &fakeTarget{name: "t"}
	e = newLoop(t, cfg, false, second)
	testutil.Eventually(t, "catch-up and verification", func() bool {
		return read(second, func(f *fakeTarget) int { return f.fulls }) == 1 && e.state(0) == StateIdle
	})
	pushed := read(second, func(f *fakeTarget) []string { return f.pushed })
	for _, p := range []string{"mod", "gone", "new"} {
		if !second.got(p) {
			t.Errorf("catch-up did not push %s (pushed %q)", p, pushed)
		}
	}
	for _, p := range []string{"keep", "gone/f"} {
		if second.got(p) {
			t.Errorf("catch-up pushed %s, which did not change (pushed %q)", p, pushed)
		}
	}
	if !strings.Contains(e.log.String(), "restart with a tree index") {
		t.Errorf("restart does not say it catches up:\n%s", e.log)
	}
	stopLoop(t, e)

	// Other options: the index is not used.
	cfg.Excludes = []string{"*.tmp"}
	third := &fakeTarget{name: "t"}
	e = newLoop(t, cfg, false, third)
	testutil.Eventually(t, "full sync", func() bool { return read(third, func(f *fakeTarget) int { return f.fulls }) == 1 })
	if third.got("mod") || !strings.Contains(e.log.String(), "other options or rules") {
		t.Errorf("index of other options used, or not said:\n%s", e.log)
	}
}

// TestIndexEmptySourceGuard: a source that lost everything since the
// index (an unmounted disk) does not turn into deletions: the full sync
// and its guard decide.
func TestIndexEmptySourceGuard(t *testing.T) {
	src, dir := t.TempDir(), t.TempDir()
	testutil.WriteRel(t, src, "a")
	cfg := Config{Source: src, StateDir: dir}
	first := &fakeTarget{name: "t"}
	e := newLoop(t, cfg, false, first)
	testutil.Eventually(t, "startup full sync", func() bool { return e.state(0) == StateIdle })
	stopLoop(t, e)
	testutil.Must(t, os.Remove(filepath.Join(src, "a")))
	testutil.Must(t, os.Remove(filepath.Join(src, "f0")))

	second := &fakeTarget{name: "t"}
	e = newLoop(t, cfg, true, second)
	testutil.Eventually(t, "guard", func() bool { return strings.Contains(e.log.String(), "looks unmounted or emptied") })
	never(t, "a delete pushed from an empty source", func() bool { return second.got("a") })
}
