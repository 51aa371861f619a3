package rsyncproto

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/gsync/gsync/internal/beneath"
)

// fillPortable fills e from fs.FileInfo alone (no owner, device or inode).
func fillPortable(e *entry, fi fs.FileInfo) {
	e.mode = StMode(fi.Mode())
	e.size = fi.Size()
	e.mtime = fi.ModTime().Unix()
	e.nsec = int32(fi.ModTime().Nanosecond())
}

// StMode is the st_mode of m as it travels on the wire (rsync.h,
// to_wire_mode): the type bits, the permissions and setuid, setgid and
// sticky. A type Go does not name is a regular file.
func StMode(m fs.FileMode) uint32 {
	mode := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	switch {
	case m.IsDir():
		mode |= sIFDIR
	case m&fs.ModeSymlink != 0:
		mode |= sIFLNK
	case m&fs.ModeNamedPipe != 0:
		mode |= sIFIFO
	case m&fs.ModeSocket != 0:
		mode |= sIFSOCK
	case m&fs.ModeCharDevice != 0:
		mode |= sIFCHR
	case m&fs.ModeDevice != 0:
		mode |= sIFBLK
	default:
		mode |= sIFREG
	}
	return mode
}

// fileList is the sender's view of one push: the sorted entries, the listed
// paths that no longer exist at the source, and listing errors.
type fileList struct {
	list    []*entry
	missing []string // listed paths absent at the source (to delete)
	scoped  []Path   // listed paths that exist and are recursive dirs
	// replacing lists listed paths that exist as non-directories: the
	// receiver may hold a directory there, whose contents it must be
	// allowed to delete to make way.
	replacing []string
	scopeAll  bool // "." recursive: everything below the root is in scope
	ioError   int32
	failed    []FileError
	warnings  []string
	// localErr: a failure the receiver is not told about (ErrNameTooLong),
	// so that its deletions go on; the push still exits 23.
	localErr bool
	// root is the source root the list was built beneath; the sender
	// opens file data through it.
	root *beneath.Root
	// attrs reads ACLs and xattrs beneath root (-A, -X; nil without):
	// the sender re-reads long xattr values the receiver asks for.
	attrs *attrReader
	// links resolves and opens the referents of followed symlinks (-L,
	// --copy-unsafe-links, -k; nil without); rootReal is the root's
	// real path, the directory of its links.
	links    *beneath.Links
	rootReal string
	// deferred: only the root is open; the entries are listed after the
	// protocol setup, incrementally when the receiver agreed to
	// (incSender), else all at once (session.push).
	deferred bool
}

// close releases the source root.
func (fl *fileList) close() {
	fl.attrs.close()
	fl.attrs = nil
	if fl.links != nil {
		fl.links.Close()
		fl.links = nil
	}
	if fl.root != nil {
		fl.root.Close()
		fl.root = nil
	}
}

// cleanName validates and cleans a path relative to the root.
func cleanName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("path %q: must be relative to the root", name)
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("path %q: climbs out of the root", name)
	}
	return c, nil
}

// maxPathLen is MAXPATHLEN: a receiver aborts the whole session on a
// file-list name of this length or more (flist.c:receive_file_entry,
// "overflow"), so longer names are never listed.
const maxPathLen = 4096

// ErrNameTooLong: a path below the source root is 4096 bytes or longer,
// which the rsync protocol cannot carry. It and everything below it are
// left out of the file list, reported once, without an I/O error on the
// wire: the receiver's deletions go on.
var ErrNameTooLong = errors.New("path too long for the rsync protocol (4096 bytes or more)")

