package state

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWalkEntriesMatchLstat: the fd-relative walk gives every kind of
// entry the same Entry as os.Lstat does, so an index stays valid across
// the two ways of reading the tree.
func TestWalkEntriesMatchLstat(t *testing.T) {
	root := t.TempDir()
	mk := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mk(os.WriteFile(filepath.Join(root, "file"), []byte("data"), 0o640))
	mk(os.WriteFile(filepath.Join(root, "setuid"), nil, 0o755))
	mk(os.Chmod(filepath.Join(root, "setuid"), 0o755|fs.ModeSetuid|fs.ModeSetgid))
	mk(os.Mkdir(filepath.Join(root, "sticky"), 0o777))
	mk(os.Chmod(filepath.Join(root, "sticky"), 0o777|fs.ModeSticky))
	mk(os.WriteFile(filepath.Join(root, "sticky", "inner"), nil, 0o600))
	mk(os.Symlink("file", filepath.Join(root, "link")))
	mk(unix.Mkfifo(filepath.Join(root, "fifo"), 0o600))
	if os.Geteuid() == 0 {
		mk(unix.Mknod(filepath.Join(root, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	}
	n := 0
	err := Walk(context.Background(), root, nil, func(rel string, e Entry, readable bool) error {
		n++
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		want := Entry{Mode: fi.Mode(), Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Ino: st.Ino, Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec}
		if fi.IsDir() {
			want.Size = 0
		}
		if e != want || !readable {
			t.Errorf("%s: walk gives %+v (readable %v), lstat %+v", rel, e, readable, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 7 {
		t.Errorf("walked %d entries, want at least 7", n)
	}
}
