package rsyncproto

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/testutil"
)

// TestFileListParentsAreDirs: the receiver aborts the session when an
// entry's parent is not a listed directory. A file listed first keeps its
// place even when it has become a directory by the time a recursive walk
// reaches it (nothing below it is listed), and finish drops any entry
// whose parent is not a listed directory.
func TestFileListParentsAreDirs(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d", "sub"), 0o755)
	os.WriteFile(filepath.Join(root, "d", "sub", "f"), []byte("f"), 0o644)

	// "d/sub" was a file when first listed (as if it changed since).
	r, err := beneath.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := newListBuilder(context.Background(), r, &Options{}, nil)
	if err := b.add("."); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"d"} {
		e, err := b.lstat(n)
		if err != nil {
			t.Fatal(err)
		}
		b.put(e)
	}
	b.put(&entry{name: "d/sub", mode: sIFREG | 0o644})
	if err := b.walk("d"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.byName["d/sub/f"]; ok {
		t.Error("d/sub/f listed below d/sub, which is listed as a file")
	}

	// An entry without a listed parent directory is dropped as vanished.
	b.put(&entry{name: "x/y", mode: sIFREG | 0o644})
	b.put(&entry{name: "d/sub/g/h", mode: sIFREG | 0o644})
	b.finish()
	for _, e := range b.fl.list {
		if e.name == "x/y" || e.name == "d/sub/g/h" {
			t.Errorf("%s listed without its parent directory", e.name)
		}
	}
	if len(b.fl.failed) != 2 || !errors.Is(b.fl.failed[0].Err, ErrVanished) {
		t.Errorf("failed = %v, want x/y and d/sub/g/h as vanished", b.fl.failed)
	}
	if b.fl.ioError&ioErrGeneral != 0 {
		t.Errorf("io_error %#x: a changed parent must not stop the receiver's deletions", b.fl.ioError)
	}
}

// TestEntrySize: the sender keeps up to incMaxLookahead entries listed
// ahead of the receiver, so a plain file or directory entry is 80 bytes
// (208 with every option's fields inline) and carries no extension; a
// symlink, with its target, has one.
func TestEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(entry{}); s > 80 {
		t.Errorf("entry is %d bytes, want at most 80: move rarely used fields to entryExt", s)
	}
	root := t.TempDir()
	testutil.Must(t, os.Mkdir(filepath.Join(root, "d"), 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(root, "d", "f"), []byte("f"), 0o644))
	testutil.Must(t, os.Symlink("f", filepath.Join(root, "d", "l")))
	req := &Request{Root: root, Paths: []Path{{Name: ".", Recursive: true}},
		Options: Options{Owner: true, Group: true, Devices: true, Specials: true, HardLinks: true}}
	fl, err := buildFileList(context.Background(), req, nil)
	testutil.Must(t, err)
	defer fl.close()
	if len(fl.list) != 4 {
		t.Fatalf("listed %d entries, want 4", len(fl.list))
	}
	for _, e := range fl.list {
		if got, want := e.x != nil, e.isLink(); got != want {
			t.Errorf("%s: has an extension: %v, want %v", e.name, got, want)
		}
		if e.isLink() && e.link() != "f" {
			t.Errorf("%s: link %q, want f", e.name, e.link())
		}
	}
}
