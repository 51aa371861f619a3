package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/bwlimit"
	"github.com/gsync/gsync/internal/change"
)

// tmpPrefix starts the names of files being written on a local target.
const tmpPrefix = ".gsync-tmp-"

// Local mirrors the source into a directory on a local file system (lsyncd's
// default.direct). It never writes outside its directory and never follows a
// symlink, neither in the source nor in the target. It assumes no other
// process changes the target tree concurrently.
type Local struct {
	root  string // target root, absolute, symlinks of the root itself resolved
	src   string // source root, absolute
	opts  Options
	attrs attrPlan
	log   *slog.Logger
	// links are the target names of multiply linked source files (-H).
	links linkGroups
	// index knows the source names of multiply linked files (-H), so
	// that a push brings every name of one along.
	index linkIndex
	// bw is the --bwlimit token bucket of the data this target copies
	// (nil: none), one for its lifetime, as rsync keeps one per process.
	bw *bwlimit.Limiter
}

// dryMissing reports whether a dry run finds no target directory: rsync
// -n creates nothing, not even that, so there is nothing to compare
// with; everything would be created.
func (l *Local) dryMissing() bool {
	if !l.opts.DryRun {
		return false
	}
	_, err := os.Lstat(l.root)
	if errors.Is(err, fs.ErrNotExist) {
		l.log.Info("dry run: the target directory does not exist; everything would be created in it")
		return true
	}
	return false
}

var _ Target = (*Local)(nil)

// NewLocal returns a Target that mirrors opts.Source into dir. dir is
// created when missing.
func NewLocal(dir string, opts Options) (*Local, error) {
	opts, err := absSource("local", opts)
	if err != nil {
		return nil, err
	}
	src := opts.Source
	// Errors do not name dir: the caller does ("open target DIR: ...").
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, Fatal(fmt.Errorf("resolve target directory: %w", err))
	}
	// A dry run creates nothing, not even the target directory (rsync -n).
	if _, err := os.Lstat(root); !opts.DryRun || !errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return nil, Fatal(fmt.Errorf("create target directory: %w", pathless(err, root)))
		}
		// The root itself may be a symlink (a mount point, say); only
		// entries below it are never followed.
		if root, err = filepath.EvalSymlinks(root); err != nil {
			return nil, Fatal(fmt.Errorf("resolve target directory: %w", err))
		}
	}
	if s, err := filepath.EvalSymlinks(src); err == nil && s == root {
		return nil, Fatal(errors.New("create local target: the target is the source directory"))
	}
	if err := checkLocalReceiver(opts.Receiver); err != nil {
		return nil, Fatal(fmt.Errorf("create local target: %w", err))
	}
	attrs, err := newAttrPlan(opts.Attrs)
	if err != nil {
		return nil, Fatal(fmt.Errorf("create local target: %w", err))
	}
	return &Local{root: root, src: src, opts: opts, attrs: attrs, log: targetLogger(opts, root), links: make(linkGroups),
		bw: bwlimit.New(opts.Sender.BwLimitKiB())}, nil
}

// String returns the target directory.
func (l *Local) String() string { return l.root }

// Close does nothing: a local target holds no resources.
func (l *Local) Close() error { return nil }

// FullSync makes the target tree equal to the source, skipping files whose
// size and mtime (to the nanosecond) already match, and deleting target
// entries the source lacks when l's delete mode allows it during full syncs.
func (l *Local) FullSync(ctx context.Context) (Stats, error) {
	sfi, err := os.Lstat(l.src)
	if err != nil {
		return Stats{}, Fatal(fmt.Errorf("stat source %s: %w", l.src, pathless(err, l.src)))
	}
	if !sfi.IsDir() {
		return Stats{}, Fatal(fmt.Errorf("sync %s: source is not a directory", l.src))
	}
	if l.dryMissing() {
		return Stats{}, nil
	}
	r, err := l.newRun(ctx, true, l.opts.Delete.Full())
	if err != nil {
		return Stats{}, err
	}
	defer r.close()
	if !r.dry {
		l.links = make(linkGroups) // rebuilt by the walk
	}
	if l.opts.Attrs.HardLinks {
		l.index.reset()
		l.index.scan(l.src, ".", l.opts.Exclude)
	}
	if err := r.syncRoot(true); err != nil {
		return Stats{}, err
	}
	r.finish()
	return r.st, ctx.Err()
}

// syncRoot makes the target root equal to the source root: its own
// attributes and, when recursive, everything below it.
func (r *run) syncRoot(recursive bool) error {
	sfi, err := r.src.Stat()
	if err != nil {
		return Fatal(fmt.Errorf("stat source %s: %w", r.l.src, err))
	}
	tfi, err := os.Lstat(r.l.root)
	if err != nil {
		return Transient(fmt.Errorf("stat target %s: %w", r.l.root, pathless(err, r.l.root)))
	}
	r.syncEntry("", sfi, tfi, recursive)
	return nil
}

// Push applies one batch of changes, see Target. The paths whose
// attributes alone changed follow in a run of their own with the quick
// check (splitAttribOnly): their data is copied only when size or mtime
// differ.
func (l *Local) Push(ctx context.Context, changes []Change) (Stats, error) {
	if l.dryMissing() {
		return Stats{}, nil
	}
	return pushAttribApart(ctx, changes, l.src, l.opts.Attrs.HardLinks, l.push)
}

