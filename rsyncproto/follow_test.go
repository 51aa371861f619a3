package rsyncproto

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/testutil"
)

// followTree makes SRC (returned) with links of every kind, and files
// and a directory outside it:
//
//	src/f, src/d/g, src/safe -> f, src/safedir -> d, src/abs -> OUT/of,
//	src/up -> ../out/od (a directory), src/dangling -> nope
func followTree(t *testing.T) string {
	t.Helper()
	top := t.TempDir()
	src, out := filepath.Join(top, "src"), filepath.Join(top, "out")
	for _, d := range []string{filepath.Join(src, "d"), filepath.Join(out, "od")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range map[string]string{"src/f": "f", "src/d/g": "g", "out/of": "outside", "out/od/x": "x"} {
		if err := os.WriteFile(filepath.Join(top, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"safe": "f", "safedir": "d", "abs": filepath.Join(out, "of"),
		"up": "../out/od", "dangling": "nope"} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// listNames builds the whole-tree file list of src with o and returns
// the entries by name and the list.
func listNames(t *testing.T, src string, o Options) (map[string]*entry, *fileList) {
	t.Helper()
	fl, err := buildFileList(context.Background(), &Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Options: o}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fl.close)
	m := map[string]*entry{}
	for _, e := range fl.list {
		m[e.name] = e
	}
	return m, fl
}

// TestFollowLinksList: what -L, --copy-unsafe-links and -k list for each
// kind of link (flist.c:readlink_stat, link_stat), and rsync's errors.
func TestFollowLinksList(t *testing.T) {
	t.Parallel()
	src := followTree(t)
	type kind int
	const (
		link kind = iota
		file
		dir
		absent
	)
	for _, tc := range []struct {
		name     string
		o        Options
		want     map[string]kind
		noReferr bool // "dangling" is a no-referent error
	}{
		{"none", Options{}, map[string]kind{"safe": link, "safedir": link, "abs": link, "up": link, "dangling": link, "up/x": absent}, false},
		{"-L", Options{CopyLinks: true}, map[string]kind{"safe": file, "safedir": dir, "safedir/g": file, "abs": file,
			"up": dir, "up/x": file, "dangling": absent}, true},
		{"--copy-unsafe-links", Options{CopyUnsafeLinks: true}, map[string]kind{"safe": link, "safedir": link,
			"abs": file, "up": dir, "up/x": file, "dangling": link}, false},
		{"-k", Options{CopyDirlinks: true}, map[string]kind{"safe": link, "safedir": dir, "safedir/g": file,
			"abs": link, "up": dir, "up/x": file, "dangling": link}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, fl := listNames(t, src, tc.o)
			for name, k := range tc.want {
				e := got[name]
				switch {
				case k == absent && e != nil:
					t.Errorf("%s listed", name)
				case k == absent:
				case e == nil:
					t.Errorf("%s not listed", name)
				case k == link && !e.isLink(), k == file && !e.isReg(), k == dir && !e.isDir():
					t.Errorf("%s: mode %o, want kind %d", name, e.mode, k)
				}
			}
			noRef := slices.ContainsFunc(fl.failed, func(f FileError) bool {
				return f.Path == "dangling" && errors.Is(f.Err, errNoReferent())
			})
			if noRef != tc.noReferr {
				t.Errorf("dangling reported as no referent: %v, want %v (failed %v)", noRef, tc.noReferr, fl.failed)
			}
			if tc.noReferr && fl.ioError&ioErrGeneral == 0 {
				t.Error("no general I/O error for a link with no referent")
			}
			// Followed files are read from their referent.
			if e := got["up/x"]; e != nil {
				f, err := openListed(fl, e)
				if err != nil {
					t.Fatalf("open up/x: %v", err)
				}
				b, _ := io.ReadAll(f)
				f.Close()
				if string(b) != "x" {
					t.Errorf("up/x reads %q", b)
				}
			}
		})
	}
}

// TestFollowLinksLoop: a followed link to one of its own parent
// directories is left out with ErrSymlinkLoop, and the walk ends.
func TestFollowLinksLoop(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"a/b/top": "../..", "a/b/self": ".", "a/up": "../a"} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []Options{{CopyLinks: true}, {CopyDirlinks: true}} {
		got, fl := listNames(t, src, o)
		for _, name := range []string{"a/b/top", "a/b/self", "a/up"} {
			if got[name] != nil {
				t.Errorf("%+v: loop %s listed", o, name)
			}
			if !slices.ContainsFunc(fl.failed, func(f FileError) bool { return f.Path == name && errors.Is(f.Err, ErrSymlinkLoop) }) {
				t.Errorf("%+v: %s not reported as a loop: %v", o, name, fl.failed)
			}
		}
		if got["a/b"] == nil {
			t.Error("a/b not listed")
		}
	}
}

// TestFollowLinksSwapped: a followed link swapped for another between
// listing and reading is not followed to its new target: the data is read
// from the listed referent's path, which must still be the listed file.
func TestFollowLinksSwapped(t *testing.T) {
	t.Parallel()
	src := followTree(t)
	got, fl := listNames(t, src, Options{CopyLinks: true})
	e := got["abs"]
	if e == nil || !e.isReg() {
		t.Fatalf("abs listed as %+v", e)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := filepath.Join(src, "abs")
	if err := os.Remove(l); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, l); err != nil {
		t.Fatal(err)
	}
	f, err := openListed(fl, e)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "outside" {
		t.Errorf("read %q through the swapped link, want the listed referent's data", b)
	}
	// The referent replaced (a new inode at its path): vanished, not read.
	ref := e.realPath()
	if err := os.Remove(ref); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, ref); err != nil {
		t.Fatal(err)
	}
	if f, err := openListed(fl, e); err == nil {
		b, _ := io.ReadAll(f)
		f.Close()
		t.Fatalf("opened the referent path after it became a symlink (read %q)", b)
	}
}

