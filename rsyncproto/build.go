package rsyncproto

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// fillPortable fills e from fs.FileInfo alone (no owner, device or inode).
func fillPortable(e *entry, fi fs.FileInfo) {
	m := fi.Mode()
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
	e.mode = mode
	e.size = fi.Size()
	e.mtime = fi.ModTime().Unix()
	e.nsec = int32(fi.ModTime().Nanosecond())
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

type listBuilder struct {
	ctx      context.Context
	root     string
	opts     *Options
	hard     bool
	byName   map[string]*entry
	fl       *fileList
	contents map[string]bool // dirs that must be content dirs
	tick     func()          // called per entry: local work counts as activity
}

// buildFileList walks the request (flist.c:send_file_list in spirit): every
// listed path, its parent directories (not recursively) and, for recursive
// paths, the whole subtree.
func buildFileList(ctx context.Context, req *Request, tick func()) (*fileList, error) {
	b := &listBuilder{ctx: ctx, tick: tick, root: req.Root, opts: &req.Options,
		byName: map[string]*entry{}, fl: &fileList{}, contents: map[string]bool{}}
	fi, err := os.Stat(req.Root)
	if err != nil {
		return nil, fmt.Errorf("stat root %s: %w", req.Root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("root %s: not a directory", req.Root)
	}
	if len(req.Paths) == 0 {
		return nil, errors.New("no paths to send")
	}
	if err := b.add("."); err != nil {
		return nil, err
	}
	for _, p := range req.Paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name, err := cleanName(p.Name)
		if err != nil {
			return nil, err
		}
		if b.excluded(name) {
			continue
		}
		// Parents first (implied directories, sent without their contents).
		parentsOK := true
		for i := 0; i < len(name); i++ {
			if name[i] == '/' {
				if !b.addParent(name[:i]) {
					parentsOK = false
					break
				}
			}
		}
		if !parentsOK {
			b.fl.warnings = append(b.fl.warnings, fmt.Sprintf("%s: a parent directory is missing at the source; not deleted", name))
			continue
		}
		e, err := b.lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			b.fl.missing = append(b.fl.missing, name)
			b.contents[parentName(name)] = true
			continue
		}
		if err != nil {
			b.fileError(name, err)
			continue
		}
		if name == "." && p.Recursive {
			b.fl.scopeAll = true
		}
		e = b.putOnce(e)
		if !e.isDir() {
			b.fl.replacing = append(b.fl.replacing, name)
		}
		if e.isDir() && p.Recursive {
			b.fl.scoped = append(b.fl.scoped, Path{Name: name, Recursive: true})
			if err := b.walk(name); err != nil {
				return nil, err
			}
		}
	}
	b.finish()
	return b.fl, nil
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
	// Below an excluded directory everything is excluded.
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if b.opts.Exclude(d, true) {
			return true
		}
	}
	// A path gone at the source is checked as a file: the caller, who
	// knows what it was, leaves out a deleted excluded directory.
	fi, err := os.Lstat(b.local(name))
	return b.opts.Exclude(name, err == nil && fi.IsDir())
}

// gone reports whether err says a path no longer exists: ENOENT, or
// ENOTDIR when a parent directory was replaced by a file. rsync counts
// ENOENT as vanished (flist.c:make_file, IOERR_VANISHED), which does not
// stop the receiver's deletions; a parent turned into a file is the same
// for a mirror.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, ErrVanished)
}

func (b *listBuilder) local(name string) string {
	if name == "." {
		return b.root
	}
	return filepath.Join(b.root, filepath.FromSlash(name))
}

func (b *listBuilder) fileError(name string, err error) {
	if gone(err) {
		b.fl.ioError |= ioErrVanished
	} else {
		b.fl.ioError |= ioErrGeneral
	}
	b.fl.failed = append(b.fl.failed, FileError{Path: name, Err: err})
}

func (b *listBuilder) lstat(name string) (*entry, error) {
	if b.tick != nil {
		b.tick()
	}
	p := b.local(name)
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	e := &entry{name: name, local: p, hlinkLead: -1}
	nlink := fillStat(e, fi)
	if e.isLink() {
		t, err := os.Readlink(p)
		if err != nil {
			return nil, fmt.Errorf("readlink %s: %w", p, err)
		}
		e.link = t
		e.size = int64(len(t))
	}
	if !e.isDir() && nlink > 1 {
		e.hlinked = true
	}
	if (e.isDev() || e.isSpecial()) && !b.opts.Devices {
		return nil, errSkip
	}
	if e.isDev() || e.isSpecial() {
		e.size = 0
	}
	return e, nil
}

var errSkip = errors.New("skipped")

func (b *listBuilder) put(e *entry) {
	if e.name == "." {
		e.topDir = true
	}
	b.byName[e.name] = e
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
	b.put(e)
	return nil
}

// walk adds everything below dir (a recursive path).
func (b *listBuilder) walk(dir string) error {
	b.contents[dir] = true
	ents, err := os.ReadDir(b.local(dir))
	if err != nil {
		b.fileError(dir, err)
		return nil
	}
	for _, de := range ents {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		name := de.Name()
		if dir != "." {
			name = dir + "/" + name
		}
		if b.opts.Exclude != nil && b.opts.Exclude(name, de.IsDir()) {
			continue
		}
		e, err := b.lstat(name)
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			b.fileError(name, err)
			continue
		}
		if e = b.putOnce(e); e.isDir() {
			if err := b.walk(name); err != nil {
				return err
			}
		}
	}
	return nil
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
		if e.isDir() && name != "." && !b.contents[name] && !b.underRecursive(name) {
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
	type key struct{ dev, ino uint64 }
	lead := map[key]int{}
	for i, e := range list {
		if proto < 28 {
			e.hlinked = e.isReg()
			continue
		}
		if !e.hlinked {
			continue
		}
		k := key{e.dev, e.ino}
		if j, ok := lead[k]; ok {
			e.hlinkFirst = false
			e.hlinkLead = int32(j)
		} else {
			lead[k] = i
			e.hlinkFirst = true
			e.hlinkLead = -1
		}
	}
}
