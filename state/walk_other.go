//go:build !linux

package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Walk calls fn for every entry below root (not the root itself), depth
// first, each directory's names in byte order, a directory before what
// is in it: the order of an index file (see before). It leaves out what
// exclude says (exclude(rel, isDir); nil: nothing) and everything below
// an excluded directory. A directory it cannot read is passed with
// readable false, and nothing below it. It stops at fn's first error, or
// when ctx is done.
func Walk(ctx context.Context, root string, exclude func(rel string, isDir bool) bool, fn func(rel string, e Entry, readable bool) error) error {
	var walk func(dir string) error
	walk = func(dir string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		full := root
		if dir != "" {
			full = filepath.Join(root, filepath.FromSlash(dir))
		}
		f, err := os.Open(full)
		if err != nil {
			return err
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return err
		}
		slices.Sort(names)
		for _, n := range names {
			rel := n
			if dir != "" {
				rel = dir + "/" + n
			}
			fi, err := os.Lstat(filepath.Join(full, n))
			if err != nil {
				continue // gone since it was read: not in the tree
			}
			if exclude != nil && exclude(rel, fi.IsDir()) {
				continue
			}
			if !fi.IsDir() {
				if err := fn(rel, entryOf(fi), true); err != nil {
					return err
				}
				continue
			}
			// A directory that cannot be read is passed as unreadable
			// before anything below it would be.
			if d, err := os.Open(filepath.Join(full, n)); err != nil {
				if err := fn(rel, entryOf(fi), false); err != nil {
					return err
				}
				continue
			} else {
				d.Close()
			}
			if err := fn(rel, entryOf(fi), true); err != nil {
				return err
			}
			if err := walk(rel); err != nil {
				if errors.Is(err, ctx.Err()) || !isFSError(err) {
					return err
				}
				// Read away between the open and the listing: its
				// entries so far are in; say nothing more of it.
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return fmt.Errorf("walk source %s: %w", root, err)
	}
	return nil
}
