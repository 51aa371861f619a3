//go:build unix && !linux

package watcher

import "golang.org/x/sys/unix"

// openDir opens the directory rel ("" is the root) below the root with
// flags added to O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC, one component at a time
// with openat(O_NOFOLLOW), so no symlink is followed.
func (b *beneath) openDir(rel string, flags int) (int, error) {
	flags |= unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if rel == "" {
		return retryEINTR(func() (int, error) { return unix.Openat(b.root, ".", flags, 0) })
	}
	return b.walkDir(rel, flags)
}

// pathFlag opens a directory only to check its identity.
const pathFlag = unix.O_RDONLY