// push is Push for changes: every file's data compared (changed), or
// with the quick check.
func (l *Local) push(ctx context.Context, changes []Change, changed bool) (Stats, error) {
	if len(changes) == 0 {
		return Stats{}, nil
	}
	r, err := l.newRun(ctx, !changed, l.opts.Delete.Running())
	if err != nil {
		return Stats{}, err
	}
	defer r.close()
	for _, c := range changes {
		if c.Op != change.Move {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if l.opts.Receiver.Backups() {
			// Delete + send, as rsync would, so that the backups of
			// both paths are kept (a rename keeps none).
			r.fallback(strings.TrimSuffix(c.From, "/"), strings.TrimSuffix(c.Path, "/"))
			continue
		}
		r.rename(c)
	}
	var set pathSet
	for _, c := range changes {
		if c.Op != change.Move {
			set.add(strings.TrimSuffix(c.Path, "/"), c.Recursive)
		}
	}
	if l.opts.Attrs.HardLinks && len(set.list) > 0 {
		// Every name of a multiply-linked file in this push, so that
		// they are linked here (hardLinked), as an rsync receiver does.
		l.index.expand(l.src, &set, l.opts.Exclude)
	}
	for _, sp := range set.list {
		p := sp.Name
		if ctx.Err() != nil {
			break
		}
		if p == "." {
			// The root's own attributes (or all of it, recursively).
			if err := r.syncRoot(sp.Recursive); err != nil {
				return r.st, err
			}
			continue
		}
		if err := checkRel(p); err != nil {
			// Before touch: the parent of "a/../../x" lies outside the
			// target, and finish must never set its mode or mtime.
			r.fail(p, fmt.Errorf("refuse path: %w", err))
			continue
		}
		// The parent's mtime changed at the source even when the target
		// needs no change for p itself (a file created and removed again).
		r.touch(p)
		r.syncPath(p, sp.Recursive)
	}
	r.finish()
	return r.st, ctx.Err()
}

// run is the state of one FullSync or Push.
type run struct {
	l *Local
	// src is the source root: every stat, listing and read of the source
	// resolves beneath it without following a symlink.
	src *beneath.Root
	// dst is the target root, for the stats (dstLstat) that must not
	// follow a symlink in any component.
	dst *beneath.Root
	// srcDev is the source root's device, for OneFileSystem.
	srcDev uint64
	ctx    context.Context
	quick  bool // skip files whose size and mtime match
	del    bool // deletes allowed
	dry    bool
	st     Stats
	// dirs holds the target directories (relative, "" = root) whose mode
	// and mtime are set from the source at the end, after their contents
	// changed.
	dirs map[string]struct{}
	// newDirs are the directories this run created (a new one's mode is
	// not kept from the target without perms).
	newDirs map[string]struct{}
	// warned holds the attributes warned about in this run (once each).
	warned map[string]struct{}
	// uids and gids cache --usermap and --groupmap.
	uids, gids map[uint32]uint32
	// linked maps the multiply linked source files mirrored in this run
	// to the target name the others link to (-H).
	linked map[fileKey]string
	// delayed are the files --delay-updates renames into place at the end.
	delayed []delayed
	// pruned caches, per source directory, whether -m prunes it.
	pruned map[string]bool
	// fw follows symlinks under SRC (-L, --copy-unsafe-links, -k; nil
	// without).
	fw *follows
	// kept maps each target symlink -K keeps as a directory to its
	// referent's path beneath the target (keptDirlink); dstReal is the
	// target root's real path, once needed.
	kept    map[string]string
	dstReal string
}

func (l *Local) newRun(ctx context.Context, quick, del bool) (*run, error) {
	src, err := beneath.Open(l.src)
	if err != nil {
		return nil, Transient(fmt.Errorf("open source %s: %w", l.src, pathless(err, l.src)))
	}
	dst, err := beneath.Open(l.root)
	if err != nil {
		src.Close()
		return nil, Transient(fmt.Errorf("open target: %w", err))
	}
	r := &run{
		l: l, src: src, dst: dst, ctx: ctx, quick: quick, del: del, dry: l.opts.DryRun,
		dirs: make(map[string]struct{}), newDirs: make(map[string]struct{}), warned: make(map[string]struct{}),
		uids: make(map[uint32]uint32), gids: make(map[uint32]uint32), linked: make(map[fileKey]string),
		pruned: make(map[string]bool),
	}
	if fi, err := src.Stat(); err == nil {
		r.srcDev, _, _ = beneath.DevIno(fi)
	}
	if err := r.openFollows(); err != nil {
		r.close()
		return nil, Transient(err)
	}
	return r, nil
}

// mountPoint reports whether the source directory sfi is on another file
// system than the source root and OneFileSystem keeps the sync out of it
// (rsync -x, flist.c:make_file FLAG_MOUNT_DIR): it is mirrored as a
// directory, its contents are neither synced nor deleted.
func (r *run) mountPoint(sfi fs.FileInfo) bool {
	if !r.l.opts.OneFileSystem || !sfi.IsDir() {
		return false
	}
	dev, _, ok := beneath.DevIno(sfi)
	return ok && dev != r.srcDev
}

// belowMount reports whether a parent directory of the listed path rel is
// a mount point that OneFileSystem keeps the sync out of.
func (r *run) belowMount(rel string) bool {
	if !r.l.opts.OneFileSystem {
		return false
	}
	for p := range parentDirs(rel) {
		if fi, err := r.srcStat(p); err == nil && r.mountPoint(fi) {
			return true
		}
	}
	return false
}

func (r *run) close() {
	r.src.Close()
	r.dst.Close()
	r.closeFollows()
}

// srcRel names rel for the source root ("" is the root).
func srcRel(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}
func (r *run) dstPath(rel string) string {
	return filepath.Join(r.l.root, filepath.FromSlash(r.dstRel(rel)))
}

func (r *run) fail(rel string, err error) {
	if rel == "" {
		rel = "."
	}
	// Debug only: the failure is in Stats.Failed, which the caller reports
	// (like the other targets' failures).
	r.l.log.Debug("mirror failed", "path", rel, "err", err)
	r.st.Failed = append(r.st.Failed, FileError{Path: rel, Err: err})
}

// touch marks the parent directory of rel for a final mode and mtime update.
func (r *run) touch(rel string) { r.dirs[parentOf(rel)] = struct{}{} }

func parentOf(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

func child(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// checkRel refuses paths that are empty, absolute or not clean, so that a
// joined path can never leave the root.
func checkRel(rel string) error {
	if rel == "" {
		return errors.New("empty path")
	}
	if strings.IndexByte(rel, 0) >= 0 {
		return errors.New("path contains a NUL byte")
	}
	if path.IsAbs(rel) || filepath.IsAbs(rel) {
		return errors.New("absolute path")
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("path component %q not allowed", c)
		}
	}
	return nil
}

// excluded reports whether rel or one of its parent directories is
// excluded (a relative partial dir is, as in rsync).
func (r *run) excluded(rel string, isDir bool) bool {
	return excludedPath(r.l.opts.Exclude, rel, isDir) || r.l.inPartialDir(rel)
}

// prune handles a source directory rel (sfi; target tfi or nil) that -m
// prunes, as if the source lacked it (flist.c: it leaves the file list):
// it is not created, and deleted when deletes are allowed. It reports
// whether rel was pruned.
func (r *run) prune(rel string, sfi, tfi fs.FileInfo) bool {
	if !r.l.opts.Receiver.PruneEmptyDirs || rel == "" || !sfi.IsDir() || r.hasFiles(rel, sfi) {
		return false
	}
	if tfi != nil && r.del {
		if err := r.remove(rel, tfi); err != nil {
			r.fail(rel, err)
		}
		r.touch(rel)
	}
	return true
}

// protected reports whether a target entry the source lacks is kept by
// deletes (Options.Protect, else Options.Exclude), itself or through a
// parent directory.
func (r *run) protected(rel string, isDir bool) bool {
	return excludedPath(r.l.opts.protect(), rel, isDir)
}

// srcLstat stats rel in the source without following a symlink in any of
// its components: a path below a symlink or a file does not exist.
func (r *run) srcLstat(rel string) (fs.FileInfo, error) { return r.src.Lstat(srcRel(rel)) }

// dstLstat stats rel on the target ("" is the root); it reports
// fs.ErrNotExist when a parent component is not a real directory (a
// symlink is never followed).
func (r *run) dstLstat(rel string) (fs.FileInfo, error) { return r.dst.Lstat(r.dstRel(rel)) }

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir)
}

