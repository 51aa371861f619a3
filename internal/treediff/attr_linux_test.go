package treediff

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
)

// allAttrs compares everything Compare can.
var allAttrs = Options{CompareOwner: true, CompareXattrs: true, CompareHardLinks: true, CompareBlocks: true}

// attrPair generates the same attribute tree twice and returns the roots.
func attrPair(t *testing.T) (string, string, *AttrTree) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("GenerateAttrTree needs root")
	}
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	var tree *AttrTree
	for _, root := range []string{src, dst} {
		testutil.Must(t, os.Mkdir(root, 0o700))
		tr, err := GenerateAttrTree(root, 7)
		if err != nil {
			t.Fatal(err)
		}
		tree = tr
	}
	return src, dst, tree
}

func TestACLText(t *testing.T) {
	t.Parallel()
	in := "u::rw-,u:12345:r--,g::r-x,g:2:rwx,m::rwx,o::---"
	b, err := ParseACL("o::---,m::rwx,g:2:rwx,g::r-x,u:12345:r--,u::rw-") // any order
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := FormatACL(b); !ok || got != in {
		t.Fatalf("FormatACL(ParseACL) = %q, %v; want %q", got, ok, in)
	}
	for _, bad := range []string{"u::rwz", "x::rwx", "m:5:rwx", "u:abc:rwx", "u:rwx"} {
		if _, err := ParseACL(bad); err == nil {
			t.Errorf("ParseACL(%q) succeeded", bad)
		}
	}
	if _, ok := FormatACL([]byte{1, 2, 3}); ok {
		t.Errorf("FormatACL accepted garbage")
	}
}

func TestGenerateAttrTree(t *testing.T) {
	t.Parallel()
	src, dst, tree := attrPair(t)
	if d := diffs(t, src, dst, allAttrs); len(d) != 0 {
		t.Fatalf("two trees of one seed differ:\n%s", Format(d, 30))
	}
	if tree.Entries < 200 || len(tree.HardLinks) < 5 || len(tree.Sparse) < 4 || len(tree.Files) < 10 {
		t.Errorf("tree too small: %d entries, %d hard-link groups, %d sparse files, %d plain files",
			tree.Entries, len(tree.HardLinks), len(tree.Sparse), len(tree.Files))
	}
	// The attributes are there.
	_, vals, err := listXattrs(filepath.Join(src, "acl/f00"))
	testutil.Must(t, err)
	if text, _ := FormatACL(vals[XattrACLAccess]); !strings.Contains(text, "u:12345:rw-") {
		t.Errorf("acl/f00 has ACL %q", text)
	}
	_, vals, err = listXattrs(filepath.Join(src, "acl/dflt1/f0"))
	testutil.Must(t, err)
	if _, ok := vals[XattrACLAccess]; !ok {
		t.Errorf("acl/dflt1/f0 did not inherit the default ACL")
	}
	var st unix.Stat_t
	testutil.Must(t, unix.Stat(filepath.Join(src, "sparse/hole10m"), &st))
	if st.Size != 10<<20 || st.Blocks*512 >= 1<<20 {
		t.Errorf("sparse/hole10m: size %d, %d blocks: not sparse", st.Size, st.Blocks)
	}
	testutil.Must(t, unix.Lstat(filepath.Join(src, "links/x/b1"), &st))
	if st.Nlink != 5 {
		t.Errorf("links/x/b1 has %d links, want 5", st.Nlink)
	}
	// Another seed makes another tree.
	other := filepath.Join(t.TempDir(), "other")
	testutil.Must(t, os.Mkdir(other, 0o700))
	if _, err := GenerateAttrTree(other, 8); err != nil {
		t.Fatal(err)
	}
	if d := diffs(t, src, other, allAttrs); len(d) == 0 {
		t.Errorf("seeds 7 and 8 made equal trees")
	}
}