type listBuilder struct {
	ctx      context.Context
	root     *beneath.Root
	rootDev  uint64 // the root's device, for OneFileSystem
	opts     *Options
	byName   map[string]*entry
	fl       *fileList
	contents map[string]bool // dirs that must be content dirs
	tick     func()          // called per entry: local work counts as activity
	// parents caches open parent directories of listed paths: a batch
	// names many paths in few directories, and a lookup relative to an
	// open directory is one system call.
	parents map[string]*beneath.Dir
	// attrJobs, while the list is built with -A or -X, takes every entry
	// put in the list to the workers that read its ACLs and xattrs
	// (startAttrs); nil otherwise.
	attrJobs chan *entry
	attrWG   sync.WaitGroup
	// dirIDs holds the device and inode of every listed directory while
	// symlinks are followed, for the loop check (nil otherwise).
	dirIDs map[string]hardLinkOf
	// stat holds the lstat of the entry dirEntry is making.
	stat beneath.StatBuf
}

// maxParents bounds the open directories the parents cache holds.
const maxParents = 64

func newListBuilder(ctx context.Context, root *beneath.Root, opts *Options, tick func()) *listBuilder {
	b := &listBuilder{ctx: ctx, tick: tick, root: root, opts: opts,
		byName: map[string]*entry{}, fl: &fileList{root: root}, contents: map[string]bool{},
		parents: map[string]*beneath.Dir{}}
	if opts.followsLinks() {
		b.dirIDs = map[string]hardLinkOf{}
	}
	return b
}

// openLinks opens what following symlinks needs, when the options ask
// for it (Options.CopyLinks, CopyUnsafeLinks, CopyDirlinks).
func (fl *fileList) openLinks(o *Options) error {
	if !o.followsLinks() || fl.links != nil {
		return nil
	}
	real, err := beneath.RealPath(fl.root.Name())
	if err != nil {
		return fmt.Errorf("follow symlinks: %w", err)
	}
	l, err := beneath.OpenLinks(beneath.Follow{All: o.CopyLinks, Unsafe: o.CopyUnsafeLinks, Dirs: o.CopyDirlinks})
	if err != nil {
		return err
	}
	fl.links, fl.rootReal = l, real
	return nil
}

// realOf is the real path of the listed directory dir when it was
// reached through a followed symlink, else "".
func (b *listBuilder) realOf(dir string) string {
	if b.fl.links == nil || dir == "." {
		return ""
	}
	if e := b.byName[dir]; e != nil {
		return e.realPath()
	}
	return ""
}

// parent returns the open directory dir, from the cache when it is there.
func (b *listBuilder) parent(dir string) (*beneath.Dir, error) {
	if d, ok := b.parents[dir]; ok {
		return d, nil
	}
	var d *beneath.Dir
	var err error
	if real := b.realOf(dir); real != "" {
		d, err = b.fl.links.SearchDir(real)
	} else {
		d, err = b.root.SearchDir(dir)
	}
	if err != nil {
		return nil, err
	}
	if len(b.parents) >= maxParents {
		b.closeParents()
	}
	b.parents[dir] = d
	return d, nil
}

func (b *listBuilder) closeParents() {
	for k, d := range b.parents {
		d.Close()
		delete(b.parents, k)
	}
}

// lstatRel returns the attributes of the listed path name, resolved
// beneath the root through its open parent, and its parent.
func (b *listBuilder) lstatRel(name string) (fs.FileInfo, *beneath.Dir, string, error) {
	if name == "." {
		fi, err := b.root.Stat()
		return fi, nil, name, err
	}
	d, err := b.parent(parentName(name))
	if err != nil {
		return nil, nil, "", err
	}
	base := name[strings.LastIndexByte(name, '/')+1:]
	fi, err := d.Lstat(base)
	return fi, d, base, err
}

// buildFileList walks the request (flist.c:send_file_list in spirit): every
// listed path, its parent directories (not recursively) and, for recursive
// paths, the whole subtree. Every path resolves beneath req.Root without
// following a symlink (internal/beneath); the returned list keeps the root
// open for the sender: close it with fileList.close.
func buildFileList(ctx context.Context, req *Request, tick func()) (*fileList, error) {
	if len(req.Paths) == 0 {
		return nil, errors.New("no paths to send")
	}
	root, err := beneath.Open(req.Root)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", req.Root, err)
	}
	fl, err := buildWithRoot(ctx, root, req, tick)
	if err != nil {
		root.Close()
		return nil, err
	}
	return fl, nil
}

