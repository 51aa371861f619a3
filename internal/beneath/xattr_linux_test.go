package beneath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
)

// TestXattrs: the attributes of the entry itself (a symlink's own), sorted,
// filtered; never through a symlinked parent; ErrChanged when the entry is
// not the listed file.
func TestXattrs(t *testing.T) {
	modes(t, func(t *testing.T, open func(string) *Root) {
		dir := t.TempDir()
		outside := t.TempDir()
		testutil.WriteFile(t, filepath.Join(dir, "d", "f"), "x")
		testutil.WriteFile(t, filepath.Join(outside, "f"), "secret")
		testutil.Must(t, os.Symlink("f", filepath.Join(dir, "d", "l")))
		testutil.Must(t, os.Symlink(outside, filepath.Join(dir, "out")))
		f := filepath.Join(dir, "d", "f")
		testutil.Must(t, unix.Setxattr(f, "user.b", []byte("2"), 0))
		testutil.Must(t, unix.Setxattr(f, "user.a", []byte("1"), 0))
		testutil.Must(t, unix.Setxattr(filepath.Join(outside, "f"), "user.secret", []byte("s"), 0))
		symlinkOwn := os.Geteuid() == 0 // trusted.* needs root; user.* is refused on symlinks
		if symlinkOwn {
			testutil.Must(t, unix.Lsetxattr(filepath.Join(dir, "d", "l"), "trusted.t", []byte("link"), 0))
		}
		r := open(dir)

		got, err := r.Xattrs("d/f", 0, nil, nil)
		testutil.Must(t, err)
		if len(got) != 2 || got[0].Name != "user.a" || string(got[0].Value) != "1" || got[1].Name != "user.b" {
			t.Errorf("d/f: %q", got)
		}
		got, err = r.Xattrs("d/f", 0, nil, func(n string) bool { return n == "user.b" })
		testutil.Must(t, err)
		if len(got) != 1 || got[0].Name != "user.b" {
			t.Errorf("d/f kept user.b: %q", got)
		}
		got, err = r.Xattrs("d/l", fs.ModeSymlink, nil, nil)
		testutil.Must(t, err)
		for _, x := range got {
			if x.Name == "user.a" {
				t.Errorf("d/l: read through the symlink: %q", got)
			}
		}
		if symlinkOwn && (len(got) != 1 || got[0].Name != "trusted.t") {
			t.Errorf("d/l: want the symlink's own trusted.t, got %q", got)
		}
		if got, err := r.Xattrs("out/f", 0, nil, nil); !errors.Is(err, ErrNotBeneath) {
			t.Errorf("out/f (symlinked parent): %q, %v; want ErrNotBeneath", got, err)
		}
		other, err := os.Lstat(filepath.Join(dir, "d"))
		testutil.Must(t, err)
		if _, err := r.Xattrs("d/f", 0, SameFile(other), nil); !errors.Is(err, ErrChanged) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("d/f against d's stat: %v; want ErrChanged", err)
		}
		same, err := os.Lstat(f)
		testutil.Must(t, err)
		if _, err := r.Xattrs("d/f", 0, SameFile(same), nil); err != nil {
			t.Errorf("d/f against its own stat: %v", err)
		}
		// A FIFO where a regular file was listed: opened without
		// blocking, and not the listed file.
		testutil.Must(t, unix.Mkfifo(filepath.Join(dir, "d", "p"), 0o644))
		err = testutil.Within(t, "Xattrs of a FIFO listed as a file", 10*time.Second, func() error {
			_, err := r.Xattrs("d/p", 0, SameFile(same), nil)
			return err
		})
		if !errors.Is(err, ErrChanged) {
			t.Errorf("d/p listed as a regular file: %v; want ErrChanged", err)
		}
		if _, err := r.Xattrs("d/p", fs.ModeNamedPipe, nil, nil); err != nil {
			t.Errorf("d/p as a FIFO: %v", err)
		}
	})
}
