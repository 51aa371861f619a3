package transport

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/rsyncproto"
)

// follows is the local target's state for the options that follow
// symlinks under SRC (rsync's -L, --copy-unsafe-links, -k): the rsync
// sender's rule (beneath.Links.Follow), applied as the local copy walks
// the source.
type follows struct {
	links *beneath.Links
	// srcReal is the source root's real path: the directory of its links.
	srcReal string
	// real maps each entry reached through a followed symlink that the
	// run has looked at (the followed link, the directories below it) to
	// its real path; a file below a followed directory is found from its
	// directory's.
	real map[string]string
	// dirIDs holds the device and inode of each source directory synced,
	// for the loop check.
	dirIDs map[string]fileKey
}

// openFollows sets up following symlinks when the options ask for it.
func (r *run) openFollows() error {
	snd := r.l.opts.Sender
	if !snd.FollowsLinks() {
		return nil
	}
	real, err := beneath.RealPath(r.l.src)
	if err != nil {
		return fmt.Errorf("follow symlinks: %w", err)
	}
	l, err := beneath.OpenLinks(beneath.Follow{All: snd.CopyLinks, Unsafe: snd.CopyUnsafeLinks, Dirs: snd.CopyDirlinks})
	if err != nil {
		return err
	}
	r.fw = &follows{links: l, srcReal: real, real: map[string]string{}, dirIDs: map[string]fileKey{}}
	return nil
}

func (r *run) closeFollows() {
	if r.fw != nil {
		r.fw.links.Close()
	}
}

// realOf is the real path of the source entry rel when it was reached
// through a followed symlink, else "" (then it is opened beneath the
// source root by name).
func (r *run) realOf(rel string) string {
	if r.fw == nil || rel == "" {
		return ""
	}
	if v, ok := r.fw.real[rel]; ok {
		return v
	}
	if p := r.realOf(parentOf(rel)); p != "" {
		return p + "/" + filepath.Base(rel)
	}
	return ""
}

// srcStat is what the source lists at rel: its lstat, or, for a symlink
// the options follow, its referent's attributes (flist.c:readlink_stat).
// A link the options must follow but cannot, or a directory that is one
// of its own parents, is an error that is not fs.ErrNotExist: nothing is
// deleted for it.
func (r *run) srcStat(rel string) (fs.FileInfo, error) {
	if r.fw == nil {
		return r.srcLstat(rel)
	}
	if real := r.realOf(rel); real != "" {
		return r.fw.links.Lstat(real)
	}
	fi, err := r.srcLstat(rel)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return fi, err
	}
	return r.follow(rel, fi, "", func() (string, error) { return r.src.Readlink(rel) })
}

// follow returns what the source lists for the entry rel, lstat'ed as fi,
// in the directory whose real path is dirReal ("" for a directory
// beneath the root not reached through a followed link): the referent's
// attributes when fi is a symlink the options follow, else fi.
func (r *run) follow(rel string, fi fs.FileInfo, dirReal string, readlink func() (string, error)) (fs.FileInfo, error) {
	if r.fw == nil {
		return fi, nil
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return fi, nil // below a followed directory: realOf finds it
	}
	t, err := readlink()
	if err != nil {
		return nil, fmt.Errorf("read source link: %w", err)
	}
	dir := dirReal
	if dir == "" {
		dir = filepath.Join(r.fw.srcReal, filepath.FromSlash(parentOf(rel)))
	}
	real, rfi, err := r.fw.links.Follow(rel, dir, t)
	if err != nil || rfi == nil {
		return fi, err
	}
	if rfi.IsDir() {
		if err := r.checkLoop(rel, rfi); err != nil {
			return nil, err
		}
	}
	r.fw.real[rel] = real
	return rfi, nil
}

// checkLoop refuses the directory rfi, reached through the followed link
// rel, when it is one of rel's parent directories (device and inode):
// copying it would never end.
func (r *run) checkLoop(rel string, rfi fs.FileInfo) error {
	dev, ino, _ := beneath.DevIno(rfi)
	for p := parentOf(rel); ; p = parentOf(p) {
		k, ok := r.fw.dirIDs[p]
		if !ok {
			if fi, err := r.srcStat(p); err == nil {
				k.dev, k.ino, _ = beneath.DevIno(fi)
				r.fw.dirIDs[p] = k
			}
		}
		if k.dev == dev && k.ino == ino {
			return fmt.Errorf("copy %s: %w", rel, rsyncproto.ErrSymlinkLoop)
		}
		if p == "" {
			return nil
		}
	}
}

