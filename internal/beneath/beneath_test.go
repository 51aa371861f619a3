//go:build unix

package beneath

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
)

const secret = "SECRET-7f3a9c"

// fixture: root/{file, dir/inner, link-file -> outside/secret,
// link-dir -> outside, dir/up -> ../.., fifo}, outside/secret.
func fixture(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	testutil.Must(t, os.MkdirAll(filepath.Join(root, "dir"), 0o755))
	testutil.Must(t, os.MkdirAll(outside, 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o600))
	testutil.Must(t, os.WriteFile(filepath.Join(root, "file"), []byte("data"), 0o644))
	testutil.Must(t, os.WriteFile(filepath.Join(root, "dir", "inner"), []byte("inner"), 0o644))
	testutil.Must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "link-file")))
	testutil.Must(t, os.Symlink(outside, filepath.Join(root, "link-dir")))
	testutil.Must(t, os.Symlink("../..", filepath.Join(root, "dir", "up")))
	testutil.Must(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	return root, outside
}

// modes runs f once with openat2 (where the kernel has it) and once with
// the component walk.
func modes(t *testing.T, f func(t *testing.T, open func(string) *Root)) {
	for _, walk := range []bool{false, true} {
		name := "openat2"
		if walk {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			f(t, func(dir string) *Root {
				r, err := Open(dir)
				testutil.Must(t, err)
				t.Cleanup(func() { r.Close() })
				r.walk.Store(walk)
				return r
			})
		})
	}
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	defer f.Close()
	b, err := io.ReadAll(f)
	testutil.Must(t, err)
	return string(b)
}

// TestOpenFileRefusesSymlinks: a symlink as the last component, as a
// middle component, and a ".." or absolute path never open anything.
func TestOpenFileRefusesSymlinks(t *testing.T) {
	modes(t, func(t *testing.T, open func(string) *Root) {
		root, _ := fixture(t)
		r := open(root)
		f, fi, err := r.OpenFile("dir/inner")
		testutil.Must(t, err)
		if fi.Size() != 5 || readAll(t, f) != "inner" {
			t.Fatal("dir/inner not read")
		}
		for _, rel := range []string{"link-file", "link-dir/secret", "dir/up/outside/secret", "../outside/secret", "dir/../../outside/secret", filepath.Join(root, "..", "outside", "secret"), "file/x"} {
			f, _, err := r.OpenFile(rel)
			if err == nil {
				t.Errorf("%s: opened (%q)", rel, readAll(t, f))
				continue
			}
			if !errors.Is(err, ErrNotBeneath) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: err %v, want ErrNotBeneath matching fs.ErrNotExist", rel, err)
			}
		}
	})
}

// TestMiddleComponentSwapped: a directory replaced by a symlink to the
// outside after the root was opened is not followed by any call.
func TestMiddleComponentSwapped(t *testing.T) {
	modes(t, func(t *testing.T, open func(string) *Root) {
		root, outside := fixture(t)
		r := open(root)
		testutil.Must(t, os.RemoveAll(filepath.Join(root, "dir")))
		testutil.Must(t, os.Symlink(outside, filepath.Join(root, "dir")))
		if _, _, err := r.OpenFile("dir/secret"); !errors.Is(err, ErrNotBeneath) {
			t.Errorf("OpenFile: %v", err)
		}
		if _, err := r.Lstat("dir/secret"); !errors.Is(err, ErrNotBeneath) {
			t.Errorf("Lstat: %v", err)
		}
		if _, err := r.OpenDir("dir"); !errors.Is(err, ErrNotBeneath) {
			t.Errorf("OpenDir: %v", err)
		}
		fi, err := r.Lstat("dir")
		if err != nil || fi.Mode().Type() != fs.ModeSymlink {
			t.Errorf("Lstat(dir) = %v, %v; want the symlink itself", fi, err)
		}
		if l, err := r.Readlink("dir"); err != nil || l != outside {
			t.Errorf("Readlink(dir) = %q, %v", l, err)
		}
	})
}

// TestFIFONeverBlocks: opening a FIFO returns at once with ErrNotRegular.
func TestFIFONeverBlocks(t *testing.T) {
	modes(t, func(t *testing.T, open func(string) *Root) {
		root, _ := fixture(t)
		r := open(root)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, _, err := r.OpenFile("fifo")
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("OpenFile(fifo): %v, want ErrNotRegular", err)
			}
		case <-ctx.Done():
			t.Fatal("OpenFile(fifo) blocked")
		}
		fi, err := r.Lstat("fifo")
		if err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
			t.Errorf("Lstat(fifo) = %v, %v", fi, err)
		}
	})
}

