package transport

import (
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/rsyncproto"
)

// linkIndex knows the names of the source's files that have more than one
// name (st_nlink > 1), by inode, for -H on rsync targets: a receiver links
// only names that are in the same file list (hlink.c:match_hard_links), so
// a push lists every name of each multiply-linked file it sends. Then a
// new name of a file the target already has is linked to it, not sent
// again, and a write through one name reaches all names at the next push.
// It is filled by the walk of a full sync and kept up to date by each
// push. A Target uses it from one goroutine at a time.
type linkIndex struct {
	names map[fileKey][]string
	ids   map[string]fileKey
	// searched holds the files whose other names a walk of the whole
	// source looked for since the last reset: a name outside the source
	// (or excluded) is never found, and must not cost a walk per push.
	searched map[fileKey]bool
}

// reset forgets everything (before a full sync's walk).
func (x *linkIndex) reset() {
	x.names, x.ids, x.searched = map[fileKey][]string{}, map[string]fileKey{}, map[fileKey]bool{}
}

// note records what rel is now: a multiply-linked file (ok) or not.
func (x *linkIndex) note(rel string, id fileKey, ok bool) {
	if x.names == nil {
		x.reset()
	}
	if old, had := x.ids[rel]; had {
		if ok && old == id {
			return
		}
		x.names[old] = slices.DeleteFunc(x.names[old], func(n string) bool { return n == rel })
		if len(x.names[old]) == 0 {
			delete(x.names, old)
		}
		delete(x.ids, rel)
	}
	if ok {
		x.ids[rel] = id
		x.names[id] = append(x.names[id], rel)
	}
}

// scan walks the source below rel (the whole source for ".") and notes
// every regular file; excluded entries are skipped. Errors end the walk
// of their directory only: the index is a hint, the sender checks every
// path it opens.
func (x *linkIndex) scan(src, rel string, exclude func(string, bool) bool) {
	base := filepath.Join(src, filepath.FromSlash(rel))
	_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		r, rerr := filepath.Rel(src, p)
		if rerr != nil {
			return nil
		}
		r = filepath.ToSlash(r)
		if r != "." && exclude != nil && exclude(r, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				id, n := linkID(fi)
				x.note(r, id, n > 1)
			}
		}
		return nil
	})
}

// expand notes the current state of the paths of set (walking recursive
// directories) and adds, non-recursively, every other name of each
// multiply-linked file in it. A file with more names than the index knows
// (a new hard link to a file that had one name: the kernel reports no
// event for the old name) makes one walk of the whole source look for
// them, once per file until the next full sync.
func (x *linkIndex) expand(src string, set *pathSet, exclude func(string, bool) bool) {
	if x.names == nil {
		x.reset()
	}
	listed := slices.Clone(set.list)
	var ids []fileKey
	walk := false
	for _, p := range listed {
		fi, err := lstatBelow(src, p.Name)
		switch {
		case err != nil:
			x.note(p.Name, fileKey{}, false)
		case fi.IsDir() && p.Recursive:
			x.scan(src, p.Name, exclude)
			for id, names := range x.names {
				if slices.ContainsFunc(names, func(n string) bool { return inTree(n, p.Name) }) {
					ids = append(ids, id)
				}
			}
		case fi.Mode().IsRegular():
			id, n := linkID(fi)
			x.note(p.Name, id, n > 1)
			if n > 1 {
				ids = append(ids, id)
				if uint64(len(x.names[id])) < n && !x.searched[id] {
					x.searched[id], walk = true, true
				}
			}
		default:
			x.note(p.Name, fileKey{}, false)
		}
	}
	if walk {
		x.scan(src, ".", exclude)
	}
	for _, id := range ids {
		for _, n := range slices.Clone(x.names[id]) {
			fi, err := lstatBelow(src, n)
			if err != nil || !fi.Mode().IsRegular() {
				x.note(n, fileKey{}, false)
				continue
			}
			if now, links := linkID(fi); now != id || links < 2 {
				x.note(n, now, links > 1)
				continue
			}
			if !slices.ContainsFunc(listed, func(p rsyncproto.Path) bool { return p.Recursive && inTree(n, p.Name) }) {
				set.add(n, false) // else a recursive path lists it already
			}
		}
	}
}

// linkID returns fi's device and inode, and its number of names (1 where
// the system does not tell).
func linkID(fi fs.FileInfo) (fileKey, uint64) {
	dev, ino, ok := beneath.DevIno(fi)
	if !ok {
		return fileKey{}, 1
	}
	return fileKey{dev, ino}, nlinkOf(fi)
}

// inTree reports whether rel is dir or below it ("." holds everything).
func inTree(rel, dir string) bool {
	return dir == "." || rel == dir || strings.HasPrefix(rel, dir+"/")
}
