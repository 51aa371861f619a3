//go:build !linux

package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

var errNotDir = syscall.ENOTDIR

// setMtime sets the mtime of p; symlink mtimes are left alone on this
// platform.
func setMtime(p string, t time.Time) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	if fi.Mode().Type() == fs.ModeSymlink {
		return nil
	}
	if err := os.Chtimes(p, time.Time{}, t); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

// wantOwner keeps owners alone on this platform.
func (r *run) wantOwner(fs.FileInfo) (uid, gid int) { return -1, -1 }

func setOwner(string, int, int) error { return nil }

func ownerDiffers(fs.FileInfo, int, int) bool { return false }

func sameDevice(fs.FileInfo, fs.FileInfo) bool { return false }

func mknod(string, fs.FileInfo) error {
	return fmt.Errorf("create special file: %w", errors.ErrUnsupported)
}

// nlinkOf returns the link count of an entry.
func nlinkOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

func ownerOf(fs.FileInfo) (uid, gid int, ok bool) { return -1, -1, false }