// TestDirWalk: a Dir lists, stats and opens its children relative to
// itself, and refuses names that are not single components.
func TestDirWalk(t *testing.T) {
	modes(t, func(t *testing.T, open func(string) *Root) {
		root, outside := fixture(t)
		r := open(root)
		d, err := r.OpenDir(".")
		testutil.Must(t, err)
		defer d.Close()
		names, err := d.ReadNames()
		testutil.Must(t, err)
		if strings.Join(names, ",") != "dir,fifo,file,link-dir,link-file" {
			t.Errorf("names %q", names)
		}
		if fi, err := d.Lstat("link-dir"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
			t.Errorf("Lstat(link-dir) = %v, %v", fi, err)
		}
		if l, err := d.Readlink("link-dir"); err != nil || l != outside {
			t.Errorf("Readlink = %q %v", l, err)
		}
		if _, err := d.OpenDir("link-dir"); !errors.Is(err, ErrNotBeneath) {
			t.Errorf("OpenDir(link-dir): %v", err)
		}
		if _, _, err := d.OpenFile("link-file"); !errors.Is(err, ErrNotBeneath) {
			t.Errorf("OpenFile(link-file): %v", err)
		}
		for _, bad := range []string{"..", ".", "", "dir/inner", "/etc"} {
			if _, err := d.Lstat(bad); !errors.Is(err, ErrNotBeneath) {
				t.Errorf("Lstat(%q): %v", bad, err)
			}
			if _, err := d.LstatBuf(bad, new(StatBuf)); !errors.Is(err, ErrNotBeneath) {
				t.Errorf("LstatBuf(%q): %v", bad, err)
			}
		}
		// LstatBuf gives what Lstat gives, in the one buffer.
		var buf StatBuf
		for _, n := range names {
			want, err := d.Lstat(n)
			testutil.Must(t, err)
			got, err := d.LstatBuf(n, &buf)
			testutil.Must(t, err)
			if got.Name() != want.Name() || got.Mode() != want.Mode() || got.Size() != want.Size() ||
				!got.ModTime().Equal(want.ModTime()) || !reflect.DeepEqual(got.Sys(), want.Sys()) {
				t.Errorf("LstatBuf(%s) = %v, Lstat %v", n, got, want)
			}
		}
		if _, err := d.LstatBuf("missing", &buf); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("LstatBuf(missing): %v", err)
		}
		sub, err := d.OpenDir("dir")
		testutil.Must(t, err)
		defer sub.Close()
		f, fi, err := sub.OpenFile("inner")
		testutil.Must(t, err)
		if fi.Name() != "inner" || readAll(t, f) != "inner" {
			t.Error("dir/inner not read through the Dir")
		}
		a, _ := sub.Stat()
		b, _ := r.Lstat("dir")
		da, ia, _ := DevIno(a)
		db, ib, _ := DevIno(b)
		if da != db || ia != ib || !a.IsDir() {
			t.Error("Dir.Stat and Root.Lstat disagree")
		}
	})
}

// TestSearchDir: a directory opened for searching looks up its entries
// (Lstat, OpenFile, OpenDir) but is not listed.
func TestSearchDir(t *testing.T) {
	modes(t, func(t *testing.T, open func(string) *Root) {
		root, _ := fixture(t)
		r := open(root)
		d, err := r.SearchDir("dir")
		testutil.Must(t, err)
		defer d.Close()
		if fi, err := d.Lstat("up"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
			t.Errorf("Lstat(up) = %v, %v", fi, err)
		}
		f, _, err := d.OpenFile("inner")
		testutil.Must(t, err)
		if readAll(t, f) != "inner" {
			t.Error("inner not read")
		}
		if _, err := r.SearchDir("link-dir"); !errors.Is(err, ErrNotBeneath) {
			t.Errorf("SearchDir(link-dir): %v", err)
		}
	})
}

// TestCleanPaths: "", "." and redundant slashes are accepted.
func TestCleanPaths(t *testing.T) {
	root, _ := fixture(t)
	r, err := Open(root)
	testutil.Must(t, err)
	defer r.Close()
	for _, rel := range []string{"", ".", "./"} {
		if fi, err := r.Lstat(rel); err != nil || !fi.IsDir() {
			t.Errorf("Lstat(%q) = %v, %v", rel, fi, err)
		}
	}
	if fi, err := r.Lstat("./dir//inner"); err != nil || fi.Name() != "inner" || fi.Size() != 5 {
		t.Errorf("Lstat(./dir//inner) = %v, %v", fi, err)
	}
}

// TestLongPath: paths longer than PATH_MAX are resolved in pieces.
func TestLongPath(t *testing.T) {
	modes(t, func(t *testing.T, open func(string) *Root) {
		root := t.TempDir()
		r := open(root)
		rel := ""
		d, err := r.OpenDir(".")
		testutil.Must(t, err)
		comp := strings.Repeat("n", 200)
		for len(rel) < 5000 {
			testutil.Must(t, mkdirAt(d, comp))
			sub, err := d.OpenDir(comp)
			testutil.Must(t, err)
			d.Close()
			d = sub
			rel += comp + "/"
		}
		testutil.Must(t, writeAt(d, "leaf", "long"))
		d.Close()
		rel += "leaf"
		f, _, err := r.OpenFile(rel)
		testutil.Must(t, err)
		if readAll(t, f) != "long" {
			t.Error("long path not read")
		}
		if fi, err := r.Lstat(rel); err != nil || fi.Size() != 4 {
			t.Errorf("Lstat: %v %v", fi, err)
		}
		dd, err := r.OpenDir(rel[:len(rel)-len("/leaf")])
		testutil.Must(t, err)
		names, _ := dd.ReadNames()
		dd.Close()
		if len(names) != 1 || names[0] != "leaf" {
			t.Errorf("names %q", names)
		}
	})
}

// TestOpenRootSymlink: the root itself may be a symlink.
func TestOpenRootSymlink(t *testing.T) {
	root, _ := fixture(t)
	link := filepath.Join(t.TempDir(), "rootlink")
	testutil.Must(t, os.Symlink(root, link))
	r, err := Open(link)
	testutil.Must(t, err)
	defer r.Close()
	if _, err := r.Lstat("file"); err != nil {
		t.Fatal(err)
	}
	if r.Name() != link {
		t.Errorf("Name %q", r.Name())
	}
}

func mkdirAt(d *Dir, name string) error { return unix.Mkdirat(d.fd, name, 0o755) }

func writeAt(d *Dir, name, data string) error {
	fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(data))
	return err
}