// openDeferred opens the root of a whole-tree push whose file list is
// built after the protocol setup (fileList.deferred).
func openDeferred(req *Request) (*fileList, error) {
	root, err := beneath.Open(req.Root)
	if err != nil {
		return nil, fmt.Errorf("build file list: open root %s: %w", req.Root, err)
	}
	if _, err := root.Stat(); err != nil {
		root.Close()
		return nil, fmt.Errorf("build file list: stat root %s: %w", req.Root, err)
	}
	fl := &fileList{root: root, deferred: true, scopeAll: true,
		scoped: []Path{{Name: ".", Recursive: true}}}
	if err := fl.openLinks(&req.Options); err != nil {
		root.Close()
		return nil, err
	}
	if req.Options.ACLs || req.Options.XAttrs {
		a, err := openAttrReader(root)
		if err != nil {
			root.Close()
			return nil, err
		}
		a.links = fl.links
		fl.attrs = a
	}
	return fl, nil
}

func buildWithRoot(ctx context.Context, root *beneath.Root, req *Request, tick func()) (*fileList, error) {
	b := newListBuilder(ctx, root, &req.Options, tick)
	defer b.closeParents()
	if err := b.fl.openLinks(&req.Options); err != nil {
		return nil, err
	}
	if req.Options.ACLs || req.Options.XAttrs {
		a, err := openAttrReader(root)
		if err != nil {
			b.fl.close()
			return nil, err
		}
		a.links = b.fl.links
		b.fl.attrs = a
	}
	fl, err := b.build(req)
	if err != nil {
		b.fl.attrs.close()
		if b.fl.links != nil {
			b.fl.links.Close()
		}
		return nil, err
	}
	return fl, nil
}

// build lists the root and every requested path.
func (b *listBuilder) build(req *Request) (*fileList, error) {
	ctx := b.ctx
	if b.fl.attrs != nil {
		b.startAttrs()
		defer b.stopAttrs()
	}
	if err := b.add("."); err != nil {
		return nil, err
	}
	b.rootDev = b.byName["."].dev
	for _, p := range req.Paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, err := cleanName(p.Name)
		if err != nil {
			return nil, err
		}
		if err := b.addPath(name, p.Recursive); err != nil {
			return nil, err
		}
	}
	if err := b.readAttrs(); err != nil {
		return nil, err
	}
	b.finish()
	return b.fl, nil
}

// startAttrs starts the workers that read the ACLs and xattrs of the
// entries as the walk lists them (-A, -X; flist.c:send_file_name,
// get_acl and get_xattr): the reads are system calls, one entry
// independent of the next, so they run beside the walk instead of after
// it, while the receiver waits for the file list. A worker writes only
// the entries it takes; stopAttrs ends them all.
func (b *listBuilder) startAttrs() {
	jobs := make(chan *entry, 1024)
	b.attrJobs = jobs
	for range attrWorkers {
		b.attrWG.Go(func() {
			for e := range jobs {
				if b.tick != nil {
					b.tick()
				}
				if b.ctx.Err() == nil {
					e.setAttrErr(b.fl.attrs.readEntry(e, b.opts))
				}
			}
		})
	}
}

// stopAttrs waits for the attribute workers; it may be called again.
func (b *listBuilder) stopAttrs() {
	if b.attrJobs != nil {
		close(b.attrJobs)
		b.attrJobs = nil
	}
	b.attrWG.Wait()
}

// attrWorkers is how many goroutines read ACLs and xattrs at once.
const attrWorkers = 4

