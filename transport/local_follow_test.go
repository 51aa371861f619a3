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

// TestLocalKeepDirlinksOutside: with -K the local target uses a symlink
// to a directory beneath the target as that directory, but replaces one
// that leads out of the target: nothing is written outside it.
func TestLocalKeepDirlinksOutside(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src, dst, out := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "out")
	for _, d := range []string{filepath.Join(src, "in"), filepath.Join(src, "away"), filepath.Join(dst, "store"), out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"in/f", "away/f"} {
		if err := os.WriteFile(filepath.Join(src, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"in": "store", "away": out} {
		if err := os.Symlink(target, filepath.Join(dst, name)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := NewLocal(dst, Options{Source: src, Delete: DeleteNever, Receiver: rsyncopts.Receiver{KeepDirlinks: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.FullSync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "in")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("in: %v, %v; want the kept symlink", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "store", "f")); err != nil || string(b) != "in/f" {
		t.Errorf("store/f = %q, %v; want in/f written through the kept link", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "away")); err != nil || !fi.IsDir() {
		t.Errorf("away: %v, %v; want a directory in place of the link out of the target", fi, err)
	}
	if names, _ := os.ReadDir(out); len(names) != 0 {
		t.Errorf("written outside the target: %v", names)
	}
}

// TestLocalFollowVerify: right after a full sync with -L, or with -K into
// a kept link, the local target's Verify finds nothing to change: it
// follows the links the sync follows.
func TestLocalFollowVerify(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{Sender: rsyncopts.Sender{CopyLinks: true}}, {Receiver: rsyncopts.Receiver{KeepDirlinks: true}}} {
		base := t.TempDir()
		src, dst, out := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "out")
		for _, d := range []string{filepath.Join(src, "d", "e"), filepath.Join(out, "od"), filepath.Join(dst, "store")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for p, data := range map[string]string{"src/d/e/f": "f", "out/of": "of", "out/od/x": "x"} {
			if err := os.WriteFile(filepath.Join(base, p), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for p, target := range map[string]string{"src/abs": filepath.Join(out, "of"), "src/dir": "../out/od", "src/d/up": "../abs", "dst/d": "store"} {
			if err := os.Symlink(target, filepath.Join(base, p)); err != nil {
				t.Fatal(err)
			}
		}
		o.Source, o.Delete, o.Exclude = src, DeleteAlways, func(rel string, _ bool) bool { return rel == "store" }
		l, err := NewLocal(dst, o)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := l.FullSync(context.Background()); err != nil || len(st.Failed) > 0 {
			t.Fatalf("%+v: full sync: %v, failed %v", o, err, st.Failed)
		}
		res, err := l.Verify(context.Background(), VerifyOptions{})
		if err != nil || len(res.Items) > 0 {
			t.Errorf("%+v: verify after the sync: %v, items %+v", o, err, res.Items)
		}
	}
}
