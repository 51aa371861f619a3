package transport

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gsync/gsync/rsyncopts"
	"github.com/gsync/gsync/rsyncproto"
)

// TestLocalFollowSwapped: with -L the local target reads a followed
// link's data from the referent it listed: a link swapped for another
// between listing and reading is not followed to its new target, and a
// referent replaced at its path is not read either.
func TestLocalFollowSwapped(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src, dst, out := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "out")
	for _, d := range []string{src, dst, out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	of, secret := filepath.Join(out, "of"), filepath.Join(out, "secret")
	for p, data := range map[string]string{of: "outside", secret: "secret"} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(src, "l")
	if err := os.Symlink(of, link); err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(dst, Options{Source: src, Delete: DeleteAlways, Sender: rsyncopts.Sender{CopyLinks: true}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.newRun(context.Background(), true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	listed, err := r.srcStat("l")
	if err != nil || !listed.Mode().IsRegular() {
		t.Fatalf("srcStat(l) = %v, %v; want the referent, a regular file", listed, err)
	}
	// The link now points at the secret: the listed referent is read.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	if err := r.copyFile("l", listed, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "l")); string(b) != "outside" {
		t.Errorf("target l holds %q, want the listed referent's data", b)
	}
	// The referent's path now is a symlink to the secret: not opened.
	if err := os.Remove(of); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, of); err != nil {
		t.Fatal(err)
	}
	if err := r.copyFile("l", listed, nil); err == nil {
		t.Error("copied through a referent replaced by a symlink")
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "l")); string(b) != "outside" {
		t.Errorf("target l holds %q after the referent was swapped", b)
	}
}

// TestLocalFollowLoop: a followed link to one of its own parents is an
// error (rsyncproto.ErrSymlinkLoop), not an endless copy.
func TestLocalFollowLoop(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	if err := os.MkdirAll(filepath.Join(src, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../..", filepath.Join(src, "a", "b", "top")); err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(dst, Options{Source: src, Delete: DeleteAlways, Sender: rsyncopts.Sender{CopyDirlinks: true}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.FullSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != 1 || st.Failed[0].Path != "a/b/top" || !errors.Is(st.Failed[0].Err, rsyncproto.ErrSymlinkLoop) {
		t.Errorf("failed = %v, want a/b/top as a symlink loop", st.Failed)
	}
	if _, err := os.Lstat(filepath.Join(dst, "a", "b")); err != nil {
		t.Errorf("a/b not copied: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "a", "b", "top")); err == nil {
		t.Error("a/b/top copied")
	}
}
