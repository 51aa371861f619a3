// Package treediff compares two directory trees entry by entry. It is the
// correctness oracle of gsync's tests: after a scenario, the target tree must
// equal the source tree (names, types, content, mode bits, symlink targets,
// mtimes and optionally ownership, extended attributes with POSIX ACLs,
// hard-link groups and link counts, and the blocks files take).
package treediff

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Options tune what Compare considers a difference.
type Options struct {
	// MtimeGranularity is the precision at which mtimes are compared: both
	// sides are truncated to it. Zero compares nanoseconds exactly; a
	// negative value skips mtimes entirely.
	MtimeGranularity time.Duration
	// NodeMtimeGranularity, when coarser than MtimeGranularity, is the
	// precision for the mtimes of device nodes, fifos and sockets.
	NodeMtimeGranularity time.Duration
	// SkipDirMtimes ignores the mtimes of directories.
	SkipDirMtimes bool
	// SkipSymlinkMtimes ignores the mtimes of symlinks.
	SkipSymlinkMtimes bool
	// CompareOwner also compares numeric uid and gid.
	CompareOwner bool
	// CompareXattrs also compares the full raw list of extended
	// attributes of every entry, read without following symlinks: names
	// and values in every namespace the caller can read (user.*, and as
	// root trusted.* and security.*), POSIX ACLs included
	// (XattrACLAccess, XattrACLDefault; shown in setfacl's short form).
	// Linux only: elsewhere Compare fails when it is set.
	CompareXattrs bool
	// IgnoreXattr, when set, reports whether an xattr name is left out of
	// CompareXattrs (e.g. "security.selinux", which a receiver labels
	// on its own).
	IgnoreXattr func(name string) bool
	// CompareHardLinks also compares, for every entry but directories,
	// the link count and the grouping of names into inodes: names that
	// share an inode on one side must share one on the other, and no
	// others. Only names present on both sides are grouped (the others
	// are Missing or Extra already).
	CompareHardLinks bool
	// CompareBlocks also compares the 512-byte blocks regular files take
	// (st_blocks), so that a hole of a sparse file on one side and
	// written zeros on the other differ.
	CompareBlocks bool
	// IgnoreRootMode ignores the mode bits of the two root directories.
	IgnoreRootMode bool
	// SkipModes ignores mode bits everywhere (a mirror without rsync's
	// -p, such as lsyncd's default -lts, keeps the target's own).
	SkipModes bool
	// IgnoreRootMtime ignores the mtimes of the two root directories.
	IgnoreRootMtime bool
	// Exclude reports whether a slash-separated relative path is excluded;
	// excluded entries (and everything below an excluded directory) are
	// ignored on both sides.
	Exclude func(rel string, isDir bool) bool
}

// Kind classifies a difference.
type Kind string

// The kinds of difference.
const (
	Missing  Kind = "missing" // in src only
	Extra    Kind = "extra"   // in dst only
	Type     Kind = "type"
	Content  Kind = "content"
	Mode     Kind = "mode"
	Link     Kind = "symlink target"
	Mtime    Kind = "mtime"
	Owner    Kind = "owner"
	Device   Kind = "device number"
	Xattr    Kind = "xattr"
	Nlink    Kind = "link count"
	HardLink Kind = "hard-link group"
	Blocks   Kind = "blocks"
)

// Diff is one difference between the trees.
type Diff struct {
	Path string // slash-separated, relative to the roots; "." for the roots
	Kind Kind
	Src  string // description of the source side
	Dst  string // description of the destination side
}

// String renders the difference with the path quoted, so that names with
// newlines, backslashes or invalid UTF-8 stay readable.
func (d Diff) String() string {
	if d.Src == "" && d.Dst == "" {
		return fmt.Sprintf("%q: %s", d.Path, d.Kind)
	}
	return fmt.Sprintf("%q: %s: src %s, dst %s", d.Path, d.Kind, d.Src, d.Dst)
}

// Compare walks src and dst (never following symlinks) and returns their
// differences sorted by path.
func Compare(src, dst string, opt Options) ([]Diff, error) {
	c := &comparer{opt: opt, src: src, dst: dst}
	if err := c.root(); err != nil {
		return nil, err
	}
	sort.SliceStable(c.diffs, func(i, j int) bool { return c.diffs[i].Path < c.diffs[j].Path })
	return c.diffs, nil
}

// Same reports whether src and dst have no differences under opt, the
// verdict Compare's empty result gives, for a caller that polls until
// two trees converge: it stops at the first difference, and it reads
// file contents (the costly part) only once everything else already
// matches, in a second walk that again stops at the first difference.
func Same(src, dst string, opt Options) (bool, error) {
	for _, skipContent := range []bool{true, false} {
		c := &comparer{opt: opt, src: src, dst: dst, first: true, skipContent: skipContent}
		if err := c.root(); err != nil {
			return false, err
		}
		if len(c.diffs) > 0 {
			return false, nil
		}
	}
	return true, nil
}

