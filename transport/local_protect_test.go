//go:build unix

package transport_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
)

// TestLocalDeleteKeepsProtectedDir: a directory gone from the source that
// holds a protected entry stays with just that entry, everything else in
// it and beside it is deleted, and that is no failure: rsync logs
// "cannot delete non-empty directory" at info level and exits 0
// (delete.c:delete_item).
func TestLocalDeleteKeepsProtectedDir(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	keep := func(rel string, isDir bool) bool { return strings.HasSuffix(rel, ".keep") }
	tgt, dst := newLocal(t, src, transport.Options{Source: src, Delete: transport.DeleteAlways, Protect: keep})
	for _, p := range []string{"gone/a.keep", "gone/b.txt", "gone/sub/c.keep", "gone/sub/d.txt", "gone/other/e.txt"} {
		full := filepath.Join(dst, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err := tgt.Push(context.Background(), []transport.Change{{Op: change.Delete, Path: "gone", IsDir: true, Recursive: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != 0 {
		t.Errorf("failures: %v, want none (rsync: an info line)", st.Failed)
	}
	for p, want := range map[string]bool{"gone/a.keep": true, "gone/sub/c.keep": true, "gone/b.txt": false,
		"gone/sub/d.txt": false, "gone/other": false} {
		_, err := os.Lstat(filepath.Join(dst, p))
		if got := err == nil; got != want {
			t.Errorf("%s exists: %v, want %v", p, got, want)
		}
	}
}
