package watcher

import (
	"errors"

	"golang.org/x/sys/unix"
)

// openDir opens the directory rel ("" is the root) below the root with
// flags added to O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC: openat2 with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or an openat(O_NOFOLLOW) walk of
// its components where openat2 is not available (Linux < 5.6, seccomp).
func (b *beneath) openDir(rel string, flags int) (int, error) {
	flags |= unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if rel == "" {
		return retryEINTR(func() (int, error) { return unix.Openat(b.root, ".", flags, 0) })
	}
	if !b.noOpenat2.Load() {
		how := &unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
		fd, err := retryEINTR(func() (int, error) { return unix.Openat2(b.root, rel, how) })
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EPERM) {
			return fd, err
		}
		b.noOpenat2.Store(true)
	}
	return b.walkDir(rel, flags)
}

// pathFlag opens a directory only to check its identity.
const pathFlag = unix.O_PATH
