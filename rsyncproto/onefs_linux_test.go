package rsyncproto

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// TestOneFileSystemMount: with OneFileSystem a tmpfs mounted below the
// root is listed as its mount-point directory without contents
// (XMIT_NO_CONTENT_DIR: the receiver deletes nothing inside it), and its
// files are not listed; without it they are.
func TestOneFileSystemMount(t *testing.T) {
	src := t.TempDir()
	mnt := filepath.Join(src, "mnt")
	writeFile(t, filepath.Join(src, "top"), []byte("top"), 0o644, time.Unix(1704164645, 0))
	testutil.Must(t, os.Mkdir(mnt, 0o755))
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	writeFile(t, filepath.Join(mnt, "inner"), []byte("inner"), 0o644, time.Unix(1704164645, 0))
	for _, one := range []bool{true, false} {
		fl, err := buildFileList(context.Background(), &Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}, {Name: "mnt/inner"}},
			Options: Options{OneFileSystem: one}}, nil)
		testutil.Must(t, err)
		fl.close()
		names := map[string]*entry{}
		for _, e := range fl.list {
			names[e.name] = e
		}
		if names["mnt"] == nil || names["top"] == nil {
			t.Fatalf("one=%v: mnt or top missing", one)
		}
		if (names["mnt/inner"] == nil) != one || names["mnt"].noContent != one {
			t.Errorf("one=%v: mnt/inner listed %v, mnt noContent %v", one, names["mnt/inner"] != nil, names["mnt"].noContent)
		}
	}
}