// prepareParents makes every parent component of rel a real directory on the
// target, creating missing ones and replacing symlinks and other non-dirs.
// It reports false when they do not exist (dry run).
func (r *run) prepareParents(rel string) (bool, error) {
	for p := range parentDirs(rel) {
		r.dirs[p] = struct{}{}
		tfi, err := os.Lstat(r.dstPath(p))
		if _, kept := r.keptDirlink(p, tfi); kept && err == nil {
			continue // -K: a symlink to a directory is that directory
		}
		switch {
		case err == nil && tfi.IsDir():
			continue
		case err != nil && !isNotExist(err):
			return false, err
		}
		if r.l.opts.Receiver.Existing {
			return false, nil // --existing creates no directory
		}
		if r.dry {
			r.st.Files++
			return false, nil
		}
		if err == nil {
			// A symlink or file where the source has a directory.
			if err := os.Remove(r.dstPath(p)); err != nil {
				return false, fmt.Errorf("replace %s: %w", p, err)
			}
		}
		sfi, err := r.srcStat(p)
		if err != nil {
			return false, err
		}
		if !sfi.IsDir() {
			return false, fmt.Errorf("source %s: %w", p, errNotDir)
		}
		if err := r.mkdir(p, sfi); err != nil {
			return false, err
		}
		r.touch(p)
	}
	return true, nil
}

// mkdir creates the directory rel with the source's mode. Mode bits that
// would keep us from writing into it are added back by finish. A
// directory that appeared there meanwhile (another sync of the config
// creating its own target inside this one, a process on the target
// machine) is taken as it is, as rsync's generator takes EEXIST
// (generator.c:recv_generator); anything else there is an error.
func (r *run) mkdir(rel string, sfi fs.FileInfo) error {
	p := r.dstPath(rel)
	perm := r.l.attrs.wantMode(sfi, nil).Perm() | 0o700
	created := true
	if err := os.Mkdir(p, perm); err != nil {
		fi, lerr := os.Lstat(p)
		if !errors.Is(err, fs.ErrExist) || lerr != nil || !fi.IsDir() {
			return fmt.Errorf("create directory: %w", err)
		}
		created = false
	}
	r.newDirs[rel] = struct{}{}
	if uid, gid := r.wantOwner(sfi); uid >= 0 || gid >= 0 {
		if err := setOwner(p, uid, gid); err != nil {
			return err
		}
	}
	if created {
		r.st.Files++
	}
	return nil
}

