package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errNotDir is returned for a path whose parent is not a directory.
var errNotDir = unix.ENOTDIR

// setMtime sets the mtime of p to the nanosecond, without following a
// symlink, leaving the atime alone.
func setMtime(p string, t time.Time) error {
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(t.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime: %w", &os.PathError{Op: "utimensat", Path: p, Err: err})
	}
	return nil
}

func statOf(fi fs.FileInfo) *syscall.Stat_t {
	st, _ := fi.Sys().(*syscall.Stat_t)
	return st
}

// setOwner gives p the numeric owner of the source entry when running as
// root (like rsync -a); otherwise new entries belong to the caller.
func setOwner(p string, sfi fs.FileInfo) error {
	st := statOf(sfi)
	if st == nil || os.Geteuid() != 0 {
		return nil
	}
	if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("set owner: %w", err)
	}
	return nil
}

func ownerDiffers(sfi, tfi fs.FileInfo) bool {
	s, t := statOf(sfi), statOf(tfi)
	if s == nil || t == nil || os.Geteuid() != 0 {
		return false
	}
	return s.Uid != t.Uid || s.Gid != t.Gid
}

func sameDevice(sfi, tfi fs.FileInfo) bool {
	s, t := statOf(sfi), statOf(tfi)
	return s != nil && t != nil && s.Rdev == t.Rdev
}

// mknod creates a fifo, socket or device node like the source entry.
func mknod(p string, sfi fs.FileInfo) error {
	st := statOf(sfi)
	if st == nil {
		return fmt.Errorf("create special file: %w", errors.ErrUnsupported)
	}
	mode := st.Mode&unix.S_IFMT | 0o600
	if err := unix.Mknod(p, mode, int(st.Rdev)); err != nil {
		return fmt.Errorf("create special file: %w", &os.PathError{Op: "mknod", Path: p, Err: err})
	}
	return nil
}
