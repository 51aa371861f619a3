package transport_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/transport"
)

const localSecret = "LOCAL-OUTSIDE-SECRET-93be41"

// quiet drops the targets' per-file warnings of these tests.
var quiet = slog.New(slog.DiscardHandler)

// TestLocalSymlinkSwapRace syncs SRC to a local target again and again
// (full syncs and event batches) while files and directories in SRC are
// swapped for symlinks to a directory outside SRC holding a secret: no
// byte of the secret ever lands in the target. The old local target read
// the source by full paths, following a directory swapped for a symlink.
func TestLocalSymlinkSwapRace(t *testing.T) {
	base := t.TempDir()
	src, dst, outside := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "outside")
	for _, n := range []string{"f0", "f1", "f2", "sub/f0", "sub/f1"} {
		testutil.WriteFile(t, filepath.Join(outside, n), localSecret)
	}
	for _, n := range []string{"f0", "f1", "f2", "d/f0", "d/f1", "d/sub/f0", "d/sub/f1"} {
		testutil.WriteFile(t, filepath.Join(src, n), "harmless "+n)
	}
	l, err := transport.NewLocal(dst, transport.Options{Source: src, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	wait := testutil.SwapSymlinks(t, ctx, src,
		testutil.SymlinkSwap{Name: "f1", Target: filepath.Join(outside, "f1")},
		testutil.SymlinkSwap{Name: "f2", Target: filepath.Join(outside, "f2")},
		testutil.SymlinkSwap{Name: "d", Target: outside},
		testutil.SymlinkSwap{Name: "d/sub", Target: filepath.Join(outside, "sub")})
	syncs := 0
	for ctx.Err() == nil {
		if syncs%2 == 0 {
			l.FullSync(context.Background())
		} else {
			l.Push(context.Background(), []transport.Change{
				{Op: change.Modify, Path: "f1"}, {Op: change.Modify, Path: "d/f0"},
				{Op: change.Modify, Path: "d/sub/f1"}, {Op: change.Modify, Path: "d", Recursive: true}})
		}
		syncs++
		if leaked := testutil.FileContaining(t, dst, localSecret); leaked != "" {
			cancel()
			wait()
			t.Fatalf("sync %d: %s holds data from outside SRC", syncs, leaked)
		}
		// A fresh target each time: every sync reads every file.
		if err := os.RemoveAll(dst); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(dst, 0o755)
	}
	wait()
	t.Logf("%d syncs", syncs)
}

// TestLocalFIFOSwappedIn: a file replaced by a FIFO between its lstat and
// its open does not hang the sync (O_NONBLOCK, then fstat says it is no
// longer the regular file that was listed). The old local target blocked
// in open(2) forever.
func TestLocalFIFOSwappedIn(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	for _, n := range []string{"a", "pipe", "z"} {
		testutil.WriteFile(t, filepath.Join(src, n), n)
	}
	var once sync.Once
	l, err := transport.NewLocal(dst, transport.Options{Source: src, Logger: quiet, Exclude: func(rel string, isDir bool) bool {
		if rel == "pipe" { // asked between the lstat of pipe and its open
			once.Do(func() {
				os.Remove(filepath.Join(src, "pipe"))
				if err := syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644); err != nil {
					t.Error(err)
				}
			})
		}
		return false
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	var st transport.Stats
	go func() {
		defer close(done)
		st, err = l.FullSync(ctx)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("full sync hung on a FIFO swapped in for a file")
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != 1 || st.Failed[0].Path != "pipe" {
		t.Errorf("failed = %v, want pipe", st.Failed)
	}
	for _, n := range []string{"a", "z"} {
		if b, _ := os.ReadFile(filepath.Join(dst, n)); string(b) != n {
			t.Errorf("%s = %q", n, b)
		}
	}
}

// TestLocalPastPathMax: a full sync of a tree holding a path of about
// 5,000 bytes (past PATH_MAX) reads the source relative to open
// directories, syncs everything else, deletes what the source lacks, and
// reports the long path once: the target side still writes by full path
// and cannot create it.
func TestLocalPastPathMax(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	testutil.WriteFile(t, filepath.Join(src, "a"), "a")
	testutil.WriteFile(t, filepath.Join(src, "z/b"), "b")
	testutil.WriteFile(t, filepath.Join(dst, "stray"), "stray")
	testutil.WriteFile(t, filepath.Join(dst, "z/stray"), "stray")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	if err := os.Chdir(src); err != nil {
		t.Fatal(err)
	}
	comp := strings.Repeat("L", 200)
	for depth := 0; depth*201 < 5000; depth++ {
		if err := os.Mkdir(comp, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chdir(comp); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("leaf", []byte("deep"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chdir(wd)
	l, err := transport.NewLocal(dst, transport.Options{Source: src, Logger: quiet, Delete: transport.DeleteAlways})
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.FullSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"stray", "z/stray"} {
		if _, err := os.Lstat(filepath.Join(dst, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not deleted: %v", n, err)
		}
	}
	for _, n := range []string{"a", "z/b"} {
		if _, err := os.Lstat(filepath.Join(dst, n)); err != nil {
			t.Errorf("%s not synced: %v", n, err)
		}
	}
	if len(st.Failed) != 1 || !strings.HasPrefix(st.Failed[0].Path, comp) {
		t.Errorf("failed = %v, want the long path once", failedPaths(st))
	}
	if d := filepath.Join(dst, comp); func() bool { _, err := os.Lstat(d); return err != nil }() {
		t.Error("the start of the long chain was not synced")
	}
}

// TestLocalOneFileSystem: with OneFileSystem a file system mounted below
// SRC is mirrored as its mount-point directory only; its contents are
// neither copied nor deleted on the target, and a listed path below it is
// left alone. Without it the mount's contents are mirrored.
func TestLocalOneFileSystem(t *testing.T) {
	base := t.TempDir()
	src, mnt := filepath.Join(base, "src"), filepath.Join(base, "src", "mnt")
	testutil.WriteFile(t, filepath.Join(src, "top"), "top")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	testutil.WriteFile(t, filepath.Join(mnt, "inner"), "inner")
	for _, one := range []bool{true, false} {
		dst := filepath.Join(base, fmt.Sprintf("dst-%v", one))
		testutil.WriteFile(t, filepath.Join(dst, "mnt", "kept"), "target only")
		l, err := transport.NewLocal(dst, transport.Options{Source: src, Logger: quiet, OneFileSystem: one})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.FullSync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Push(context.Background(), []transport.Change{{Op: change.Modify, Path: "mnt/inner"}}); err != nil {
			t.Fatal(err)
		}
		_, innerErr := os.Lstat(filepath.Join(dst, "mnt", "inner"))
		_, keptErr := os.Lstat(filepath.Join(dst, "mnt", "kept"))
		if fi, err := os.Lstat(filepath.Join(dst, "mnt")); err != nil || !fi.IsDir() {
			t.Errorf("one=%v: mount point not mirrored: %v", one, err)
		}
		if one && (innerErr == nil || keptErr != nil) {
			t.Errorf("one=true: inner copied (%v) or kept deleted (%v)", innerErr, keptErr)
		}
		if !one && (innerErr != nil || keptErr == nil) {
			t.Errorf("one=false: inner missing (%v) or kept not deleted (%v)", innerErr, keptErr)
		}
	}
}