// syncPath makes one listed path equal to the source.
func (r *run) syncPath(rel string, recursive bool) {
	if err := checkRel(rel); err != nil {
		r.fail(rel, fmt.Errorf("refuse path: %w", err))
		return
	}
	if r.belowMount(rel) {
		return // another file system (OneFileSystem): left alone
	}
	sfi, err := r.srcStat(rel)
	if err != nil {
		if isNotExist(err) {
			r.deletePath(rel)
			return
		}
		r.fail(rel, fmt.Errorf("stat source: %w", err))
		return
	}
	if r.excluded(rel, sfi.IsDir()) {
		return
	}
	if r.fw != nil && sfi.IsDir() && r.fw.real[rel] != "" {
		// A listed link followed to a directory (a new link, in a live
		// batch) brings its whole referent.
		recursive = true
	}
	if r.l.opts.Receiver.PruneEmptyDirs && sfi.IsDir() {
		tfi, err := r.dstLstat(rel)
		if err != nil {
			tfi = nil
		}
		if r.prune(rel, sfi, tfi) {
			return
		}
	}
	ok, err := r.prepareParents(rel)
	if err != nil {
		r.fail(rel, fmt.Errorf("create parent directories: %w", err))
		return
	}
	var tfi fs.FileInfo
	if ok {
		tfi, err = os.Lstat(r.dstPath(rel))
		if err != nil && !isNotExist(err) {
			r.fail(rel, fmt.Errorf("stat target: %w", err))
			return
		}
	}
	r.syncEntry(rel, sfi, tfi, recursive)
}

// syncEntry makes the target entry rel (described by tfi, nil when absent)
// equal to the source entry sfi. Its parent is a real directory.
func (r *run) syncEntry(rel string, sfi, tfi fs.FileInfo, recursive bool) {
	if err := r.ctx.Err(); err != nil {
		return
	}
	if r.l.attrs.skip(sfi.Mode()) {
		// generator.c:recv_generator: listed, so not deleted, but not sent.
		r.l.log.Debug("skipping non-regular file", "path", srcRel(rel))
		return
	}
	if rel != "" && r.skipByReceiver(sfi, tfi) {
		r.l.log.Debug("skipped by a receiver option", "path", rel)
		return
	}
	var err error
	switch m := sfi.Mode(); {
	case m.IsDir():
		err = r.syncDir(rel, sfi, tfi, recursive)
	case m.IsRegular():
		if r.l.opts.Sender.SkipSize(sfi.Size()) {
			// generator.c:recv_generator: --max-size / --min-size skip
			// the file; the target keeps what it has.
			r.l.log.Debug("skipping a file outside --max-size/--min-size", "path", srcRel(rel), "size", sfi.Size())
			return
		}
		appendSkip := r.appendSkips(sfi, tfi)
		if k, ok := r.hardLinked(sfi); ok && !appendSkip {
			err = r.syncLinked(rel, k, sfi, tfi)
			break
		}
		switch {
		case r.unchanged(rel, sfi, tfi):
			err = r.fixAttrs(rel, sfi, tfi)
		case appendSkip:
			r.l.log.Debug("skipped by --append: the target file is as long", "path", srcRel(rel))
			return
		default:
			err = r.copyFile(rel, sfi, tfi)
		}
	case m.Type() == fs.ModeSymlink:
		err = r.syncSymlink(rel, sfi, tfi)
	default:
		err = r.syncSpecial(rel, sfi, tfi)
	}
	switch {
	case errors.Is(err, errSkipped):
	case err != nil:
		r.fail(rel, err)
	case !sfi.IsDir() && r.l.opts.Sender.RemoveSourceFiles && !r.dry:
		// generator.c: every non-directory the receiver has now, sent
		// or up to date, is confirmed; the sender removes it.
		r.removeSource(rel, sfi)
	}
}

// errSkipped is a listed entry the target leaves alone on purpose
// (--safe-links): not a failure, and not confirmed either.
var errSkipped = errors.New("skipped")

// removeSource removes the source file rel, which the target now has,
// when it still is the file lstat'ed as sfi with the same size and mtime
// (--remove-source-files, sender.c:successful_send).
func (r *run) removeSource(rel string, sfi fs.FileInfo) {
	if r.realOf(rel) != "" {
		// Reached through a followed symlink (-L, ...): see
		// rsyncproto's removeConfirmed.
		r.l.log.Warn("skipping the removal of a source file reached through a followed symlink", "path", rel)
		return
	}
	err := r.src.RemoveFile(rel, func(fi fs.FileInfo) bool {
		return sameFile(sfi, fi) && fi.Size() == sfi.Size() && fi.ModTime().Equal(sfi.ModTime())
	})
	switch {
	case err == nil:
		r.st.Removed = append(r.st.Removed, rel)
	case errors.Is(err, beneath.ErrChanged):
		r.l.log.Warn("skipping the removal of a source file that changed", "path", srcRel(rel))
	default:
		r.l.log.Warn("cannot remove a source file", "path", srcRel(rel), "err", err)
	}
}

