//go:build unix

package watcher

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// errReplaced is a directory that changed between its open and its
// inotify watch (it was swapped, possibly for a symlink out of the tree).
var errReplaced = errors.New("directory replaced while being watched; not watched")

// beneath opens directories below the watched root without following a
// symlink in any path component, so that a local user who can write into
// the tree cannot make the watcher scan or watch a directory outside it.
// It is safe for concurrent use.
type beneath struct {
	root int // the root directory, opened once (the root itself may be a symlink)
	// noOpenat2 is set once openat2 turned out to be missing (Linux < 5.6)
	// or forbidden (seccomp); the component walk is used from then on.
	noOpenat2 atomic.Bool
}

// openRoot opens the root directory, following it if it is a symlink
// (that is how the user named it).
func openRoot(root string) (*beneath, error) {
	fd, err := retryEINTR(func() (int, error) {
		return unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	return &beneath{root: fd}, nil
}

// close releases the root descriptor.
func (b *beneath) close() { unix.Close(b.root) }

// readDir lists the directory rel beneath the root (for the fsnotify
// backend; the inotify one reads with getdents64 into a reused buffer).
func (b *beneath) readDir(rel string) ([]os.DirEntry, error) {
	fd, err := b.openDir(rel, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	return f.ReadDir(-1)
}

// walkDir opens rel one component at a time, each relative to its
// parent's descriptor with O_NOFOLLOW, so no symlink is followed.
func (b *beneath) walkDir(rel string, flags int) (int, error) {
	dir := -1
	for name, rest, ok := firstComponent(rel); ok; name, rest, ok = firstComponent(rest) {
		if name == "." || name == ".." {
			closeFD(dir)
			return -1, unix.EXDEV
		}
		at := b.root
		if dir >= 0 {
			at = dir
		}
		f := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if rest == "" {
			f = flags
		}
		fd, err := retryEINTR(func() (int, error) { return unix.Openat(at, name, f, 0) })
		closeFD(dir)
		if err != nil {
			return -1, err
		}
		dir = fd
	}
	return dir, nil
}

func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// retryEINTR calls open until it is not interrupted.
func retryEINTR(open func() (int, error)) (int, error) {
	for {
		fd, err := open()
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// identity returns the device and inode of an open descriptor.
func identity(fd int) (devIno, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return devIno{}, fmt.Errorf("stat directory: %w", err)
	}
	return devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// resolvesTo reports whether rel, resolved beneath the root again, is still
// the directory id.
func (b *beneath) resolvesTo(rel string, id devIno) bool {
	fd, err := b.openDir(rel, pathFlag)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	now, err := identity(fd)
	return err == nil && now == id
}
