package beneath

import "golang.org/x/sys/unix"

// oPath opens intermediate directories for searching only: no read
// permission is needed, as for a path walk by the kernel.
const oPath = unix.O_PATH

// openat2 opens rel beneath dirfd in one call: RESOLVE_BENEATH refuses
// ".." and absolute symlinks out of dirfd (EXDEV), RESOLVE_NO_SYMLINKS
// refuses a symlink in any component (ELOOP).
func openat2(dirfd int, rel string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(dirfd, rel, &how)
		// EAGAIN: a rename or mount raced the resolution; try again,
		// a bounded number of times.
		if err != unix.EINTR && (err != unix.EAGAIN || tries >= maxAgain) {
			return fd, err
		}
	}
}

// maxAgain bounds the retries of openat2 after EAGAIN.
const maxAgain = 100

// fallBack reports whether openat2 is unavailable: ENOSYS before Linux
// 5.6, EPERM from a seccomp filter that does not know it.
func fallBack(err error) bool { return err == unix.ENOSYS || err == unix.EPERM }