// unchanged reports whether the target file tfi needs no data: with -c
// when its content equals the source's (generator.c:quick_check_ok: the
// checksum decides, in full syncs and batches alike), else in full syncs
// when size and mtime match.
func (r *run) unchanged(rel string, sfi, tfi fs.FileInfo) bool {
	if tfi == nil || !tfi.Mode().IsRegular() || tfi.Size() != sfi.Size() {
		return false
	}
	if rv := &r.l.opts.Receiver; r.l.opts.Sender.Checksum || !r.quick && (rv.Backups() || rv.Append > 0) {
		// -c compares content; so does a batch with backups or --append
		// (as the rsync targets' -c does): a second push of a file must
		// not make its new content the backup, and a file whose
		// attributes alone changed must have them set, not be skipped
		// by --append.
		same, err := r.sameContent(rel, sfi)
		if err != nil {
			r.l.log.Debug("compare content", "path", srcRel(rel), "err", err)
		}
		return same
	}
	return r.quick && tfi.ModTime().Equal(sfi.ModTime())
}

// sameContent compares the source file rel (lstat'ed as sfi) with its
// target, both opened beneath their roots without following a symlink.
func (r *run) sameContent(rel string, sfi fs.FileInfo) (bool, error) {
	sf, cur, err := r.openSrcFile(rel)
	if err != nil {
		return false, fmt.Errorf("open source: %w", err)
	}
	defer sf.Close()
	if !sameFile(sfi, cur) {
		return false, nil
	}
	tf, _, err := r.dst.OpenFile(r.dstRel(rel))
	if err != nil {
		return false, fmt.Errorf("open target: %w", err)
	}
	defer tf.Close()
	a, b := make([]byte, 64*1024), make([]byte, 64*1024)
	for {
		if err := r.ctx.Err(); err != nil {
			return false, err
		}
		n, errA := io.ReadFull(sf, a)
		m, errB := io.ReadFull(tf, b)
		if n != m || !bytes.Equal(a[:n], b[:m]) {
			return false, nil
		}
		endA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		endB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		switch {
		case endA && endB:
			return true, nil
		case errA != nil && !endA:
			return false, fmt.Errorf("read source: %w", errA)
		case errB != nil && !endB:
			return false, fmt.Errorf("read target: %w", errB)
		case endA != endB:
			return false, nil
		}
	}
}

// fixAttrs brings owner, xattrs, mode and mtime of an existing
// non-directory target entry in line with the source.
func (r *run) fixAttrs(rel string, sfi, tfi fs.FileInfo) error {
	changed, err := r.applyAttrs(rel, r.dstPath(rel), sfi, tfi, tfi)
	if changed {
		r.st.Files++
	}
	return err
}

// applyAttrs gives the target entry p (of the source entry rel, sfi) the
// attributes that the options keep (rsync.c:set_file_attrs): owner and
// group, xattrs and ACLs, mode, mtime, and reports whether one changed.
// cur is p's lstat; base is the target entry whose mode --no-perms keeps
// (nil for a new entry). In a dry run nothing is changed.
func (r *run) applyAttrs(rel, p string, sfi, cur, base fs.FileInfo) (bool, error) {
	a := r.l.attrs
	changed := false
	uid, gid := r.wantOwner(sfi)
	if ownerDiffers(cur, uid, gid) {
		changed = true
		if !r.dry {
			if err := setOwner(p, uid, gid); err != nil {
				return changed, err
			}
		}
	}
	isLink := sfi.Mode().Type() == fs.ModeSymlink
	if a.xattrsKept() && !r.dry {
		xchanged, err := r.copyXattrs(rel, p, sfi)
		changed = changed || xchanged
		if err != nil {
			return changed, err
		}
	}
	if m := a.wantMode(sfi, base); !isLink && (changed || m&permBits != cur.Mode()&permBits) {
		changed = true
		if !r.dry {
			if err := os.Chmod(p, m&permBits); err != nil {
				return changed, fmt.Errorf("set mode: %w", err)
			}
		}
	}
	if !a.NoTimes && !r.mtimeOmitted(sfi) && !r.isKept(rel) && !sfi.ModTime().Equal(cur.ModTime()) {
		changed = true
		if !r.dry {
			if err := setMtime(p, sfi.ModTime()); err != nil {
				return changed, err
			}
		}
	}
	return changed, nil
}

// copyXattrs makes the mirrored xattrs (and ACLs) of p those of the
// source entry rel; what the target cannot keep is a warning.
func (r *run) copyXattrs(rel, p string, sfi fs.FileInfo) (bool, error) {
	want, err := r.srcXattrs(rel, sfi)
	if err != nil {
		return false, r.attrWarn(rel, err)
	}
	changed, err := setXattrs(p, want, r.xattrsOwned(rel))
	return changed, r.attrWarn(rel, err)
}

