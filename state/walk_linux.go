package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/beneath"
)

// Walk calls fn for every entry below root (not the root itself), depth
// first, each directory's names in byte order, a directory before what
// is in it: the order of an index file (see before). It leaves out what
// exclude says (exclude(rel, isDir); nil: nothing) and everything below
// an excluded directory. A directory it cannot read is passed with
// readable false, and nothing below it. It stops at fn's first error, or
// when ctx is done.
//
// On Linux it works relative to open directories (openat, getdents64,
// fstatat): each directory is opened once, and no stat resolves a path
// from the root again.
func Walk(ctx context.Context, root string, exclude func(rel string, isDir bool) bool, fn func(rel string, e Entry, readable bool) error) error {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("walk source %s: %w", root, &fs.PathError{Op: "open", Path: root, Err: err})
	}
	w := &walker{ctx: ctx, exclude: exclude, fn: fn, buf: make([]byte, 1<<16)}
	if err := w.dir(fd, ""); err != nil {
		return fmt.Errorf("walk source %s: %w", root, err)
	}
	return nil
}

// walker is one Walk: its callbacks and the getdents buffer it reuses.
type walker struct {
	ctx     context.Context
	exclude func(rel string, isDir bool) bool
	fn      func(rel string, e Entry, readable bool) error
	buf     []byte
}

// dir walks the open directory fd, at rel below the root, and closes it.
func (w *walker) dir(fd int, rel string) error {
	defer unix.Close(fd)
	if err := w.ctx.Err(); err != nil {
		return err
	}
	names, err := w.names(fd, rel)
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		p := n
		if rel != "" {
			p = rel + "/" + n
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue // gone since it was read: not in the tree
		}
		e := entryOfStat(&st)
		isDir := e.Mode.IsDir()
		if w.exclude != nil && w.exclude(p, isDir) {
			continue
		}
		if !isDir {
			if err := w.fn(p, e, true); err != nil {
				return err
			}
			continue
		}
		// A directory that cannot be read is passed as unreadable
		// before anything below it would be.
		sub, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if err := w.fn(p, e, false); err != nil {
				return err
			}
			continue
		}
		if err := w.fn(p, e, true); err != nil {
			unix.Close(sub)
			return err
		}
		if err := w.dir(sub, p); err != nil {
			if errors.Is(err, w.ctx.Err()) || !isFSError(err) {
				return err
			}
			// Read away between the open and the listing: its
			// entries so far are in; say nothing more of it.
		}
	}
	return nil
}

// names lists the open directory fd (without "." and "..").
func (w *walker) names(fd int, rel string) ([]string, error) {
	var names []string
	for {
		n, err := unix.Getdents(fd, w.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "getdents", Path: rel, Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(w.buf[:n], -1, names)
	}
}

// entryOfStat is the index entry of an lstat result, with the mode bits
// os.Lstat gives (beneath.FileMode): indexes written by either walk
// compare equal.
func entryOfStat(st *unix.Stat_t) Entry {
	m := beneath.FileMode(st.Mode)
	e := Entry{Mode: m, Size: st.Size, Mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec, Ino: st.Ino, Ctime: st.Ctim.Sec*1e9 + st.Ctim.Nsec}
	if m.IsDir() {
		e.Size = 0 // a directory's size says nothing about what is in it
	}
	return e
}
