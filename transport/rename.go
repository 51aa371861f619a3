package transport

import (
	"fmt"
	"log/slog"
	"strings"
)

// renamePlan is what planRename did with one Rename change.
type renamePlan struct {
	from, to string
	// fallback: the rename cannot be done on the target (excluded on one
	// side, missing there, refused); mirror both paths instead.
	fallback bool
	// renamed: the entry was renamed on the target (or would have been,
	// dry run); isDir says whether it is a directory.
	renamed, isDir bool
}

// planRename applies one Rename change on a target's file system, with
// the same rules for every target that can rename: refuse unclean paths
// (a FileError, nothing else done), leave a move between excluded paths
// alone, fall back to a transfer when only one side is excluded, when the
// source entry is missing or excluded on the target, or when the rename
// fails. err is set only when fsys is broken.
func planRename(c Change, ex func(rel string, isDir bool) bool, fsys treeFS, dry bool, log *slog.Logger) (renamePlan, *FileError, error) {
	p := renamePlan{to: strings.TrimSuffix(c.Path, "/"), from: strings.TrimSuffix(c.From, "/")}
	for _, rel := range []string{p.to, p.from} {
		if err := checkRel(rel); err != nil {
			return p, &FileError{Path: rel, Err: fmt.Errorf("refuse rename: %w", err)}, nil
		}
	}
	fromEx, toEx := excludedPath(ex, p.from, c.IsDir), excludedPath(ex, p.to, c.IsDir)
	switch {
	case fromEx && toEx:
		return p, nil, nil
	case fromEx || toEx || p.from == p.to:
		p.fallback = true
		return p, nil, nil
	}
	fi, err := fsys.lstat(p.from)
	if err != nil || excludedPath(ex, p.from, fi.IsDir()) {
		if err != nil && fsys.broken(err) {
			return p, nil, err
		}
		p.fallback = true
		return p, nil, nil
	}
	p.isDir = fi.IsDir()
	if dry {
		p.renamed = true
		return p, nil, nil
	}
	if err := fsys.mkdirParents(p.to); err != nil {
		if fsys.broken(err) {
			return p, nil, err
		}
		log.Debug("rename: cannot create parent directories, transferring instead", "to", p.to, "err", err)
		p.fallback = true
		return p, nil, nil
	}
	if err := fsys.rename(p.from, p.to); err != nil {
		if fsys.broken(err) {
			return p, nil, err
		}
		log.Debug("rename failed, transferring instead", "from", p.from, "to", p.to, "err", err)
		p.fallback = true
		return p, nil, nil
	}
	p.renamed = true
	return p, nil, nil
}
