package transport_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
	"github.com/gsync/gsync/transport"
)

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (err %v)", p, err)
	}
}

func failedPaths(st transport.Stats) []string {
	var ps []string
	for _, f := range st.Failed {
		ps = append(ps, f.Path)
	}
	return ps
}

func TestLocalRefusesEscapingPaths(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	testutil.WriteFile(t, filepath.Join(src, "ok"), "ok")
	testutil.WriteFile(t, filepath.Join(base, "victim"), "precious")
	l, err := transport.NewLocal(dst, transport.Options{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{"../victim", "/victim", "a/../../victim", "./ok", "a//b", ""}
	var changes []transport.Change
	for _, p := range bad {
		changes = append(changes, transport.Change{Op: change.Delete, Path: p})
	}
	changes = append(changes,
		transport.Change{Op: change.Move, From: "../victim", Path: "stolen"},
		transport.Change{Op: change.Move, From: "ok", Path: "../moved"},
		transport.Change{Op: change.Modify, Path: "ok"})
	st, err := l.Push(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != len(bad)+2 {
		t.Errorf("want %d refused paths, got %q", len(bad)+2, failedPaths(st))
	}
	if b, err := os.ReadFile(filepath.Join(base, "victim")); err != nil || string(b) != "precious" {
		t.Fatalf("file outside the target touched: %q %v", b, err)
	}
	mustNotExist(t, filepath.Join(dst, "stolen"))
	mustNotExist(t, filepath.Join(base, "moved"))
	if _, err := os.Stat(filepath.Join(dst, "ok")); err != nil {
		t.Errorf("valid change not applied: %v", err)
	}
}

func TestLocalNeverFollowsTargetSymlinks(t *testing.T) {
	base := t.TempDir()
	src, dst, outside := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "outside")
	testutil.WriteFile(t, filepath.Join(src, "d/f"), "new")
	testutil.WriteFile(t, filepath.Join(outside, "f"), "outside")
	testutil.WriteFile(t, filepath.Join(outside, "gone"), "outside")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	// A planted symlink on the target where the source has a directory.
	if err := os.Symlink(outside, filepath.Join(dst, "d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dst, "e")); err != nil {
		t.Fatal(err)
	}
	l, err := transport.NewLocal(dst, transport.Options{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Push(context.Background(), []transport.Change{
		{Op: change.Delete, Path: "e/gone"}, // below a target symlink: nothing to delete
		{Op: change.Modify, Path: "d/f"},
	})
	if err != nil || len(st.Failed) != 0 {
		t.Fatalf("Push: %v %v", err, st.Failed)
	}
	for _, n := range []string{"f", "gone"} {
		if b, _ := os.ReadFile(filepath.Join(outside, n)); string(b) != "outside" {
			t.Errorf("write through a target symlink: outside/%s = %q", n, b)
		}
	}
	fi, err := os.Lstat(filepath.Join(dst, "d"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("target symlink not replaced by a directory: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "d/f")); string(b) != "new" {
		t.Errorf("d/f = %q", b)
	}
}

func TestLocalNeverFollowsSourceSymlinks(t *testing.T) {
	base := t.TempDir()
	src, dst, outside := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "outside")
	testutil.WriteFile(t, filepath.Join(outside, "secret"), "secret")
	testutil.WriteFile(t, filepath.Join(src, "plain"), "p")
	if err := os.Symlink(outside, filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	l, err := transport.NewLocal(dst, transport.Options{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.FullSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := l.Push(context.Background(), []transport.Change{
		{Op: change.Modify, Path: "link/secret"},
		{Op: change.Modify, Path: "link", Recursive: true},
	})
	if err != nil || len(st.Failed) != 0 {
		t.Fatalf("Push: %v %v", err, st.Failed)
	}
	fi, err := os.Lstat(filepath.Join(dst, "link"))
	if err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Fatalf("link not mirrored as a symlink: %v %v", fi, err)
	}
	treediff.Equal(t, src, dst, treediff.Options{})
}

func TestLocalRefusesSourceAsTarget(t *testing.T) {
	dir := t.TempDir()
	if _, err := transport.NewLocal(dir, transport.Options{Source: dir}); err == nil {
		t.Fatal("NewLocal accepted the source as its target")
	}
	if _, err := transport.NewLocal(dir, transport.Options{}); err == nil {
		t.Fatal("NewLocal accepted an empty source")
	}
}

func TestLocalCancelled(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	testutil.WriteFile(t, filepath.Join(src, "a"), "a")
	l, err := transport.NewLocal(dst, transport.Options{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Push(ctx, []transport.Change{{Op: change.Modify, Path: "a"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Push with a cancelled context: %v", err)
	}
	if _, err := l.FullSync(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("FullSync with a cancelled context: %v", err)
	}
	mustNotExist(t, filepath.Join(dst, "a"))
}

// TestLocalNoSpace fills a small tmpfs: the file that does not fit fails
// alone, its temporary file is removed, and the others arrive.
func TestLocalNoSpace(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dst, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a small tmpfs here: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dst, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "big"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(src, "small"), "fits")
	l, err := transport.NewLocal(dst, transport.Options{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Push(context.Background(), []transport.Change{
		{Op: change.Modify, Path: "big"}, {Op: change.Modify, Path: "small"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != 1 || st.Failed[0].Path != "big" || !errors.Is(st.Failed[0].Err, unix.ENOSPC) {
		t.Fatalf("want one ENOSPC failure for big, got %v", st.Failed)
	}
	names, _ := os.ReadDir(dst)
	for _, n := range names {
		if strings.HasPrefix(n.Name(), ".gsync-tmp-") {
			t.Errorf("temporary file %s left behind", n.Name())
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "small")); string(b) != "fits" {
		t.Errorf("small = %q", b)
	}
}