func errNoReferent() error { return beneath.ErrNoReferent }

// TestFollowLinksSwappedPush: with -L, the links and referents are
// swapped for links to secrets outside SRC after the file list went out
// and before any data was read (Options.Listed): a real rsync receiver
// gets the listed referents' data or nothing, never a byte of the
// secrets.
func TestFollowLinksSwappedPush(t *testing.T) {
	if !hasRsync() {
		t.Skip("no rsync")
	}
	t.Parallel()
	for _, swapReferent := range []bool{false, true} {
		base := t.TempDir()
		src, out, sec := filepath.Join(base, "src"), filepath.Join(base, "out"), filepath.Join(base, "secret")
		for _, d := range []string{src, filepath.Join(out, "od"), filepath.Join(sec, "od")} {
			testutil.Must(t, os.MkdirAll(d, 0o755))
		}
		for p, data := range map[string]string{"out/of": "listed file", "out/od/x": "listed dir file",
			"secret/of": secretMarker, "secret/od/x": secretMarker} {
			testutil.Must(t, os.WriteFile(filepath.Join(base, p), []byte(data), 0o600))
		}
		testutil.Must(t, os.Symlink(filepath.Join(out, "of"), filepath.Join(src, "l")))
		testutil.Must(t, os.Symlink("../out/od", filepath.Join(src, "d")))
		swap := func(p, target string) {
			testutil.Must(t, os.Remove(p))
			testutil.Must(t, os.Symlink(target, p))
		}
		swapped := false
		dest, dir, push := daemonPeer(31).target(t)
		req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dest,
			Options: Options{CopyLinks: true, Listed: func(int) {
				if swapped {
					return
				}
				swapped = true
				if swapReferent {
					swap(filepath.Join(out, "of"), filepath.Join(sec, "of"))
					swap(filepath.Join(out, "od", "x"), filepath.Join(sec, "od", "x"))
				} else {
					swap(filepath.Join(src, "l"), filepath.Join(sec, "of"))
					swap(filepath.Join(src, "d"), filepath.Join(sec, "od"))
				}
			}}}
		res, err := push(req)
		if !swapped {
			t.Fatalf("swap %v: the file list was not sent (%v)", swapReferent, err)
		}
		if leaked := testutil.FileContaining(t, dir, secretMarker); leaked != "" {
			t.Fatalf("swap referent %v: %s on the target holds a secret", swapReferent, leaked)
		}
		if !swapReferent {
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			for rel, want := range map[string]string{"l": "listed file", "d/x": "listed dir file"} {
				if b, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || string(b) != want {
					t.Errorf("%s = %q, %v; want the listed referent's %q", rel, b, err, want)
				}
			}
		} else if res == nil || len(res.Failed) != 2 {
			t.Errorf("swapped referents: failed %+v, %v; want l and d/x as vanished", res, err)
		}
	}
}