// Equal fails t (without stopping it) when the trees differ, listing at most
// 30 differences. It reports whether the trees are equal.
func Equal(t testing.TB, src, dst string, opt Options) bool {
	t.Helper()
	diffs, err := Compare(src, dst, opt)
	if err != nil {
		t.Errorf("compare %s with %s: %v", src, dst, err)
		return false
	}
	if len(diffs) == 0 {
		return true
	}
	t.Errorf("trees differ (%s vs %s):\n%s", src, dst, Format(diffs, 30))
	return false
}

// Format renders at most max differences, one a line.
func Format(diffs []Diff, max int) string {
	var b strings.Builder
	for i, d := range diffs {
		if i == max {
			fmt.Fprintf(&b, "... and %d more\n", len(diffs)-max)
			break
		}
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// root compares the two roots and everything below them.
func (c *comparer) root() error {
	sfi, err := os.Lstat(c.src)
	if err != nil {
		return fmt.Errorf("stat source root: %w", err)
	}
	dfi, err := os.Lstat(c.dst)
	if err != nil {
		return fmt.Errorf("stat destination root: %w", err)
	}
	if err := c.entry(".", sfi, dfi); err != nil {
		return err
	}
	if c.opt.CompareHardLinks && !c.done() {
		c.linkGroups()
	}
	return nil
}

type comparer struct {
	opt      Options
	src, dst string
	diffs    []Diff
	// first stops the walk at the first difference (Same).
	first bool
	// skipContent leaves the contents of regular files alone (Same's
	// first walk).
	skipContent bool
	// sbuf and dbuf are the read buffers of content, allocated once per
	// comparison rather than once per file.
	sbuf, dbuf []byte
	// inodes holds, with CompareHardLinks, the inodes of the
	// non-directories present on both sides, in walk order.
	inodes []inodePair
}

// inodeID identifies an inode.
type inodeID struct{ dev, ino uint64 }

// inodePair is one name present on both sides with its inode on each.
type inodePair struct {
	rel      string
	src, dst inodeID
}

func (c *comparer) add(rel string, k Kind, s, d string) {
	c.diffs = append(c.diffs, Diff{Path: rel, Kind: k, Src: s, Dst: d})
}

// done reports whether the walk can stop: a difference is found and
// only the first one is wanted.
func (c *comparer) done() bool { return c.first && len(c.diffs) > 0 }

func (c *comparer) excluded(rel string, isDir bool) bool {
	return rel != "." && c.opt.Exclude != nil && c.opt.Exclude(rel, isDir)
}

func join(root, rel string) string {
	if rel == "." {
		return root
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// entry compares one path present on both sides.
func (c *comparer) entry(rel string, sfi, dfi fs.FileInfo) error {
	st, dt := typeName(sfi.Mode()), typeName(dfi.Mode())
	if st != dt {
		c.add(rel, Type, st, dt)
		return nil
	}
	root := rel == "."
	sm, dm := sfi.Mode(), dfi.Mode()
	if sm.Type() != fs.ModeSymlink && !c.opt.SkipModes && !(root && c.opt.IgnoreRootMode) {
		if sm != dm {
			c.add(rel, Mode, fmt.Sprintf("%04o", modeBits(sm)), fmt.Sprintf("%04o", modeBits(dm)))
		}
	}
	if c.opt.CompareOwner {
		su, sg, _ := owner(sfi)
		du, dg, _ := owner(dfi)
		if su != du || sg != dg {
			c.add(rel, Owner, fmt.Sprintf("%d:%d", su, sg), fmt.Sprintf("%d:%d", du, dg))
		}
	}
	c.mtime(rel, sfi, dfi)
	if c.opt.CompareXattrs {
		if err := c.xattrs(rel); err != nil {
			return err
		}
	}
	if (c.opt.CompareHardLinks || c.opt.CompareBlocks) && !sm.IsDir() {
		c.inode(rel, sfi, dfi)
	}
	switch {
	case sm.IsRegular():
		return c.content(rel, sfi, dfi)
	case sm.Type() == fs.ModeSymlink:
		sl, err := os.Readlink(join(c.src, rel))
		if err != nil {
			return fmt.Errorf("read link: %w", err)
		}
		dl, err := os.Readlink(join(c.dst, rel))
		if err != nil {
			return fmt.Errorf("read link: %w", err)
		}
		if sl != dl {
			c.add(rel, Link, fmt.Sprintf("%q", sl), fmt.Sprintf("%q", dl))
		}
	case sm.Type()&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		sr, dr := rdev(sfi), rdev(dfi)
		if sr != dr {
			c.add(rel, Device, fmt.Sprintf("%#x", sr), fmt.Sprintf("%#x", dr))
		}
	case sm.IsDir():
		return c.dir(rel)
	}
	return nil
}

func (c *comparer) mtime(rel string, sfi, dfi fs.FileInfo) {
	g := c.opt.MtimeGranularity
	switch {
	case g < 0,
		sfi.IsDir() && c.opt.SkipDirMtimes,
		sfi.Mode().Type() == fs.ModeSymlink && c.opt.SkipSymlinkMtimes,
		rel == "." && c.opt.IgnoreRootMtime:
		return
	}
	if isNode(sfi.Mode()) && c.opt.NodeMtimeGranularity > g {
		g = c.opt.NodeMtimeGranularity
	}
	s, d := sfi.ModTime(), dfi.ModTime()
	if g > 0 {
		s, d = s.Truncate(g), d.Truncate(g)
	}
	if !s.Equal(d) {
		c.add(rel, Mtime, sfi.ModTime().UTC().Format(time.RFC3339Nano), dfi.ModTime().UTC().Format(time.RFC3339Nano))
	}
}

// isNode reports whether m is a device node, fifo or socket.
func isNode(m fs.FileMode) bool {
	return m.Type()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0
}

func (c *comparer) dir(rel string) error {
	sn, err := readNames(join(c.src, rel))
	if err != nil {
		return err
	}
	dn, err := readNames(join(c.dst, rel))
	if err != nil {
		return err
	}
	i, j := 0, 0
	for (i < len(sn) || j < len(dn)) && !c.done() {
		switch {
		case j == len(dn) || (i < len(sn) && sn[i] < dn[j]):
			if err := c.oneSide(path.Join(rel, sn[i]), c.src, Missing); err != nil {
				return err
			}
			i++
		case i == len(sn) || dn[j] < sn[i]:
			if err := c.oneSide(path.Join(rel, dn[j]), c.dst, Extra); err != nil {
				return err
			}
			j++
		default:
			r := path.Join(rel, sn[i])
			sfi, err := os.Lstat(join(c.src, r))
			if err != nil {
				return fmt.Errorf("stat source: %w", err)
			}
			dfi, err := os.Lstat(join(c.dst, r))
			if err != nil {
				return fmt.Errorf("stat destination: %w", err)
			}
			// An entry is excluded when either side says so, so that an
			// excluded directory on one side and a file on the other are
			// both ignored.
			if !c.excluded(r, sfi.IsDir()) && !c.excluded(r, dfi.IsDir()) {
				if err := c.entry(r, sfi, dfi); err != nil {
					return err
				}
			}
			i++
			j++
		}
	}
	return nil
}

func (c *comparer) oneSide(rel, root string, k Kind) error {
	fi, err := os.Lstat(join(root, rel))
	if err != nil {
		return fmt.Errorf("stat %s: %w", join(root, rel), err)
	}
	if c.excluded(rel, fi.IsDir()) {
		return nil
	}
	desc := typeName(fi.Mode())
	if k == Missing {
		c.add(rel, k, desc, "absent")
	} else {
		c.add(rel, k, "absent", desc)
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open dir: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read dir %s: %w", dir, err)
	}
	sort.Strings(names)
	return names, nil
}

// content compares two regular files byte by byte, streaming them in
// chunks so that big files need no memory.
func (c *comparer) content(rel string, sfi, dfi fs.FileInfo) error {
	if sfi.Size() != dfi.Size() {
		c.add(rel, Content, fmt.Sprintf("size %d", sfi.Size()), fmt.Sprintf("size %d", dfi.Size()))
		return nil
	}
	if c.skipContent {
		return nil
	}
	sf, err := os.Open(join(c.src, rel))
	if err != nil {
		return fmt.Errorf("open source file: %w", err)
	}
	defer sf.Close()
	df, err := os.Open(join(c.dst, rel))
	if err != nil {
		return fmt.Errorf("open destination file: %w", err)
	}
	defer df.Close()
	const chunk = 256 << 10
	if c.sbuf == nil {
		c.sbuf, c.dbuf = make([]byte, chunk), make([]byte, chunk)
	}
	sb, db := c.sbuf, c.dbuf
	var off int64
	for {
		n, serr := io.ReadFull(sf, sb)
		m, derr := io.ReadFull(df, db)
		if n != m || !bytes.Equal(sb[:n], db[:m]) {
			at := off
			for k := 0; k < n && k < m && sb[k] == db[k]; k++ {
				at++
			}
			c.add(rel, Content, fmt.Sprintf("differs at byte %d", at), fmt.Sprintf("(size %d)", dfi.Size()))
			return nil
		}
		off += int64(n)
		sEOF := errors.Is(serr, io.EOF) || errors.Is(serr, io.ErrUnexpectedEOF)
		dEOF := errors.Is(derr, io.EOF) || errors.Is(derr, io.ErrUnexpectedEOF)
		if serr != nil && !sEOF {
			return fmt.Errorf("read source file %s: %w", rel, serr)
		}
		if derr != nil && !dEOF {
			return fmt.Errorf("read destination file %s: %w", rel, derr)
		}
		if sEOF || dEOF {
			if sEOF != dEOF {
				c.add(rel, Content, "length changed while reading", "")
			}
			return nil
		}
	}
}

func typeName(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "file"
	case fs.ModeDir:
		return "dir"
	case fs.ModeSymlink:
		return "symlink"
	case fs.ModeNamedPipe:
		return "fifo"
	case fs.ModeSocket:
		return "socket"
	case fs.ModeDevice | fs.ModeCharDevice:
		return "char device"
	case fs.ModeDevice:
		return "block device"
	}
	return fmt.Sprintf("type %v", m.Type())
}

// modeBits returns the 12 Unix permission bits of m.
func modeBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// xattrs compares the extended attributes of one path present on both
// sides, one difference per name.
func (c *comparer) xattrs(rel string) error {
	sn, sv, err := listXattrs(join(c.src, rel))
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	dn, dv, err := listXattrs(join(c.dst, rel))
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	names := append(append([]string(nil), sn...), dn...)
	sort.Strings(names)
	for i, name := range names {
		if i > 0 && names[i-1] == name {
			continue
		}
		if c.opt.IgnoreXattr != nil && c.opt.IgnoreXattr(name) {
			continue
		}
		s, sok := sv[name]
		d, dok := dv[name]
		if sok == dok && bytes.Equal(s, d) {
			continue
		}
		c.add(rel, Xattr, describeXattr(name, s, sok), describeXattr(name, d, dok))
	}
	return nil
}

// describeXattr renders one xattr for a difference: ACLs in setfacl's
// short form, printable values quoted, others by length and leading bytes.
func describeXattr(name string, v []byte, ok bool) string {
	if !ok {
		return name + " absent"
	}
	if name == XattrACLAccess || name == XattrACLDefault {
		if text, ok := FormatACL(v); ok {
			return name + "=" + text
		}
	}
	printable := true
	for _, b := range v {
		if b < 0x20 || b >= 0x7f {
			printable = false
			break
		}
	}
	switch {
	case printable && len(v) <= 64:
		return fmt.Sprintf("%s=%q", name, v)
	case len(v) <= 16:
		return fmt.Sprintf("%s=0x%x", name, v)
	default:
		return fmt.Sprintf("%s=(%d bytes) 0x%x...", name, len(v), v[:16])
	}
}

// inode compares the link count and the blocks of one non-directory
// present on both sides and records its inodes for linkGroups.
func (c *comparer) inode(rel string, sfi, dfi fs.FileInfo) {
	sid, sn, sb, sok := inodeOf(sfi)
	did, dn, db, dok := inodeOf(dfi)
	if !sok || !dok {
		return
	}
	if c.opt.CompareHardLinks {
		if sn != dn {
			c.add(rel, Nlink, fmt.Sprint(sn), fmt.Sprint(dn))
		}
		c.inodes = append(c.inodes, inodePair{rel: rel, src: sid, dst: did})
	}
	if c.opt.CompareBlocks && sfi.Mode().IsRegular() && sb != db {
		c.add(rel, Blocks, fmt.Sprintf("%d (size %d)", sb, sfi.Size()), fmt.Sprintf("%d (size %d)", db, dfi.Size()))
	}
}

// linkGroups compares the grouping of names into inodes: each name is
// described by the first name (in walk order) on its inode, on each side.
func (c *comparer) linkGroups() {
	sFirst := map[inodeID]string{}
	dFirst := map[inodeID]string{}
	for _, p := range c.inodes {
		if _, ok := sFirst[p.src]; !ok {
			sFirst[p.src] = p.rel
		}
		if _, ok := dFirst[p.dst]; !ok {
			dFirst[p.dst] = p.rel
		}
	}
	describe := func(rel, first string) string {
		if rel == first {
			return "first name of its inode"
		}
		return fmt.Sprintf("same inode as %q", first)
	}
	for _, p := range c.inodes {
		s, d := sFirst[p.src], dFirst[p.dst]
		if s != d {
			c.add(p.rel, HardLink, describe(p.rel, s), describe(p.rel, d))
		}
	}
}