// readAttrs waits for the attribute reads and leaves out every entry
// whose attributes could not be read, as rsync does (a general I/O
// error; vanished when it is gone or was replaced); finish then leaves
// out what lay below a directory left out. The root's must be readable.
func (b *listBuilder) readAttrs() error {
	if b.fl.attrs == nil {
		return nil
	}
	b.stopAttrs()
	if err := b.ctx.Err(); err != nil {
		return err
	}
	for name, e := range b.byName {
		err := e.attrErr()
		if err == nil {
			continue
		}
		if name == "." {
			return fmt.Errorf("read attributes of the root: %w", err)
		}
		b.fileError(name, err)
		delete(b.byName, name)
	}
	return nil
}

// addPath lists one requested path, its parents and, if recursive, its
// subtree.
func (b *listBuilder) addPath(name string, recursive bool) error {
	if b.excluded(name) {
		return nil
	}
	if len(name) >= maxPathLen {
		b.tooLong(name)
		return nil
	}
	// Parents first (implied directories, sent without their contents).
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		if !b.addParent(name[:i]) {
			b.fl.warnings = append(b.fl.warnings, fmt.Sprintf("%s: a parent directory is missing at the source; not deleted", name))
			return nil
		}
		if b.otherDevice(b.byName[name[:i]]) {
			return nil // below a mount point (OneFileSystem): left alone
		}
	}
	e, err := b.lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		b.fl.missing = append(b.fl.missing, name)
		b.contents[parentName(name)] = true
		return nil
	}
	if err != nil {
		b.fileError(name, err)
		return nil
	}
	if name == "." && recursive {
		b.fl.scopeAll = true
	}
	e = b.putOnce(e)
	if !e.isDir() {
		b.fl.replacing = append(b.fl.replacing, name)
	}
	if e.isDir() && (recursive || e.followed) {
		// A listed link followed to a directory (a new link, in a live
		// batch) brings its whole referent.
		b.fl.scoped = append(b.fl.scoped, Path{Name: name, Recursive: true})
		return b.walk(name)
	}
	return nil
}

func parentName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return "."
}

func (b *listBuilder) excluded(name string) bool {
	if name == "." || b.opts.Exclude == nil {
		return false
	}
	// Exclude answers for the parents too (Options.Exclude). A path gone at the source is checked as a file: the caller, who
	// knows what it was, leaves out a deleted excluded directory.
	fi, _, _, err := b.lstatRel(name)
	return b.opts.Exclude(name, err == nil && fi.IsDir())
}

// gone reports whether err says a path no longer exists: ENOENT, or
// ENOTDIR when a parent directory was replaced by a file, or a symlink in
// the way (beneath.ErrNotBeneath matches fs.ErrNotExist). rsync counts
// ENOENT as vanished (flist.c:make_file, IOERR_VANISHED), which does not
// stop the receiver's deletions; a parent turned into a file or a symlink
// is the same for a mirror.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, ErrVanished)
}

func (b *listBuilder) fileError(name string, err error) {
	switch {
	case errors.Is(err, ErrNameTooLong):
		b.fl.localErr = true
	case gone(err):
		b.fl.ioError |= ioErrVanished
	default:
		b.fl.ioError |= ioErrGeneral
	}
	b.fl.failed = append(b.fl.failed, FileError{Path: name, Err: err})
}

// tooLong reports a name the protocol cannot carry, once: nothing below
// it is looked at.
func (b *listBuilder) tooLong(name string) {
	b.fileError(name, fmt.Errorf("list %d-byte path: %w", len(name), ErrNameTooLong))
}

// lstat lists the path name, resolved beneath the root.
func (b *listBuilder) lstat(name string) (*entry, error) {
	fi, d, base, err := b.lstatRel(name)
	if err != nil {
		return nil, err
	}
	return b.newEntry(new(entry), name, fi, func() (string, error) { return d.Readlink(base) }, b.realOf(parentName(name)))
}

