//go:build unix

package transporttest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// base is the mtime given to fixture entries; sub-second on purpose.
var base = time.Date(2023, 3, 4, 5, 6, 7, 891011121, time.UTC)

// tree writes fixture entries below a root directory.
type tree struct {
	t    testing.TB
	root string
}

func (w tree) path(rel string) string { return filepath.Join(w.root, filepath.FromSlash(rel)) }

// file writes a file (creating parent directories) and sets its mode and
// mtime.
func (w tree) file(rel, content string, mode os.FileMode, mt time.Time) {
	w.t.Helper()
	p := w.path(rel)
	w.mkdirs(filepath.Dir(rel))
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		w.t.Fatal(err)
	}
	w.chmod(rel, mode)
	w.mtime(rel, mt)
}

// bytes writes binary content.
func (w tree) bytes(rel string, data []byte, mt time.Time) {
	w.t.Helper()
	w.mkdirs(filepath.Dir(rel))
	if err := os.WriteFile(w.path(rel), data, 0o644); err != nil {
		w.t.Fatal(err)
	}
	w.mtime(rel, mt)
}

func (w tree) mkdirs(rel string) {
	w.t.Helper()
	if rel == "." {
		return
	}
	if err := os.MkdirAll(w.path(rel), 0o755); err != nil {
		w.t.Fatal(err)
	}
}

func (w tree) dir(rel string, mode os.FileMode) {
	w.t.Helper()
	w.mkdirs(rel)
	w.chmod(rel, mode)
}

func (w tree) symlink(rel, target string) {
	w.t.Helper()
	w.mkdirs(filepath.Dir(rel))
	if err := os.Symlink(target, w.path(rel)); err != nil {
		w.t.Fatal(err)
	}
	w.mtime(rel, base.Add(-time.Hour))
}

func (w tree) chmod(rel string, mode os.FileMode) {
	w.t.Helper()
	if err := os.Chmod(w.path(rel), mode); err != nil {
		w.t.Fatal(err)
	}
}

func (w tree) mtime(rel string, mt time.Time) {
	w.t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, w.path(rel), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		w.t.Fatal(err)
	}
}

func (w tree) remove(rel string) {
	w.t.Helper()
	if err := os.RemoveAll(w.path(rel)); err != nil {
		w.t.Fatal(err)
	}
}

func (w tree) rename(from, to string) {
	w.t.Helper()
	if err := os.Rename(w.path(from), w.path(to)); err != nil {
		w.t.Fatal(err)
	}
}

func (w tree) exists(rel string) bool {
	_, err := os.Lstat(w.path(rel))
	return err == nil
}

func (w tree) inode(rel string) uint64 {
	w.t.Helper()
	fi, err := os.Lstat(w.path(rel))
	if err != nil {
		w.t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// fixDirTimes gives every directory below root (and root) the mtime base,
// deepest first, so that the fixture's directory mtimes are deterministic.
func (w tree) fixDirTimes() {
	w.t.Helper()
	var dirs []string
	err := filepath.Walk(w.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		rel, _ := filepath.Rel(w.root, dirs[i])
		w.mtime(rel, base.Add(-24*time.Hour))
	}
}

// varied builds the fixture tree of the initial full sync.
func (w tree) varied(c Caps) {
	w.t.Helper()
	w.file("a.txt", "alpha\n", 0o644, base)
	w.file("empty", "", 0o600, base.Add(time.Second))
	w.file("nested/deeper/deepest/leaf", "leaf", 0o640, base.Add(2*time.Second))
	w.dir("nested/empty-dir", 0o750)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*31 + i>>9)
	}
	w.bytes("big.bin", big, base.Add(3*time.Second))
	w.symlink("links/rel", "../a.txt")
	w.symlink("links/abs", "/etc/hostname")
	w.symlink("links/dangling", "no/such/target")
	w.symlink("links/dirlink", "../nested")
	names := []string{"with space", "new\nline", `back\slash`, "br]acket", "*?[", "bad\xff\xfeutf8", "-dash", ".hidden", strings.Repeat("n", 255)}
	for i, n := range names {
		w.file("names/"+n, n, 0o644, base.Add(time.Duration(i)*time.Millisecond))
	}
	w.file("modes/setuid", "#!/bin/sh\n", 0o755|os.ModeSetuid, base)
	w.file("modes/setgid-file", "x", 0o750|os.ModeSetgid, base)
	w.file("modes/readonly", "ro", 0o444, base)
	w.dir("modes/sticky", 0o777|os.ModeSticky)
	w.file("modes/setgid-dir/f", "f", 0o644, base)
	w.dir("modes/setgid-dir", 0o755|os.ModeSetgid)
	w.file("modes/ro-dir/f", "f", 0o644, base)
	w.dir("modes/ro-dir", 0o555)
	if !c.NoSpecials {
		if err := unix.Mkfifo(w.path("special-fifo"), 0o640); err != nil {
			w.t.Fatal(err)
		}
		w.mtime("special-fifo", base)
	}
	w.fixDirTimes()
}