// TestAttrDiffs changes one attribute at a time on one side of a pair of
// generated trees, checks that Compare reports it (and only with its
// option), then undoes the change; the trees are generated once, as
// generating them is slow on some file systems.
func TestAttrDiffs(t *testing.T) {
	t.Parallel()
	src, dst, _ := attrPair(t)
	d := func(rel string) string { return filepath.Join(dst, filepath.FromSlash(rel)) }
	equalAgain := func(t *testing.T) {
		t.Helper()
		if got := diffs(t, src, dst, allAttrs); len(got) != 0 {
			t.Fatalf("undoing the change left differences:\n%s", Format(got, 30))
		}
	}
	// restoreDirTime gives a directory of dst the mtime it has in src.
	restoreDirTime := func(t *testing.T, rel string) {
		t.Helper()
		mt := time.Unix(0, mtimeOf(t, filepath.Join(src, rel)))
		testutil.Must(t, os.Chtimes(d(rel), mt, mt))
	}

	t.Run("xattr value", func(t *testing.T) {
		testutil.Must(t, unix.Lsetxattr(d("xattr/f00"), "user.color", []byte("red"), 0))
		got := diffs(t, src, dst, allAttrs)
		wantOne(t, got, "xattr/f00", Xattr)
		if !strings.Contains(got[0].String(), `user.color="blue"`) || !strings.Contains(got[0].String(), `user.color="red"`) {
			t.Errorf("difference does not show the values: %s", got[0])
		}
		if got := diffs(t, src, dst, Options{}); len(got) != 0 {
			t.Errorf("xattrs compared without CompareXattrs:\n%s", Format(got, 30))
		}
		ignore := allAttrs
		ignore.IgnoreXattr = func(name string) bool { return name == "user.color" }
		if got := diffs(t, src, dst, ignore); len(got) != 0 {
			t.Errorf("ignored xattr compared:\n%s", Format(got, 30))
		}
		testutil.Must(t, unix.Lsetxattr(d("xattr/f00"), "user.color", []byte("blue"), 0))
		equalAgain(t)
	})
	t.Run("trusted xattr missing", func(t *testing.T) {
		testutil.Must(t, unix.Lremovexattr(d("xattr/f05"), "trusted.gsync"))
		got := diffs(t, src, dst, allAttrs)
		wantOne(t, got, "xattr/f05", Xattr)
		if !strings.Contains(got[0].Dst, "absent") {
			t.Errorf("missing xattr not shown as absent: %s", got[0])
		}
		testutil.Must(t, unix.Lsetxattr(d("xattr/f05"), "trusted.gsync", []byte("trusted value"), 0))
		equalAgain(t)
	})
	t.Run("symlink xattr", func(t *testing.T) {
		testutil.Must(t, unix.Lsetxattr(d("xattr/link"), "trusted.onlink", []byte("other"), 0))
		wantOne(t, diffs(t, src, dst, allAttrs), "xattr/link", Xattr)
		testutil.Must(t, unix.Lsetxattr(d("xattr/link"), "trusted.onlink", []byte("symlink xattr"), 0))
		equalAgain(t)
	})
	t.Run("access ACL", func(t *testing.T) {
		// Another named user; the mode stays the same.
		v := mustACL(t, "u::rw-,u:1:r--,u:12346:rw-,g::r--,g:2:r--,g:23456:rw-,m::rw-,o::---")
		testutil.Must(t, unix.Lsetxattr(d("acl/f00"), XattrACLAccess, v, 0))
		got := diffs(t, src, dst, allAttrs)
		wantOne(t, got, "acl/f00", Xattr)
		if !strings.Contains(got[0].String(), "u:12346:rw-") {
			t.Errorf("ACL not rendered: %s", got[0])
		}
		testutil.Must(t, unix.Lsetxattr(d("acl/f00"), XattrACLAccess, mustACL(t, treeACLs[0]), 0))
		equalAgain(t)
	})
	t.Run("default ACL missing", func(t *testing.T) {
		testutil.Must(t, unix.Lremovexattr(d("acl/dflt2"), XattrACLDefault))
		wantOne(t, diffs(t, src, dst, allAttrs), "acl/dflt2", Xattr)
		testutil.Must(t, unix.Lsetxattr(d("acl/dflt2"), XattrACLDefault, mustACL(t, treeDefaultACLs[1]), 0))
		equalAgain(t)
	})
	t.Run("owner by number", func(t *testing.T) {
		testutil.Must(t, os.Lchown(d("symlinks/rel"), 12345, 23457))
		got := diffs(t, src, dst, allAttrs)
		wantOne(t, got, "symlinks/rel", Owner)
		if got[0].Src != "12345:23456" || got[0].Dst != "12345:23457" {
			t.Errorf("owner shown as %s", got[0])
		}
		testutil.Must(t, os.Lchown(d("symlinks/rel"), 12345, 23456))
		equalAgain(t)
	})
	t.Run("blocks", func(t *testing.T) {
		// Fill the hole with written zeros: same content, more blocks.
		p := d("sparse/tailhole")
		b, err := os.ReadFile(p)
		testutil.Must(t, err)
		mt := time.Unix(0, mtimeOf(t, p))
		testutil.Must(t, os.WriteFile(p, b, 0o644))
		testutil.Must(t, os.Chtimes(p, mt, mt))
		wantOne(t, diffs(t, src, dst, allAttrs), "sparse/tailhole", Blocks)
		if got := diffs(t, src, dst, Options{CompareOwner: true}); len(got) != 0 {
			t.Errorf("blocks compared without CompareBlocks:\n%s", Format(got, 30))
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		testutil.Must(t, err)
		err = unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 4096, int64(len(b))-4096)
		f.Close()
		testutil.Must(t, err)
		testutil.Must(t, os.Chtimes(p, mt, mt))
		equalAgain(t)
	})
	t.Run("hard link broken", func(t *testing.T) {
		// links/a3 leaves its group: a copy with the same attributes.
		p := d("links/a3")
		b, err := os.ReadFile(p)
		testutil.Must(t, err)
		testutil.Must(t, os.Remove(p))
		testutil.Must(t, os.WriteFile(p, b, 0o644))
		mt := time.Unix(0, mtimeOf(t, d("links/a1")))
		testutil.Must(t, os.Chtimes(p, mt, mt))
		restoreDirTime(t, "links")
		want := []string{"links/a1 link count", "links/a2 link count", "links/a3 link count", "links/a3 hard-link group"}
		wantKinds(t, diffs(t, src, dst, allAttrs), want)
		if got := diffs(t, src, dst, Options{CompareOwner: true, CompareXattrs: true}); len(got) != 0 {
			t.Errorf("links compared without CompareHardLinks:\n%s", Format(got, 30))
		}
		testutil.Must(t, os.Remove(p))
		testutil.Must(t, os.Link(d("links/a1"), p))
		restoreDirTime(t, "links")
		equalAgain(t)
	})
	t.Run("hard links merged", func(t *testing.T) {
		// links/empty3, a file of its own on src, is a name of
		// links/empty1 on dst: groups and link counts differ.
		e3 := filepath.Join(src, "links/empty3")
		testutil.Must(t, os.WriteFile(e3, nil, 0o644))
		mt := time.Unix(0, mtimeOf(t, d("links/empty1")))
		testutil.Must(t, os.Chtimes(e3, mt, mt))
		testutil.Must(t, os.Link(d("links/empty1"), d("links/empty3")))
		restoreDirTime(t, "links")
		want := []string{"links/empty1 link count", "links/empty3 link count", "links/empty3 hard-link group",
			"links/y/empty2 link count"}
		wantKinds(t, diffs(t, src, dst, Options{CompareHardLinks: true}), want)
	})
}

// wantKinds fails unless got lists exactly want ("PATH KIND" each).
func wantKinds(t *testing.T, got []Diff, want []string) {
	t.Helper()
	var kinds []string
	for _, d := range got {
		kinds = append(kinds, d.Path+" "+string(d.Kind))
	}
	if strings.Join(kinds, ";") != strings.Join(want, ";") {
		t.Fatalf("got %q, want %q:\n%s", kinds, want, Format(got, 30))
	}
}

func mtimeOf(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Lstat(p)
	testutil.Must(t, err)
	return fi.ModTime().UnixNano()
}

func mustACL(t *testing.T, text string) []byte {
	t.Helper()
	v, err := ParseACL(text)
	testutil.Must(t, err)
	return v
}