// newEntry makes the entry name from its lstat (flist.c:make_file) in e,
// a zero entry, and returns e; readlink reads a symlink's target. dirReal
// is the real path of its directory when that was reached through a
// followed symlink, else "".
func (b *listBuilder) newEntry(e *entry, name string, fi fs.FileInfo, readlink func() (string, error), dirReal string) (*entry, error) {
	if b.tick != nil {
		b.tick()
	}
	e.name = name
	if b.fl.links != nil && name != "." {
		if err := b.follow(e, &fi, readlink, dirReal); err != nil {
			return nil, err
		}
	}
	nlink := fillStat(e, fi)
	if b.dirIDs != nil && e.isDir() {
		if err := b.checkLoop(e); err != nil {
			return nil, err
		}
	}
	if c := b.opts.Chmod; c != nil && !e.isLink() && e.mode != 0 {
		// flist.c:send_file_name, tweak_mode: only the mode sent
		// changes; the file type stays what lstat said.
		e.mode = e.mode&sIFMT | c(e.mode)&^sIFMT
	}
	if e.isLink() && b.opts.NoLinks {
		// Without links kept, a symlink is listed with its lstat size
		// and no target (flist.c:send_file_entry); the receiver skips it.
		if e.x != nil {
			e.x.link = ""
		}
	} else if e.isLink() {
		if e.link() == "" { // not read by follow
			t, err := readlink()
			if err != nil {
				return nil, fmt.Errorf("read link %s: %w", name, err)
			}
			e.ext().link = t
		}
		e.size = int64(len(e.link()))
	}
	if !e.isDir() && nlink > 1 {
		e.hlinked = true
	}
	if (e.isDev() && !b.opts.Devices) || (e.isSpecial() && !b.opts.Specials) {
		return nil, errSkip
	}
	if e.isDev() || e.isSpecial() {
		e.size = 0
	}
	return e, nil
}

var errSkip = errors.New("skipped")

// follow lists the symlink e (lstat'ed as *fi) as its referent when the
// options say so (beneath.Links.Follow: flist.c:readlink_stat and
// link_stat). A followed entry gets the referent's attributes in *fi and
// its real path; an entry below a followed directory gets its real path.
func (b *listBuilder) follow(e *entry, fi *fs.FileInfo, readlink func() (string, error), dirReal string) error {
	base := e.name[strings.LastIndexByte(e.name, '/')+1:]
	if (*fi).Mode()&fs.ModeSymlink == 0 {
		if dirReal != "" {
			e.ext().real = dirReal + "/" + base
		}
		return nil
	}
	t, err := readlink()
	if err != nil {
		return fmt.Errorf("read link %s: %w", e.name, err)
	}
	e.ext().link = t // kept when the link is not followed
	dir := dirReal
	if dir == "" {
		dir = filepath.Join(b.fl.rootReal, filepath.FromSlash(parentName(e.name)))
	}
	real, rfi, err := b.fl.links.Follow(e.name, dir, t)
	if err != nil || rfi == nil {
		return err
	}
	e.x.link, e.x.real, e.followed = "", real, true
	*fi = rfi
	return nil
}

// checkLoop records the listed directory e and refuses it, with
// ErrSymlinkLoop, when it was reached through a followed symlink and is
// one of its own parent directories (device and inode): walking it would
// never end.
func (b *listBuilder) checkLoop(e *entry) error {
	id := hardLinkOf{e.dev, e.ino}
	if e.realPath() != "" {
		for p := e.name; p != "."; {
			p = parentName(p)
			if b.dirIDs[p] == id {
				return fmt.Errorf("list %s: %w (%s)", e.name, ErrSymlinkLoop, p)
			}
		}
	}
	if _, seen := b.dirIDs[e.name]; !seen {
		b.dirIDs[e.name] = id
	}
	return nil
}

