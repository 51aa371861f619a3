package rsyncproto

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/testutil"
)

// TestAttrReaderBeneath: attributes are read only from the listed inode
// beneath the root: not through a symlinked directory, not from a file
// that replaced the listed one.
func TestAttrReaderBeneath(t *testing.T) {
	t.Parallel()
	root, outside := t.TempDir(), t.TempDir()
	testutil.WriteFile(t, filepath.Join(outside, "f"), "secret")
	if err := unix.Setxattr(filepath.Join(outside, "f"), "user.secret", []byte("outside"), 0); err != nil {
		t.Skipf("no user xattrs: %v", err)
	}
	testutil.Must(t, os.Symlink(outside, filepath.Join(root, "sub")))
	testutil.WriteFile(t, filepath.Join(root, "g"), "g")
	testutil.Must(t, unix.Setxattr(filepath.Join(root, "g"), "user.g", []byte("inside"), 0))
	r, err := beneath.Open(root)
	testutil.Must(t, err)
	defer r.Close()
	a, err := openAttrReader(r)
	testutil.Must(t, err)
	defer a.close()
	opts := &Options{XAttrs: true}

	fi, err := os.Lstat(filepath.Join(outside, "f"))
	testutil.Must(t, err)
	through := &entry{name: "sub/f"}
	fillStat(through, fi)
	if err := a.readEntry(through, opts); !errors.Is(err, ErrVanished) || through.xattrs() != nil {
		t.Errorf("through a symlinked directory: %v, xattrs %v", err, through.xattrs())
	}

	fi, err = os.Lstat(filepath.Join(root, "g"))
	testutil.Must(t, err)
	g := &entry{name: "g"}
	fillStat(g, fi)
	testutil.Must(t, a.readEntry(g, opts))
	if xs := g.xattrs(); len(xs) != 1 || string(xs[0].datum) != "inside" {
		t.Errorf("listed file: xattrs %+v", xs)
	}
	// Replaced since it was listed: another inode under the same name.
	testutil.WriteFile(t, filepath.Join(root, "g2"), "other")
	testutil.Must(t, unix.Setxattr(filepath.Join(root, "g2"), "user.g", []byte("other"), 0))
	testutil.Must(t, os.Rename(filepath.Join(root, "g2"), filepath.Join(root, "g")))
	if err := a.readEntry(g, opts); !errors.Is(err, ErrVanished) {
		t.Errorf("replaced file: %v", err)
	}
	if _, err := a.xattrValues(g); !errors.Is(err, ErrVanished) {
		t.Errorf("re-read of a replaced file: %v", err)
	}
}
