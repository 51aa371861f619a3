//go:build unix

package ops

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive, non-blocking lock on f (lsyncd: lockf).
func lockFile(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }

// OpenRegular opens (or creates) path for gsync's own files, the pidfile
// and the log file, never following a symlink and never blocking on a
// FIFO: the open is O_NOFOLLOW|O_NONBLOCK, then fstat must report a
// regular file. Anything else is refused with a clear error.
func OpenRegular(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("open %s: is a symbolic link; refusing to follow it", path)
	case errors.Is(err, unix.ENXIO):
		return nil, fmt.Errorf("open %s: not a regular file (a FIFO or socket)", path)
	case err != nil:
		return nil, err
	}
	if err := checkRegular(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkRegular refuses an open file that is not a regular file.
func checkRegular(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("open %s: not a regular file (mode %#o)", f.Name(), st.Mode&unix.S_IFMT)
	}
	return nil
}

// OpenDevice opens path for writing in place when it is a character
// device or a FIFO itself (/dev/console, a named pipe; never through a
// symbolic link, which could lead to /dev/mem), or when it names the
// process's own standard output or error (/dev/stdout, /dev/stderr,
// /dev/fd/1, /proc/self/fd/2, ...: a copy of that descriptor, whatever it
// is). lsyncd writes its logfile and statusFile there with fopen, and
// replacing such a path by a regular file would break the system.
// isDevice is false (f nil, err nil) for anything else, a missing path
// included. The open never blocks: a FIFO without a reader is
// ErrNoReader. flag adds to O_WRONLY (os.O_APPEND, say).
func OpenDevice(path string, flag int) (f *os.File, isDevice bool, err error) {
	if fd := stdStream(path); fd >= 0 {
		nfd, err := unix.Dup(fd)
		if err != nil {
			return nil, true, fmt.Errorf("open %s: %w", path, err)
		}
		unix.CloseOnExec(nfd)
		return os.NewFile(uintptr(nfd), path), true, nil
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&(os.ModeCharDevice|os.ModeNamedPipe) == 0 {
		return nil, false, nil
	}
	f, err = os.OpenFile(path, flag|os.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENXIO):
		return nil, true, fmt.Errorf("open %s: %w", path, ErrNoReader)
	case err != nil:
		return nil, true, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || (st.Mode&unix.S_IFMT != unix.S_IFCHR && st.Mode&unix.S_IFMT != unix.S_IFIFO) {
		f.Close()
		return nil, true, fmt.Errorf("open %s: no longer a character device or FIFO", path)
	}
	return f, true, nil
}

// stdStream returns 1 or 2 when path names the process's standard output
// or error, else -1.
func stdStream(path string) int {
	switch filepath.Clean(path) {
	case "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1":
		return 1
	case "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2":
		return 2
	}
	return -1
}