func (b *listBuilder) put(e *entry) {
	if e.name == "." {
		e.topDir = true
	}
	b.byName[e.name] = e
	if b.attrJobs != nil {
		// The workers set fields of e's extension while the walk reads
		// others (its real path): it is made before they share e.
		e.ext()
		b.attrJobs <- e
	}
}

// putOnce adds e unless its name is listed already, and returns the listed
// entry. The first look at a path wins: the tree may change while it is
// listed (a file replaced by a directory), and the receiver requires every
// entry's parent to be in the list as a directory (generator.c:
// recv_generator, "ABORTING due to invalid path from sender"), so only a
// listed directory is walked.
func (b *listBuilder) putOnce(e *entry) *entry {
	if old, dup := b.byName[e.name]; dup {
		return old
	}
	b.put(e)
	return e
}

// addParent adds an implied parent directory; false if it is not a directory.
func (b *listBuilder) addParent(name string) bool {
	if e, ok := b.byName[name]; ok {
		return e.isDir()
	}
	e, err := b.lstat(name)
	if err != nil || !e.isDir() {
		return false
	}
	b.put(e)
	return true
}

func (b *listBuilder) add(name string) error {
	e, err := b.lstat(name)
	if err != nil {
		return fmt.Errorf("stat root: %w", err)
	}
	if !e.isDir() {
		return fmt.Errorf("root %s: not a directory", b.root.Name())
	}
	b.put(e)
	return nil
}

// otherDevice reports whether the listed directory e is a mount point that
// OneFileSystem keeps the walk out of (flist.c:make_file, FLAG_MOUNT_DIR):
// it is listed, its contents are not.
func (b *listBuilder) otherDevice(e *entry) bool {
	if !b.opts.OneFileSystem || e.name == "." || e.dev == b.rootDev {
		return false
	}
	e.mountDir = true
	return true
}

// walk adds everything below the listed directory dir (a recursive path).
func (b *listBuilder) walk(dir string) error {
	e := b.byName[dir]
	if b.otherDevice(e) {
		return nil
	}
	d, err := b.openListedDir(e)
	if err != nil {
		b.fileError(dir, err)
		return nil
	}
	defer d.Close()
	if !b.sameDir(d, e) {
		return nil
	}
	return b.walkDir(d, dir, e.realPath())
}

// openListedDir opens the listed directory e for listing: through its
// real path when it was reached through a followed symlink, else beneath
// the root.
func (b *listBuilder) openListedDir(e *entry) (*beneath.Dir, error) {
	if real := e.realPath(); real != "" {
		return b.fl.links.OpenDir(real)
	}
	return b.root.OpenDir(e.name)
}

// sameDir checks that the open directory d is the one listed as e: a
// directory renamed over the listed one since its lstat is not walked.
func (b *listBuilder) sameDir(d *beneath.Dir, e *entry) bool {
	fi, err := d.Stat()
	if err != nil {
		b.fileError(e.name, err)
		return false
	}
	if !sameIdentity(e, fi) {
		b.fileError(e.name, fmt.Errorf("%w: replaced while being listed", ErrVanished))
		return false
	}
	return true
}

// walkDir adds the entries of the open directory d, listed as dir (with
// the real path real when reached through a followed symlink, else ""),
// and walks its subdirectories through their descriptors
// (flist.c:send_directory): no full path is resolved again, so a
// directory swapped for a symlink lists nothing from the link's target.
func (b *listBuilder) walkDir(d *beneath.Dir, dir, real string) error {
	b.contents[dir] = true
	names, err := d.ReadNames()
	if err != nil {
		b.fileError(dir, err)
		return nil
	}
	for _, n := range names {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		name := n
		if dir != "." {
			name = dir + "/" + n
		}
		if err := b.walkEntry(d, n, name, real); err != nil {
			return err
		}
	}
	return nil
}