// sawDir records the source directory rel (its attributes sfi) for the
// loop check.
func (r *run) sawDir(rel string, sfi fs.FileInfo) {
	if r.fw == nil {
		return
	}
	if _, ok := r.fw.dirIDs[rel]; !ok {
		var k fileKey
		k.dev, k.ino, _ = beneath.DevIno(sfi)
		r.fw.dirIDs[rel] = k
	}
}

// openSrcDir opens the source directory rel for listing: at its real
// path when reached through a followed symlink, else beneath the root.
func (r *run) openSrcDir(rel string) (*beneath.Dir, string, error) {
	if real := r.realOf(rel); real != "" {
		d, err := r.fw.links.OpenDir(real)
		return d, real, err
	}
	d, err := r.src.OpenDir(srcRel(rel))
	return d, "", err
}

// srcReadlink reads the source symlink rel (one the options do not
// follow): at its real path below a followed directory, else beneath the
// root.
func (r *run) srcReadlink(rel string) (string, error) {
	if real := r.realOf(rel); real != "" {
		return r.fw.links.Readlink(real)
	}
	return r.src.Readlink(rel)
}

// openSrcFile opens the source file rel for its data: at its real path
// when reached through a followed symlink (no symlink followed on the
// way, as beneath the root), else beneath the root. The caller checks
// that it is the listed file.
func (r *run) openSrcFile(rel string) (*os.File, fs.FileInfo, error) {
	if real := r.realOf(rel); real != "" {
		return r.fw.links.OpenFile(real)
	}
	return r.src.OpenFile(rel)
}

// keptDirlink applies --keep-dirlinks (-K) to the target entry rel, which
// the source has as a directory and the target as tfi: a symlink on the
// target that leads to a directory is used as that directory
// (generator.c:recv_generator, link_stat with keep_dirlinks), and the
// run names everything below rel by the referent's path from then on
// (dstRel). Unlike rsync, the local target keeps only a link whose
// referent is a directory beneath the target root, opened without
// following a symlink once resolved: a link that leads out of it is
// replaced by a directory as without -K (nothing is written outside the
// target).
func (r *run) keptDirlink(rel string, tfi fs.FileInfo) (fs.FileInfo, bool) {
	if !r.l.opts.Receiver.KeepDirlinks || tfi == nil || tfi.Mode()&fs.ModeSymlink == 0 || rel == "" {
		return nil, false
	}
	real, err := filepath.EvalSymlinks(r.dstPath(rel))
	if err != nil {
		return nil, false
	}
	if r.dstReal == "" {
		if r.dstReal, err = filepath.EvalSymlinks(r.l.root); err != nil {
			return nil, false
		}
	}
	to, err := filepath.Rel(r.dstReal, real)
	if err != nil || to == "." || to == ".." || strings.HasPrefix(to, "../") {
		r.l.log.Warn("--keep-dirlinks: replacing a target symlink that does not lead to a directory beneath the target",
			"path", rel)
		return nil, false
	}
	to = filepath.ToSlash(to)
	fi, err := r.dst.Lstat(to)
	if err != nil || !fi.IsDir() {
		return nil, false
	}
	if r.kept == nil {
		r.kept = map[string]string{}
	}
	r.kept[rel] = to
	return fi, true
}

// isKept reports whether the target entry rel is a symlink -K keeps as
// a directory: its referent keeps its own mtime, as with rsync, which
// sets the directory's mtime on the link (generator.c:touch_up_dirs
// lstats it).
func (r *run) isKept(rel string) bool {
	_, ok := r.kept[rel]
	return ok
}

// dstRel is the target path of rel: below a symlink kept by -K
// (keptDirlink), the path through the link's referent, else rel.
func (r *run) dstRel(rel string) string {
	if len(r.kept) == 0 {
		return rel
	}
	for p := rel; p != ""; p = parentOf(p) {
		if to, ok := r.kept[p]; ok {
			return to + rel[len(p):]
		}
	}
	return rel
}
