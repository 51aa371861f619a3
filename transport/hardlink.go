package transport

import (
	"fmt"
	"io/fs"
	"os"

	"github.com/gsync/gsync/internal/beneath"
)

// fileKey names a source inode.
type fileKey struct{ dev, ino uint64 }

// linkGroups remembers, across pushes, the target names of the source's
// multiply linked files (-H), so that a batch that brings one name of an
// inode links it to the names mirrored before, and a changed file reaches
// all its names. Entries are checked against the source when used.
type linkGroups map[fileKey]map[string]struct{}

func (g linkGroups) add(k fileKey, rel string) {
	if g[k] == nil {
		g[k] = make(map[string]struct{})
	}
	g[k][rel] = struct{}{}
}

// hardLinked reports whether the regular source file sfi is one of
// several names of an inode that -H keeps together, and its key.
func (r *run) hardLinked(sfi fs.FileInfo) (fileKey, bool) {
	if !r.l.attrs.HardLinks || !sfi.Mode().IsRegular() || nlinkOf(sfi) < 2 {
		return fileKey{}, false
	}
	dev, ino, ok := beneath.DevIno(sfi)
	return fileKey{dev, ino}, ok
}

// syncLinked mirrors the regular file rel, a name of the multiply linked
// source inode k, as rsync -H does (hlink.c:hard_link_check): a name of
// the inode already mirrored in this push, or in an earlier one with the
// same size and mtime, becomes the target's entry through a hard link;
// otherwise the file is synced as usual and becomes the one the others
// link to. After a copy in a batch the other known names are linked to
// the new file, so that they see the change too.
func (r *run) syncLinked(rel string, k fileKey, sfi, tfi fs.FileInfo) error {
	if lead, ok := r.linked[k]; ok {
		return r.linkTo(rel, lead, k, tfi)
	}
	for cand := range r.l.links[k] {
		if cand != rel && r.sameInode(cand, k) && r.upToDate(cand, sfi) {
			r.linked[k] = cand
			if err := r.linkTo(rel, cand, k, tfi); err != nil || r.dry {
				return err
			}
			// An attribute may have changed: the inode is shared.
			nfi, err := r.dstLstat(rel)
			if err != nil {
				return fmt.Errorf("stat target: %w", err)
			}
			return r.fixAttrs(rel, sfi, nfi)
		}
	}
	copied := !r.quick || tfi == nil || !tfi.Mode().IsRegular() || tfi.Size() != sfi.Size() || !tfi.ModTime().Equal(sfi.ModTime())
	var err error
	if copied {
		err = r.copyFile(rel, sfi, tfi)
	} else {
		err = r.fixAttrs(rel, sfi, tfi)
	}
	if err != nil || r.dry {
		return err
	}
	r.linked[k] = rel
	r.l.links.add(k, rel)
	if copied && !r.quick {
		r.relinkOthers(rel, k)
	}
	return nil
}

// sameInode reports whether the source name rel is still a name of k.
func (r *run) sameInode(rel string, k fileKey) bool {
	fi, err := r.srcLstat(rel)
	if err != nil || !fi.Mode().IsRegular() || r.excluded(rel, false) {
		return false
	}
	dev, ino, ok := beneath.DevIno(fi)
	return ok && dev == k.dev && ino == k.ino
}

// upToDate reports whether the target entry rel is a regular file with
// the size and mtime of the source file sfi (rsync's quick check).
func (r *run) upToDate(rel string, sfi fs.FileInfo) bool {
	tfi, err := r.dstLstat(rel)
	return err == nil && tfi.Mode().IsRegular() && tfi.Size() == sfi.Size() && tfi.ModTime().Equal(sfi.ModTime())
}

// linkTo makes the target entry rel (tfi, nil when absent) a hard link of
// the target entry lead, a name of the source inode k, unless it is one
// already.
func (r *run) linkTo(rel, lead string, k fileKey, tfi fs.FileInfo) error {
	r.l.links.add(k, rel)
	lfi, err := r.dstLstat(lead)
	if err != nil {
		return fmt.Errorf("stat hard link target %s: %w", lead, err)
	}
	if tfi != nil && sameFile(lfi, tfi) {
		// Also keeps rename(2) from leaving the temporary name: renaming
		// a link over another link of its inode does nothing.
		return nil
	}
	if r.dry {
		r.st.Files++
		return nil
	}
	tmp, err := r.tmpName(rel)
	if err != nil {
		return err
	}
	if err := os.Link(r.dstPath(lead), tmp); err != nil {
		return fmt.Errorf("create hard link to %s: %w", lead, err)
	}
	return r.place(tmp, rel, tfi)
}

// relinkOthers links the other known target names of k, still names of
// it at the source, to the new target file rel.
func (r *run) relinkOthers(rel string, k fileKey) {
	for cand := range r.l.links[k] {
		if cand == rel {
			continue
		}
		if !r.sameInode(cand, k) {
			delete(r.l.links[k], cand)
			continue
		}
		tfi, err := r.dstLstat(cand)
		if err != nil && !isNotExist(err) {
			r.fail(cand, fmt.Errorf("stat target: %w", err))
			continue
		}
		if err != nil {
			tfi = nil
			if ok, err := r.prepareParents(cand); err != nil || !ok {
				continue
			}
		}
		if err := r.linkTo(cand, rel, k, tfi); err != nil {
			r.fail(cand, err)
		}
	}
}