// dirEntry makes the entry for n of the open directory d (named name;
// dirReal is d's real path when reached through a followed symlink) in
// e, a zero entry (flist.c:send_directory, send_file_name): nil when it
// is excluded, skipped or cannot be listed (recorded as a file error),
// and e may then hold part of it.
func (b *listBuilder) dirEntry(d *beneath.Dir, n, name, dirReal string, e *entry) *entry {
	if len(name) >= maxPathLen {
		if b.opts.Exclude == nil || !b.opts.Exclude(name, false) {
			b.tooLong(name)
		}
		return nil
	}
	fi, err := d.LstatBuf(n, &b.stat) // used up before dirEntry returns
	if err != nil {
		if b.opts.Exclude == nil || !b.opts.Exclude(name, false) {
			b.fileError(name, err)
		}
		return nil
	}
	if b.opts.Exclude != nil && b.opts.Exclude(name, fi.IsDir()) {
		return nil
	}
	e, err = b.newEntry(e, name, fi, func() (string, error) { return d.Readlink(n) }, dirReal)
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		b.fileError(name, err)
		return nil
	}
	return e
}

// walkEntry lists the entry n of the open directory d (named name, with
// the real path dirReal when reached through a followed symlink) and,
// for a directory, its subtree.
func (b *listBuilder) walkEntry(d *beneath.Dir, n, name, dirReal string) error {
	e := b.dirEntry(d, n, name, dirReal, new(entry))
	if e == nil {
		return nil
	}
	if e = b.putOnce(e); !e.isDir() || b.otherDevice(e) {
		return nil
	}
	var sub *beneath.Dir
	var err error
	if e.followed {
		sub, err = b.fl.links.OpenDir(e.realPath())
	} else {
		sub, err = d.OpenDir(n)
	}
	if err != nil {
		b.fileError(name, err)
		return nil
	}
	defer sub.Close()
	if !b.sameDir(sub, e) {
		return nil
	}
	return b.walkDir(sub, name, e.realPath())
}

// finish collects the entries and marks content directories. As a last
// guard for the receiver's rule (see putOnce), an entry whose parent is not
// a listed directory is left out, as vanished.
func (b *listBuilder) finish() {
	valid := map[string]bool{".": true}
	var ok func(name string) bool
	ok = func(name string) bool {
		if v, seen := valid[name]; seen {
			return v
		}
		p := parentName(name)
		pe := b.byName[p]
		v := pe != nil && pe.isDir() && ok(p)
		valid[name] = v
		return v
	}
	for name := range b.byName {
		if !ok(name) {
			b.fileError(name, fmt.Errorf("%w: its parent directory changed while being listed", ErrVanished))
			delete(b.byName, name)
		}
	}
	for name, e := range b.byName {
		if e.isDir() && name != "." && (e.mountDir || !b.contents[name] && !b.underRecursive(name)) {
			e.noContent = true
		}
		b.fl.list = append(b.fl.list, e)
	}
}

func (b *listBuilder) underRecursive(name string) bool {
	for _, s := range b.fl.scoped {
		if s.Name == "." || strings.HasPrefix(name, s.Name+"/") {
			return true
		}
	}
	return false
}

// assignHardLinks groups hard-linked non-directories by dev/ino once the
// list is in send order (flist.c:send_file_entry, hlink.c). Below protocol
// 28 every regular file carries dev/ino.
func assignHardLinks(list []*entry, proto int) {
	lead := map[hardLinkOf]int{}
	for i, e := range list {
		if proto < 28 {
			e.hlinked = e.isReg()
			continue
		}
		if !e.hlinked {
			continue
		}
		k := hardLinkOf{e.dev, e.ino}
		if j, ok := lead[k]; ok {
			e.hlinkFirst = false
			e.ext().hlinkLead = int32(j)
		} else {
			lead[k] = i
			e.hlinkFirst = true
			if e.x != nil {
				e.x.hlinkLead = -1
			}
		}
	}
}
