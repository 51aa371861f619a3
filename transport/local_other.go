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

func setOwner(string, fs.FileInfo) error { return nil }

func ownerDiffers(fs.FileInfo, fs.FileInfo) bool { return false }

func sameDevice(fs.FileInfo, fs.FileInfo) bool { return false }

func mknod(string, fs.FileInfo) error {
	return fmt.Errorf("create special file: %w", errors.ErrUnsupported)
}