func (r *run) syncDir(rel string, sfi, tfi fs.FileInfo, recursive bool) error {
	r.dirs[rel] = struct{}{}
	r.sawDir(rel, sfi)
	if kfi, kept := r.keptDirlink(rel, tfi); kept {
		tfi = kfi // -K
	}
	exists := tfi != nil && tfi.IsDir()
	if tfi != nil && !exists {
		if err := r.remove(rel, tfi); err != nil {
			return err
		}
	}
	if !exists {
		r.touch(rel)
		if r.dry {
			r.st.Files++
		} else if err := r.mkdir(rel, sfi); err != nil {
			return err
		}
	} else if uid, gid := r.wantOwner(sfi); ownerDiffers(tfi, uid, gid) || r.l.attrs.wantMode(sfi, tfi) != tfi.Mode() {
		r.st.Files++ // mode and owner are set by finish
	}
	if !recursive || rel != "" && r.mountPoint(sfi) {
		return nil
	}
	names, infos, err := r.readSource(rel, sfi)
	if err != nil {
		if isNotExist(err) {
			return nil // gone or replaced since its lstat: the next event sends it
		}
		return err
	}
	if exists && r.del {
		r.deleteExtras(rel, r.listedNames(rel, names, infos))
	}
	for i, name := range names {
		if r.ctx.Err() != nil {
			return nil
		}
		c := child(rel, name)
		cfi, err := infos[i].fi, infos[i].err
		if err != nil {
			if !isNotExist(err) { // vanished meanwhile: nothing to send
				r.fail(c, fmt.Errorf("stat source: %w", err))
			}
			continue
		}
		if r.excluded(c, cfi.IsDir()) {
			continue
		}
		var ctfi fs.FileInfo
		if exists {
			ctfi, err = os.Lstat(r.dstPath(c))
			if err != nil && !isNotExist(err) {
				r.fail(c, fmt.Errorf("stat target: %w", err))
				continue
			}
		}
		if r.prune(c, cfi, ctfi) {
			continue
		}
		r.syncEntry(c, cfi, ctfi, true)
	}
	return nil
}

// lstatResult is the lstat of one directory entry.
type lstatResult struct {
	fi  fs.FileInfo
	err error
}

// readSource lists the source directory rel, which was stat'ed as sfi,
// and lstats its entries, all relative to one open descriptor of it (no
// full path is resolved again): a directory swapped for a symlink lists
// nothing from the link's target. The descriptor is closed before the
// entries are synced, so that a deep tree does not hold one per level.
func (r *run) readSource(rel string, sfi fs.FileInfo) ([]string, []lstatResult, error) {
	d, dirReal, err := r.openSrcDir(rel)
	if err != nil {
		return nil, nil, fmt.Errorf("open source directory: %w", err)
	}
	defer d.Close()
	dfi, err := d.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat source directory: %w", err)
	}
	if !sameFile(sfi, dfi) {
		return nil, nil, fmt.Errorf("open source directory: %w (replaced since its lstat)", fs.ErrNotExist)
	}
	names, err := d.ReadNames()
	if err != nil {
		return nil, nil, err
	}
	infos := make([]lstatResult, len(names))
	for i, n := range names {
		infos[i].fi, infos[i].err = d.Lstat(n)
		if infos[i].err == nil && r.fw != nil {
			// -L, --copy-unsafe-links, -k: a followed link is listed
			// as its referent (flist.c:readlink_stat).
			infos[i].fi, infos[i].err = r.follow(child(rel, n), infos[i].fi, dirReal, func() (string, error) { return d.Readlink(n) })
		}
	}
	return names, infos, nil
}

// sameFile reports whether two stats of the source name the same file:
// same device, inode and type.
func sameFile(a, b fs.FileInfo) bool {
	da, ia, ok := beneath.DevIno(a)
	db, ib, ok2 := beneath.DevIno(b)
	return ok && ok2 && da == db && ia == ib && a.Mode().Type() == b.Mode().Type()
}

// deleter is the shared exclude-keeping deleter on the target directory.
func (r *run) deleter() *deleter {
	d := &deleter{fsys: localFS{r}, ex: r.l.opts.protect(), inside: r.l.opts.ProtectInside, hidden: r.l.opts.hidden(),
		dry: r.dry, st: &r.st, removed: r.touch, fail: r.fail, log: r.l.log}
	if r.l.opts.Sender.DeleteExcluded {
		// --delete-excluded: excluded entries go too (listedNames), only
		// the receiver's rules (Protect: P, R, r) keep entries.
		d.hidden = nil
		if r.l.opts.Protect == nil {
			d.ex, d.inside = nil, nil
		}
	}
	also := func(keep func(rel string) bool) {
		for _, f := range []*func(rel string, isDir bool) bool{&d.ex, &d.inside} {
			ex := *f
			if ex == nil && f == &d.inside {
				continue // d.ex decides, with keep
			}
			*f = func(rel string, isDir bool) bool { return keep(rel) || ex != nil && ex(rel, isDir) }
		}
	}
	if r.l.opts.Receiver.Backups() {
		// delete.c:delete_item: a deleted non-directory is kept as a
		// backup, and backups next to their files are never deleted.
		d.backup = func(rel string, fi fs.FileInfo) error { return r.backup(rel, fi, bakRename) }
		also(r.l.protectedBackup)
	}
	if partialDirOf(r.l.opts.Receiver) != "" {
		also(r.l.inPartialDir)
	}
	return d
}

// listedNames are the source names of directory rel that the target
// keeps: with --delete-excluded the excluded ones count as absent, as
// they are not in rsync's file list.
func (r *run) listedNames(rel string, names []string, infos []lstatResult) []string {
	if !r.l.opts.Sender.DeleteExcluded || r.l.opts.Exclude == nil {
		return names
	}
	out := make([]string, 0, len(names))
	for i, name := range names {
		if infos[i].err == nil && r.excluded(child(rel, name), infos[i].fi.IsDir()) {
			continue
		}
		out = append(out, name)
	}
	return out
}

// deleteExtras removes the entries of the target directory rel that are not
// in the sorted source names, except excluded ones.
func (r *run) deleteExtras(rel string, names []string) {
	r.deleter().deleteExtras(rel, func(n string) bool {
		_, found := slices.BinarySearch(names, n)
		return found
	})
}

