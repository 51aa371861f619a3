//go:build unix

package transport_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/transport/transporttest"
)

func newLocal(t *testing.T, src string, opts transport.Options) (transport.Target, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := transport.NewLocal(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

func TestLocalConformance(t *testing.T) {
	t.Parallel() // waits on its own peers
	transporttest.Run(t, transporttest.Harness{
		New: newLocal,
		Caps: transporttest.Caps{
			SymlinkMtimes:    true,
			RenameKeepsInode: true,
		},
	})
}

// TestLocalPushRoot: a change of "." alone (the engine's retry of the
// root's own attributes) sets the target root's mode and mtime and leaves
// everything below it alone.
func TestLocalPushRoot(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	tgt, dst := newLocal(t, src, transport.Options{Source: src, Delete: transport.DeleteAlways})
	if err := os.WriteFile(filepath.Join(dst, "f"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o750); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(src, mt, mt); err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.Push(context.Background(), []transport.Change{{Path: ".", IsDir: true}}); err != nil {
		t.Fatalf("push .: %v", err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(mt) {
		t.Errorf("target root: mode %v mtime %v, want 0750 %v", fi.Mode().Perm(), fi.ModTime(), mt)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "f")); string(b) != "old" {
		t.Errorf("f = %q: a non-recursive push of . touched the tree below it", b)
	}
}
