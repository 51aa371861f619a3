package watcher

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
)

// waitLimit bounds every wait for events.
const waitLimit = 5 * time.Second

func startWatcher(t *testing.T, backend, root string, exclude func(string, bool) bool) Watcher {
	t.Helper()
	w, err := New(context.Background(), Options{Root: root, Backend: backend, Exclude: exclude})
	if err != nil {
		t.Fatalf("New(%s): %v", backend, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// collect reads events until every wanted event has been seen (in any
// order) or waitLimit passes. It returns everything read.
func collect(t *testing.T, w Watcher, want ...Event) []Event {
	t.Helper()
	missing := make(map[Event]bool)
	for _, e := range want {
		missing[e] = true
	}
	var got []Event
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for len(missing) > 0 {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("events channel closed; got %v, still missing %v", got, keys(missing))
			}
			got = append(got, ev)
			delete(missing, ev)
		case err := <-w.Errors():
			t.Fatalf("watcher error: %v", err)
		case <-deadline.C:
			t.Fatalf("timed out; got %v, still missing %v", got, keys(missing))
		}
	}
	return got
}

func keys(m map[Event]bool) []Event {
	var out []Event
	for e := range m {
		out = append(out, e)
	}
	return out
}

// sentinel writes a marker file and collects events up to its Modify; since
// events arrive in kernel order, anything caused earlier is in the result.
func sentinel(t *testing.T, w Watcher, root string) []Event {
	t.Helper()
	name := fmt.Sprintf("sentinel-%d", time.Now().UnixNano())
	testutil.WriteFile(t, filepath.Join(root, name), "s")
	got := collect(t, w, Event{Op: change.Create, Path: name})
	// The Create may arrive before Modify; wait for the latter too.
	return append(got, collect(t, w, Event{Op: change.Modify, Path: name})...)
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func hasPrefixEvent(evs []Event, prefix string) (Event, bool) {
	for _, e := range evs {
		if inTree(e.Path, prefix) || (e.From != "" && inTree(e.From, prefix)) {
			return e, true
		}
	}
	return Event{}, false
}

func forBackends(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range Backends() {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

func TestFileOps(t *testing.T) {
	forBackends(t, func(t *testing.T, b string) {
		root := t.TempDir()
		w := startWatcher(t, b, root, nil)
		f := filepath.Join(root, "f")
		testutil.WriteFile(t, f, "hello")
		collect(t, w, Event{Op: change.Create, Path: "f"}, Event{Op: change.Modify, Path: "f"})
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
		collect(t, w, Event{Op: change.Attrib, Path: "f"})
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
		collect(t, w, Event{Op: change.Delete, Path: "f"})
		testutil.MustMkdir(t, filepath.Join(root, "d"))
		collect(t, w, Event{Op: change.Create, Path: "d", IsDir: true})
		if got := w.Watches(); got != 2 {
			t.Errorf("Watches() = %d after mkdir, want 2", got)
		}
		if err := os.Remove(filepath.Join(root, "d")); err != nil {
			t.Fatal(err)
		}
		collect(t, w, Event{Op: change.Delete, Path: "d", IsDir: true})
		sentinel(t, w, root)
		if got := w.Watches(); got != 1 {
			t.Errorf("Watches() = %d after rmdir, want 1", got)
		}
	})
}

func TestMkdirPThenWrite(t *testing.T) {
	forBackends(t, func(t *testing.T, b string) {
		root := t.TempDir()
		w := startWatcher(t, b, root, nil)
		testutil.MustMkdir(t, filepath.Join(root, "a/b/c"))
		testutil.WriteFile(t, filepath.Join(root, "a/b/c/f"), "x")
		collect(t, w,
			Event{Op: change.Create, Path: "a", IsDir: true},
			Event{Op: change.Create, Path: "a/b", IsDir: true},
			Event{Op: change.Create, Path: "a/b/c", IsDir: true},
			Event{Op: change.Create, Path: "a/b/c/f"},
		)
		sentinel(t, w, root)
		if got := w.Watches(); got != 4 {
			t.Errorf("Watches() = %d, want 4", got)
		}
		// The new deepest directory is watched too.
		testutil.WriteFile(t, filepath.Join(root, "a/b/c/g"), "y")
		collect(t, w, Event{Op: change.Modify, Path: "a/b/c/g"})
	})
}

func TestRenameFile(t *testing.T) {
	forBackends(t, func(t *testing.T, b string) {
		root := t.TempDir()
		testutil.MustMkdir(t, filepath.Join(root, "d1"))
		testutil.MustMkdir(t, filepath.Join(root, "d2"))
		testutil.WriteFile(t, filepath.Join(root, "d1/x"), "x")
		w := startWatcher(t, b, root, nil)
		rename(t, filepath.Join(root, "d1/x"), filepath.Join(root, "d1/y"))
		rename(t, filepath.Join(root, "d1/y"), filepath.Join(root, "d2/z"))
		if b == BackendInotify {
			got := collect(t, w,
				Event{Op: change.Move, From: "d1/x", Path: "d1/y"},
				Event{Op: change.Move, From: "d1/y", Path: "d2/z"})
			got = append(got, sentinel(t, w, root)...)
			for _, e := range got {
				if e.Op == change.Delete || (e.Op == change.Create && !strings.HasPrefix(e.Path, "sentinel")) {
					t.Errorf("unexpected %v besides the moves", e)
				}
			}
			return
		}
		collect(t, w,
			Event{Op: change.Delete, Path: "d1/x"}, Event{Op: change.Create, Path: "d1/y"},
			Event{Op: change.Delete, Path: "d1/y"}, Event{Op: change.Create, Path: "d2/z"})
	})
}

func TestRenameDirRekeys(t *testing.T) {
	forBackends(t, func(t *testing.T, b string) {
		root := t.TempDir()
		testutil.MustMkdir(t, filepath.Join(root, "d/sub/deep"))
		w := startWatcher(t, b, root, nil)
		rename(t, filepath.Join(root, "d"), filepath.Join(root, "e"))
		if b == BackendInotify {
			collect(t, w, Event{Op: change.Move, From: "d", Path: "e", IsDir: true})
		} else {
			// Wait until the new deepest directory is watched.
			collect(t, w, Event{Op: change.Delete, Path: "d", IsDir: true}, Event{Op: change.Create, Path: "e/sub/deep", IsDir: true})
		}
		testutil.WriteFile(t, filepath.Join(root, "e/sub/deep/f"), "x")
		got := collect(t, w, Event{Op: change.Modify, Path: "e/sub/deep/f"})
		got = append(got, sentinel(t, w, root)...)
		for _, e := range got {
			if strings.HasPrefix(e.Path, "d/") {
				t.Errorf("event %v uses the old directory name", e)
			}
		}
		if got := w.Watches(); got != 4 {
			t.Errorf("Watches() = %d, want 4", got)
		}
	})
}

func TestMoveOutOfTree(t *testing.T) {
	forBackends(t, func(t *testing.T, b string) {
		root, outside := t.TempDir(), t.TempDir()
		testutil.MustMkdir(t, filepath.Join(root, "dir/sub"))
		testutil.WriteFile(t, filepath.Join(root, "file"), "x")
		w := startWatcher(t, b, root, nil)
		rename(t, filepath.Join(root, "file"), filepath.Join(outside, "file"))
		rename(t, filepath.Join(root, "dir"), filepath.Join(outside, "dir"))
		collect(t, w, Event{Op: change.Delete, Path: "file"}, Event{Op: change.Delete, Path: "dir", IsDir: true})
		// Changes in the moved-out directory are no longer reported.
		testutil.WriteFile(t, filepath.Join(outside, "dir/sub/late"), "x")
		if e, ok := hasPrefixEvent(sentinel(t, w, root), "dir"); ok {
			t.Errorf("event %v from a directory outside the tree", e)
		}
		if got := w.Watches(); got != 1 {
			t.Errorf("Watches() = %d, want 1", got)
		}
	})
}

func TestMoveIntoTree(t *testing.T) {
	forBackends(t, func(t *testing.T, b string) {
		root, outside := t.TempDir(), t.TempDir()
		testutil.MustMkdir(t, filepath.Join(outside, "x/y"))
		testutil.WriteFile(t, filepath.Join(outside, "x/y/f"), "x")
		testutil.WriteFile(t, filepath.Join(outside, "g"), "g")
		w := startWatcher(t, b, root, nil)
		rename(t, filepath.Join(outside, "x"), filepath.Join(root, "x"))
		rename(t, filepath.Join(outside, "g"), filepath.Join(root, "g"))
		collect(t, w,
			Event{Op: change.Create, Path: "x", IsDir: true},
			Event{Op: change.Create, Path: "x/y", IsDir: true},
			Event{Op: change.Create, Path: "x/y/f"},
			Event{Op: change.Create, Path: "g"})
		testutil.WriteFile(t, filepath.Join(root, "x/y/h"), "h")
		collect(t, w, Event{Op: change.Modify, Path: "x/y/h"})
	})
}

func TestExclude(t *testing.T) {
	forBackends(t, func(t *testing.T, b string) {
		root := t.TempDir()
		testutil.MustMkdir(t, filepath.Join(root, "skip/inner"))
		testutil.MustMkdir(t, filepath.Join(root, "keep"))
		exclude := func(rel string, isDir bool) bool {
			return rel == "skip" || strings.HasSuffix(rel, ".tmp")
		}
		w := startWatcher(t, b, root, exclude)
		if got := w.Watches(); got != 2 {
			t.Errorf("Watches() = %d, want 2 (root, keep)", got)
		}
		testutil.WriteFile(t, filepath.Join(root, "skip/f"), "x")
		testutil.WriteFile(t, filepath.Join(root, "skip/inner/f"), "x")
		testutil.WriteFile(t, filepath.Join(root, "keep/a.tmp"), "x")
		got := sentinel(t, w, root)
		if e, ok := hasPrefixEvent(got, "skip"); ok {
			t.Errorf("event %v from an excluded directory", e)
		}
		for _, e := range got {
			if strings.HasSuffix(e.Path, ".tmp") {
				t.Errorf("event %v on an excluded file", e)
			}
		}
		// Renames to and from excluded names.
		testutil.WriteFile(t, filepath.Join(root, "keep/b"), "x")
		collect(t, w, Event{Op: change.Modify, Path: "keep/b"})
		rename(t, filepath.Join(root, "keep/b"), filepath.Join(root, "keep/b.tmp"))
		collect(t, w, Event{Op: change.Delete, Path: "keep/b"})
		rename(t, filepath.Join(root, "keep/a.tmp"), filepath.Join(root, "keep/a"))
		collect(t, w, Event{Op: change.Create, Path: "keep/a"})
		// A directory moved onto an excluded name stops being watched.
		rename(t, filepath.Join(root, "keep"), filepath.Join(root, "skip2.tmp"))
		collect(t, w, Event{Op: change.Delete, Path: "keep", IsDir: true})
		sentinel(t, w, root)
		if got := w.Watches(); got != 1 {
			t.Errorf("Watches() = %d, want 1", got)
		}
	})
}

func TestOddNames(t *testing.T) {
	names := []string{"with space", "new\nline", `back\slash`, "br]acket", "bad\xff\xfeutf8", " lead", "tab\tx"}
	if runtime.GOOS != "linux" {
		t.Skip("odd names are tested on linux")
	}
	forBackends(t, func(t *testing.T, b string) {
		root := t.TempDir()
		w := startWatcher(t, b, root, nil)
		var want []Event
		for _, n := range names {
			testutil.WriteFile(t, filepath.Join(root, n), "x")
			want = append(want, Event{Op: change.Modify, Path: n})
		}
		dir := "dir ]\n\\\xff"
		testutil.MustMkdir(t, filepath.Join(root, dir))
		want = append(want, Event{Op: change.Create, Path: dir, IsDir: true})
		collect(t, w, want...)
		testutil.WriteFile(t, filepath.Join(root, dir, names[1]), "x")
		collect(t, w, Event{Op: change.Modify, Path: dir + "/" + names[1]})
	})
}

func TestNewErrors(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "f")
	testutil.WriteFile(t, file, "x")
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"missing root", Options{Root: filepath.Join(root, "nope")}, "no such file"},
		{"file root", Options{Root: file}, "not a directory"},
		{"empty root", Options{}, "no root"},
		{"unknown backend", Options{Root: root, Backend: "kqueue"}, "valid: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(context.Background(), tc.opts)
			if err == nil {
				w.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestCloseStops(t *testing.T) {
	forBackends(t, func(t *testing.T, b string) {
		before := runtime.NumGoroutine()
		root := t.TempDir()
		testutil.MustMkdir(t, filepath.Join(root, "a"))
		w, err := New(context.Background(), Options{Root: root, Backend: b})
		if err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, filepath.Join(root, "a/f"), "x") // leave events unread
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		drainClosed(t, w)

		// A cancelled context stops the watcher too.
		ctx, cancel := context.WithCancel(context.Background())
		w2, err := New(ctx, Options{Root: root, Backend: b})
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		drainClosed(t, w2)
		w2.Close()

		deadline := time.Now().Add(waitLimit)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

// drainClosed reads Events until it is closed, bounded by waitLimit.
func drainClosed(t *testing.T, w Watcher) {
	t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-w.Events():
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatal("events channel not closed after stop")
		}
	}
}

// TestRenameBeforeParentCreate: a directory renamed into a new
// directory before the watcher handled that directory's Create (its
// consumer was behind) is watched under its new name, and stays watched
// when the rename's removal of the old name is handled after it.
func TestRenameBeforeParentCreate(t *testing.T) {
	forBackends(t, func(t *testing.T, b string) {
		root := t.TempDir()
		testutil.MustMkdir(t, filepath.Join(root, "x", "a", "sub"))
		testutil.MustMkdir(t, filepath.Join(root, "flood"))
		w := startWatcher(t, b, root, nil)
		// More events than the channel holds, read by nobody: the
		// watcher waits to hand one over while the rest happens.
		for i := range eventBuffer + 100 {
			testutil.Must(t, os.WriteFile(filepath.Join(root, "flood", fmt.Sprint(i)), nil, 0o644))
		}
		testutil.MustMkdir(t, filepath.Join(root, "p"))
		rename(t, filepath.Join(root, "x", "a"), filepath.Join(root, "p", "a"))
		sentinel(t, w, root) // everything before it was handled
		testutil.WriteFile(t, filepath.Join(root, "p", "a", "f"), "f")
		testutil.WriteFile(t, filepath.Join(root, "p", "a", "sub", "g"), "g")
		collect(t, w, Event{Op: change.Create, Path: "p/a/f"}, Event{Op: change.Create, Path: "p/a/sub/g"})
	})
}