// deletePath deletes a listed path that no longer exists at the source.
func (r *run) deletePath(rel string) {
	if !r.del {
		return
	}
	r.deleter().deletePath(rel)
	for p := parentOf(rel); ; p = parentOf(p) {
		r.dirs[p] = struct{}{}
		if p == "" {
			break
		}
	}
}

// remove deletes the target entry rel and, for a directory, its subtree,
// keeping excluded entries (a directory holding one stays: an error).
func (r *run) remove(rel string, tfi fs.FileInfo) error { return r.deleter().removeTree(rel, tfi) }

// place renames the finished temporary entry tmp over the target entry rel,
// deleting a directory that is in the way first.
func (r *run) place(tmp, rel string, tfi fs.FileInfo) error {
	if tfi != nil && tfi.IsDir() {
		if r.l.opts.HoldDeletes && !dirEmpty(r.dstPath(rel)) {
			os.Remove(tmp)
			return fmt.Errorf("could not make way for the new entry: the target has a non-empty directory there, and deletions are held back (--max-delete)")
		}
		if err := r.remove(rel, tfi); err != nil {
			os.Remove(tmp)
			return err
		}
	} else if tfi != nil && r.l.opts.Receiver.Backups() {
		// rsync.c:finish_transfer and generator.c:atomic_create: the
		// replaced entry is kept first.
		if err := r.backup(rel, tfi, bakLink); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, r.dstPath(rel)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename into place: %w", err)
	}
	r.touch(rel)
	r.st.Files++
	return nil
}

// copyFile copies the source file rel, which was lstat'ed as listed, to
// a temporary file next to its target, sets its attributes and renames it
// into place. The source is opened beneath the source root without
// following a symlink in any component, with O_NONBLOCK (a FIFO or device
// swapped in never blocks), and must still be the file that was lstat'ed:
// a regular file with the same device and inode.
func (r *run) copyFile(rel string, listed, tfi fs.FileInfo) error {
	f, sfi, err := r.openSrcFile(rel)
	if err != nil {
		if errors.Is(err, beneath.ErrNotRegular) {
			return fmt.Errorf("open source: no longer a regular file")
		}
		return fmt.Errorf("open source: %w", err)
	}
	defer f.Close()
	if !sameFile(listed, sfi) {
		return fmt.Errorf("open source: %w (replaced since its lstat)", fs.ErrNotExist)
	}
	if r.dry {
		r.st.Files++
		r.st.Bytes += sfi.Size()
		return nil
	}
	if r.l.opts.Receiver.InplaceWrites() && tfi != nil && tfi.Mode().IsRegular() {
		n, err := r.writeInplace(rel, f, sfi, tfi)
		if err == nil {
			err = r.setAttrs(rel, r.dstPath(rel), sfi, tfi)
		}
		if err != nil {
			return err
		}
		r.touch(rel)
		r.st.Files++
		r.st.Bytes += n
		if p := r.l.opts.Progress; p != nil {
			p(rel, n)
		}
		return nil
	}
	tmp, err := os.CreateTemp(r.tempDir(rel), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	var n int64
	var from io.Reader = f
	if keepsPartial(r.l.opts.Receiver) {
		from = ctxReader{r.ctx, f} // an interrupted copy is kept
	}
	from = r.l.bw.Reader(from) // --bwlimit
	if r.l.attrs.Sparse {
		n, err = copySparse(tmp, from)
	} else {
		n, err = io.Copy(tmp, from)
	}
	if err == nil && r.l.opts.Receiver.Fsync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.keepPartial(rel, tmp.Name(), n)
	} else {
		err = r.setAttrs(rel, tmp.Name(), sfi, tfi)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("copy: %w", err)
	}
	name, err := r.nextToTarget(tmp.Name(), rel, sfi, tfi)
	if err != nil {
		return err
	}
	if r.l.opts.Receiver.DelayUpdates {
		if err := r.delay(name, rel); err != nil {
			return err
		}
	} else {
		if err := r.place(name, rel, tfi); err != nil {
			return err
		}
		r.dropPartial(rel)
	}
	r.st.Bytes += n
	if p := r.l.opts.Progress; p != nil {
		p(rel, n)
	}
	return nil
}

// setAttrs gives a new non-directory entry p, which is to replace the
// target entry rel (tfi, nil when absent), the attributes of the source
// entry sfi. The mtime is the one seen when the copy began: a file that
// changed while it was read is sent again by the next full sync.
func (r *run) setAttrs(rel, p string, sfi, tfi fs.FileInfo) error {
	cur, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("stat new entry: %w", err)
	}
	var base fs.FileInfo
	if tfi != nil && !tfi.IsDir() {
		base = tfi
	}
	_, err = r.applyAttrs(rel, p, sfi, cur, base)
	return err
}

