package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
)

// treeFS is a target's file system as the local and ssh targets share it:
// the target directory through os, or the remote one through SFTP. Paths
// are relative to the target root ("" is the root), slash-separated and
// clean. The rename planner (planRename) and the deleter use it, so that
// both targets apply one implementation of each rule.
type treeFS interface {
	// lstat stats rel without following a symlink in any component; an
	// entry below a symlink or a non-directory does not exist.
	lstat(rel string) (fs.FileInfo, error)
	// readDir lists the directory rel: its entries' lstat, by name.
	readDir(rel string) ([]fs.FileInfo, error)
	// remove deletes one entry (a directory only when empty); an entry
	// that is gone already is no error.
	remove(rel string, isDir bool) error
	// mkdirParents makes every parent of rel a directory, or fails.
	mkdirParents(rel string) error
	// rename moves from to to, replacing to.
	rename(from, to string) error
	// broken reports whether err means the file system is gone (a lost
	// connection, a timeout): the push stops instead of going on.
	broken(err error) bool
}

// errHoldsExcluded: a directory to delete holds excluded entries, which
// are never deleted, so it stays.
var errHoldsExcluded = errors.New("it holds excluded entries")

// deleter deletes on a target's file system, never an excluded entry (a
// directory holding one stays, and is reported).
type deleter struct {
	fsys treeFS
	ex   func(rel string, isDir bool) bool
	// hidden, if set, reports whether an entry the source has is not
	// sent (Options.Exclude where Options.Protect decides the deletes):
	// a target entry there is deleted unless ex keeps it, as rsync's
	// receiver deletes what H rules hide.
	hidden func(rel string, isDir bool) bool
	// inside, if set, decides instead of ex for the entries inside a
	// directory being deleted (Options.ProtectInside).
	inside func(rel string, isDir bool) bool
	dry    bool
	st     *Stats
	// removed, if set, is called for each entry deleted (or that would be
	// in a dry run).
	removed func(rel string)
	// fail records a per-path failure.
	fail func(rel string, err error)
	// log, if set, receives the directories kept because they hold
	// protected entries (rsync's "cannot delete non-empty directory",
	// delete.c:delete_item, an info line: not a failure).
	log *slog.Logger
	// backup, if set, takes a non-directory away instead of remove
	// (--backup: it is kept under its backup name).
	backup func(rel string, fi fs.FileInfo) error
}

func (d *deleter) excluded(rel string, isDir bool) bool { return excludedPath(d.ex, rel, isDir) }

// removeTree deletes the entry rel, lstat'ed as fi, and, for a directory,
// its subtree, except excluded entries. It stops at the first error.
func (d *deleter) removeTree(rel string, fi fs.FileInfo) error {
	if fi.IsDir() {
		entries, err := d.fsys.readDir(rel)
		if err != nil {
			return fmt.Errorf("read target directory: %w", err)
		}
		kept := false
		keep := d.ex
		if d.inside != nil {
			keep = d.inside
		}
		for _, e := range entries {
			c := child(rel, e.Name())
			if excludedPath(keep, c, e.IsDir()) {
				kept = true
				continue
			}
			if err := d.removeTree(c, e); err != nil {
				if !errors.Is(err, errHoldsExcluded) {
					return err
				}
				d.failed(c, err) // logged; what else is here still goes, as in delete.c:delete_dir_contents
				kept = true
			}
		}
		if kept {
			return fmt.Errorf("delete directory %s: %w", srcRel(rel), errHoldsExcluded)
		}
	}
	switch {
	case d.dry:
	case d.backup != nil && !fi.IsDir():
		if err := d.backup(rel, fi); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	default:
		if err := d.fsys.remove(rel, fi.IsDir()); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
	}
	d.st.Deleted++
	if d.removed != nil {
		d.removed(rel)
	}
	return nil
}

// deletePath deletes a listed path that no longer exists at the source,
// unless it is excluded. err is set only when the file system is broken;
// other failures are recorded.
func (d *deleter) deletePath(rel string) error {
	fi, err := d.fsys.lstat(rel)
	if err != nil {
		return d.failed(rel, fmt.Errorf("stat target: %w", err))
	}
	if d.excluded(rel, fi.IsDir()) {
		return nil
	}
	return d.failed(rel, d.removeTree(rel, fi))
}

// deleteExtras deletes the entries of the target directory rel that
// inSource does not know, except excluded ones, and returns the others.
// err is set only when the file system is broken.
func (d *deleter) deleteExtras(rel string, inSource func(name string) bool) ([]fs.FileInfo, error) {
	entries, err := d.fsys.readDir(rel)
	if err != nil {
		return nil, d.failed(rel, fmt.Errorf("read target directory: %w", err))
	}
	var kept []fs.FileInfo
	for _, e := range entries {
		c := child(rel, e.Name())
		if d.excluded(c, e.IsDir()) || inSource(e.Name()) && (d.hidden == nil || !d.hidden(c, e.IsDir())) {
			kept = append(kept, e)
			continue
		}
		if err := d.failed(c, d.removeTree(c, e)); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// failed records err for rel and returns nil, unless err means the file
// system is broken (returned) or that rel is gone (nothing to do).
func (d *deleter) failed(rel string, err error) error {
	switch {
	case err == nil || isNotExist(err):
		return nil
	case errors.Is(err, errHoldsExcluded):
		if d.log != nil {
			d.log.Info("cannot delete non-empty directory: it holds protected entries", "path", srcRel(rel))
		}
		return nil
	case d.fsys.broken(err):
		return err
	}
	d.fail(rel, err)
	return nil
}