func (r *run) syncSymlink(rel string, sfi, tfi fs.FileInfo) error {
	target, err := r.srcReadlink(rel)
	if err != nil {
		return fmt.Errorf("read source link: %w", err)
	}
	if r.l.opts.Sender.SafeLinks && beneath.UnsafeSymlink(target, rel) {
		// generator.c:recv_generator: --safe-links ignores it (and, as
		// it was listed, does not delete what the target has).
		r.l.log.Info("ignoring unsafe symlink", "path", srcRel(rel), "target", target)
		return errSkipped
	}
	if tfi != nil && tfi.Mode().Type() == fs.ModeSymlink {
		if cur, err := os.Readlink(r.dstPath(rel)); err == nil && cur == target {
			return r.fixAttrs(rel, sfi, tfi)
		}
	}
	if r.dry {
		r.st.Files++
		return nil
	}
	tmp, err := r.tmpName(rel)
	if err != nil {
		return err
	}
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("create symlink: %w", err)
	}
	if err := r.setAttrs(rel, tmp, sfi, tfi); err != nil {
		os.Remove(tmp)
		return err
	}
	return r.place(tmp, rel, tfi)
}

func (r *run) syncSpecial(rel string, sfi, tfi fs.FileInfo) error {
	if tfi != nil && tfi.Mode().Type() == sfi.Mode().Type() && sameDevice(sfi, tfi) {
		return r.fixAttrs(rel, sfi, tfi)
	}
	if r.dry {
		r.st.Files++
		return nil
	}
	tmp, err := r.tmpName(rel)
	if err != nil {
		return err
	}
	if err := mknod(tmp, sfi); err != nil {
		return err
	}
	if err := r.setAttrs(rel, tmp, sfi, tfi); err != nil {
		os.Remove(tmp)
		return err
	}
	return r.place(tmp, rel, tfi)
}

// tmpName returns an unused temporary name next to the target entry rel.
func (r *run) tmpName(rel string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(r.dstPath(rel)), tmpPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("create temporary name: %w", err)
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return "", fmt.Errorf("create temporary name: %w", err)
	}
	return f.Name(), nil
}

// rename applies one Rename change (planRename), falling back to a
// transfer of the destination and a delete of the source path.
func (r *run) rename(c Change) {
	p, ferr, _ := planRename(c, r.l.opts.Exclude, localFS{r}, r.dry, r.l.log)
	switch {
	case ferr != nil:
		r.fail(ferr.Path, ferr.Err)
	case p.fallback:
		r.fallback(p.from, p.to)
	case p.renamed:
		r.st.Renamed++
		if r.dry {
			return
		}
		r.touch(p.from)
		r.touch(p.to)
		if p.isDir {
			r.dirs[p.to] = struct{}{} // a moved directory's ".." changed
		}
	}
}

// localFS is the target directory as a treeFS.
type localFS struct{ r *run }

func (f localFS) lstat(rel string) (fs.FileInfo, error) { return f.r.dstLstat(rel) }
func (f localFS) broken(error) bool                     { return false }

func (f localFS) readDir(rel string) ([]fs.FileInfo, error) {
	d, err := f.r.dst.OpenDir(srcRel(f.r.dstRel(rel)))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.ReadNames()
	if err != nil {
		return nil, err
	}
	infos := make([]fs.FileInfo, 0, len(names))
	for _, n := range names {
		fi, err := d.Lstat(n)
		if err != nil {
			if isNotExist(err) {
				continue
			}
			return nil, err
		}
		infos = append(infos, fi)
	}
	return infos, nil
}

func (f localFS) remove(rel string, _ bool) error {
	if err := os.Remove(f.r.dstPath(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (f localFS) mkdirParents(rel string) error {
	_, err := f.r.prepareParents(rel) // never a dry run here
	return err
}

func (f localFS) rename(from, to string) error {
	return os.Rename(f.r.dstPath(from), f.r.dstPath(to))
}

// fallback makes both paths of a failed rename equal to the source.
func (r *run) fallback(from, to string) {
	r.syncPath(to, true)
	r.syncPath(from, true)
}

// finish sets mode, owner and mtime of every directory whose contents
// changed, deepest first, so that later changes cannot disturb them.
func (r *run) finish() {
	r.finishDelayed()
	dirs := make([]string, 0, len(r.dirs))
	for d := range r.dirs {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		di, dj := strings.Count(dirs[i], "/"), strings.Count(dirs[j], "/")
		if dirs[i] == "" || dirs[j] == "" {
			return dirs[j] == "" && dirs[i] != ""
		}
		if di != dj {
			return di > dj
		}
		return dirs[i] < dirs[j]
	})
	if r.dry {
		return
	}
	for _, d := range dirs {
		if d != "" && checkRel(d) != nil {
			continue // never outside the root
		}
		sfi, err := r.srcStat(d)
		if err != nil || !sfi.IsDir() {
			continue
		}
		tfi, err := r.dstLstat(d)
		if err != nil || !tfi.IsDir() {
			continue
		}
		base := tfi
		if _, isNew := r.newDirs[d]; isNew {
			base = nil
		}
		if _, err := r.applyAttrs(d, r.dstPath(d), sfi, tfi, base); err != nil {
			r.fail(d, err)
		}
	}
}

// mtimeOmitted reports whether the receiver options leave the mtime of
// entries like sfi alone (rsync.c:set_file_attrs: -O, -J; -b without
// --backup-dir implies -O).
func (r *run) mtimeOmitted(sfi fs.FileInfo) bool {
	rv := &r.l.opts.Receiver
	switch {
	case sfi.IsDir():
		return rv.DirTimesOmitted()
	case sfi.Mode().Type() == fs.ModeSymlink:
		return rv.OmitLinkTimes
	}
	return false
}

// dirEmpty reports whether the directory p holds nothing (false when it
// cannot be read).
func dirEmpty(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) == 0 && errors.Is(err, io.EOF)
}
