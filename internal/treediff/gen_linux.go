package treediff

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// xattr is one extended attribute to set.
type xattr struct {
	name  string
	value []byte
}

// The ACLs of the tree, in ParseACL's form: a few shared by many entries.
var (
	treeACLs = []string{
		"u::rw-,u:1:r--,u:12345:rw-,g::r--,g:2:r--,g:23456:rw-,m::rw-,o::---",
		"u::rwx,u:65534:r-x,g::r-x,m::r-x,o::r-x",
		"u::rw-,g::r--,g:65534:rw-,g:12345:r--,m::r--,o::r--", // the mask limits g:65534
		"u::rw-,u:23456:rwx,g::---,m::rwx,o::---",
	}
	treeDefaultACLs = []string{
		"u::rwx,u:12345:rwx,g::r-x,g:23456:r-x,m::rwx,o::---",
		"u::rwx,g::rwx,g:2:r-x,m::rwx,o::r-x",
	}
)

// GenerateAttrTree fills the existing directory root with a deterministic
// tree (the same for the same seed) of a few hundred entries that
// exercises every attribute rsync can keep: owners and groups with and
// without names (AttrTreeIDs), setuid, setgid and sticky bits, POSIX
// access ACLs with named users, groups and masks (the same ACL on many
// files), default ACLs on directories (with entries inheriting them),
// user.* xattrs (short, over 32 bytes, KiB values, empty, binary; sets
// shared by many files), trusted.* and security.* xattrs (also on a
// symlink and a fifo), hard-link groups within and across directories,
// sparse files (a 10 MiB file with holes, files of written zero runs),
// character and block devices, fifos, a unix socket, symlinks (relative,
// absolute, dangling, looping), odd names (spaces, newline, tab,
// backslash, invalid UTF-8, leading dash) and nanosecond mtimes on every
// entry, symlinks included. The root itself gets an owner, a mode and an
// xattr too. It needs root (chown, mknod, trusted.* xattrs).
func GenerateAttrTree(root string, seed uint64) (*AttrTree, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("GenerateAttrTree needs root (chown, mknod, trusted.* xattrs)")
	}
	g := &gen{root: root, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), tree: &AttrTree{}, ids: AttrTreeIDs()}
	g.build()
	if g.err != nil {
		return nil, g.err
	}
	return g.tree, nil
}

// gen builds one tree; the first error stops it.
type gen struct {
	root string
	rng  *rand.Rand
	tree *AttrTree
	ids  []uint32 // AttrTreeIDs
	err  error
	// inodes are the entries whose mtimes are set at the end, in creation
	// order (the second names of hard links left out).
	inodes []string
}

func (g *gen) fail(err error) {
	if g.err == nil && err != nil {
		g.err = err
	}
}

func (g *gen) abs(rel string) string {
	if rel == "." {
		return g.root
	}
	return filepath.Join(g.root, filepath.FromSlash(rel))
}

func (g *gen) id() uint32 { return g.ids[g.rng.IntN(len(g.ids))] }

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	return b
}

func (g *gen) text(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + g.rng.IntN(26))
	}
	return b
}

// created records a new entry.
func (g *gen) created(rel string) {
	g.inodes = append(g.inodes, rel)
	if rel != "." {
		g.tree.Entries++
	}
}

// own sets owner and then mode (chown clears setuid and setgid), not
// following a symlink; symlinks keep their mode.
func (g *gen) own(rel string, uid, gid uint32, mode uint32, symlink bool) {
	p := g.abs(rel)
	if err := unix.Lchown(p, int(uid), int(gid)); err != nil {
		g.fail(fmt.Errorf("chown %s: %w", p, err))
	}
	if !symlink {
		if err := unix.Chmod(p, mode); err != nil {
			g.fail(fmt.Errorf("chmod %s: %w", p, err))
		}
	}
}

func (g *gen) dir(rel string, uid, gid uint32, mode uint32) {
	if g.err != nil {
		return
	}
	if err := os.Mkdir(g.abs(rel), 0o700); err != nil {
		g.fail(fmt.Errorf("mkdir: %w", err))
		return
	}
	g.created(rel)
	g.tree.Dirs = append(g.tree.Dirs, rel)
	g.own(rel, uid, gid, mode, false)
}

func (g *gen) file(rel string, data []byte, uid, gid uint32, mode uint32) {
	if g.err != nil {
		return
	}
	if err := os.WriteFile(g.abs(rel), data, 0o600); err != nil {
		g.fail(fmt.Errorf("write file: %w", err))
		return
	}
	g.created(rel)
	g.own(rel, uid, gid, mode, false)
}

func (g *gen) symlink(rel, target string, uid, gid uint32) {
	if g.err != nil {
		return
	}
	if err := os.Symlink(target, g.abs(rel)); err != nil {
		g.fail(fmt.Errorf("symlink: %w", err))
		return
	}
	g.created(rel)
	g.own(rel, uid, gid, 0, true)
}

// node makes a device, fifo or socket (typ is unix.S_IF*).
func (g *gen) node(rel string, typ uint32, dev uint64, uid, gid uint32, mode uint32) {
	if g.err != nil {
		return
	}
	if err := unix.Mknod(g.abs(rel), typ|0o600, int(dev)); err != nil {
		g.fail(fmt.Errorf("mknod %s: %w", g.abs(rel), err))
		return
	}
	g.created(rel)
	g.own(rel, uid, gid, mode, false)
}

// link adds names to the inode of first, which must exist.
func (g *gen) link(first string, more ...string) {
	if g.err != nil {
		return
	}
	for _, rel := range more {
		if err := os.Link(g.abs(first), g.abs(rel)); err != nil {
			g.fail(fmt.Errorf("link: %w", err))
			return
		}
		g.tree.Entries++
	}
	g.tree.HardLinks = append(g.tree.HardLinks, append([]string{first}, more...))
}

// acl sets the access ACL (and, when dflt is not empty, the default ACL)
// of rel; the access ACL sets the group-class mode bits.
func (g *gen) acl(rel, access, dflt string) {
	if g.err != nil {
		return
	}
	for _, a := range []struct{ name, text string }{{XattrACLAccess, access}, {XattrACLDefault, dflt}} {
		if a.text == "" {
			continue
		}
		v, err := ParseACL(a.text)
		if err != nil {
			g.fail(err)
			return
		}
		if err := unix.Lsetxattr(g.abs(rel), a.name, v, 0); err != nil {
			g.fail(fmt.Errorf("set %s %q on %s: %w", a.name, a.text, g.abs(rel), err))
			return
		}
	}
}

func (g *gen) xattrs(rel string, xs ...xattr) {
	if g.err != nil {
		return
	}
	for _, x := range xs {
		if err := unix.Lsetxattr(g.abs(rel), x.name, x.value, 0); err != nil {
			g.fail(fmt.Errorf("set xattr %s on %s: %w", x.name, g.abs(rel), err))
			return
		}
	}
}

func (g *gen) build() {
	ids := g.ids
	g.created(".")
	g.own(".", 12345, 23456, 0o755, false)
	g.xattrs(".", xattr{"user.root", []byte("top of the tree")})

	// Shared xattr sets.
	set1 := []xattr{{"user.color", []byte("blue")}, {"user.tag", []byte("shared-set-1")},
		{"user.long", []byte("a value longer than thirty-two bytes, shared")}}
	set2 := []xattr{{"user.checksum", g.text(48)}, {"user.mime", []byte("text/plain")}}
	big := []xattr{{"user.blob1k", g.bytes(1024)}, {"user.blob2k", g.text(2000)}}
	odd := []xattr{{"user.empty", nil}, {"user.binary", []byte{0, 1, 2, 0, 0xff, '\n', 0}}}
	privileged := []xattr{{"trusted.gsync", []byte("trusted value")}, {"security.gsync", []byte("security value")}}

	// owners/: every uid with every gid, and a directory per owner.
	fileModes := []uint32{0o644, 0o640, 0o600, 0o755, 0o444, 0o664}
	g.dir("owners", 0, 0, 0o755)
	for i, u := range ids {
		for j, gid := range ids {
			g.file(fmt.Sprintf("owners/u%d-g%d", u, gid), g.text(g.rng.IntN(300)), u, gid, fileModes[(i+j)%len(fileModes)])
		}
		d := fmt.Sprintf("owners/d-u%d", u)
		g.dir(d, u, ids[(i+1)%len(ids)], []uint32{0o755, 0o750}[i%2])
		g.file(d+"/inside", g.text(20), u, ids[(i+2)%len(ids)], 0o644)
	}

	// modes/: setuid, setgid, sticky.
	g.dir("modes", 0, 0, 0o755)
	for _, m := range []struct {
		name     string
		uid, gid uint32
		mode     uint32
	}{
		{"setuid", 12345, 0, 0o4755}, {"setgid", 0, 23456, 0o2755}, {"setugid", 1, 2, 0o6755},
		{"sticky-file", 0, 0, 0o1644}, {"none", 2, 2, 0o000}, {"all", 65534, 65534, 0o777},
		{"exec-only", 0, 0, 0o711}, {"root-setuid", 0, 0, 0o4711}, {"setgid-noexec", 23456, 12345, 0o2644},
	} {
		g.file("modes/"+m.name, g.text(64), m.uid, m.gid, m.mode)
	}
	g.dir("modes/sticky-dir", 0, 0, 0o1777)
	g.file("modes/sticky-dir/f", g.text(10), 65534, 65534, 0o644)
	g.dir("modes/setgid-dir", 0, 23456, 0o2775)
	g.file("modes/setgid-dir/f", g.text(10), 12345, 23456, 0o664)
	g.dir("modes/setgid-dir/sub", 12345, 23456, 0o2770)
	g.dir("modes/both", 1, 2, 0o3770)
	g.dir("modes/private", 23456, 23456, 0o700)
	g.file("modes/private/f", g.text(10), 23456, 23456, 0o600)
	g.dir("modes/readonly", 0, 0, 0o555)
	g.file("modes/readonly/f", g.text(10), 0, 0, 0o444)

	// acl/: the same four ACLs on 24 files; directories with default
	// ACLs whose entries inherit them.
	g.dir("acl", 0, 0, 0o755)
	for i := 0; i < 24; i++ {
		p := fmt.Sprintf("acl/f%02d", i)
		g.file(p, g.text(g.rng.IntN(200)), g.id(), g.id(), 0o644)
		g.acl(p, treeACLs[i%len(treeACLs)], "")
	}
	for i, dflt := range treeDefaultACLs {
		d := fmt.Sprintf("acl/dflt%d", i+1)
		g.dir(d, ids[i+3], ids[i+4], 0o775)
		g.acl(d, "", dflt)
		for j := 0; j < 5; j++ {
			// Created below the default ACL: they inherit it, then get an
			// owner and a mode (which changes the inherited mask).
			p := fmt.Sprintf("%s/f%d", d, j)
			g.file(p, g.text(30), g.id(), g.id(), fileModes[j])
			if j == 4 {
				g.acl(p, treeACLs[0], "")
			}
		}
		g.dir(d+"/sub", 0, 0, 0o770) // inherits the default ACL as its own
		g.file(d+"/sub/f", g.text(30), 12345, 12345, 0o640)
	}
	g.dir("acl/both", 2, 23456, 0o750)
	g.acl("acl/both", treeACLs[1], treeDefaultACLs[0])

	// xattr/: shared sets, big values, empty and binary values, and the
	// trusted and security namespaces (on a directory, a symlink and a
	// fifo too).
	g.dir("xattr", 0, 0, 0o755)
	for i := 0; i < 24; i++ {
		p := fmt.Sprintf("xattr/f%02d", i)
		g.file(p, g.text(g.rng.IntN(500)), g.id(), g.id(), 0o644)
		switch i % 4 {
		case 0:
			g.xattrs(p, set1...)
		case 1:
			g.xattrs(p, set2...)
		case 2:
			g.xattrs(p, set1...)
			g.xattrs(p, big...)
		case 3:
			g.xattrs(p, odd...)
		}
		if i%5 == 0 {
			g.xattrs(p, privileged...)
		}
		if i%7 == 0 {
			g.acl(p, treeACLs[i%len(treeACLs)], "")
		}
	}
	g.dir("xattr/dir", 12345, 2, 0o755)
	g.xattrs("xattr/dir", set2...)
	g.xattrs("xattr/dir", privileged...)
	g.symlink("xattr/link", "f00", 1, 1)
	g.xattrs("xattr/link", xattr{"trusted.onlink", []byte("symlink xattr")})
	g.node("xattr/fifo", unix.S_IFIFO, 0, 0, 0, 0o644)
	g.xattrs("xattr/fifo", privileged[0])

	// links/: hard-link groups within a directory, across directories and
	// top-level directories, with ACLs, xattrs, owners and odd names.
	g.dir("links", 0, 0, 0o755)
	g.dir("links/x", 0, 0, 0o755)
	g.dir("links/y", 1, 1, 0o755)
	g.file("links/a1", g.text(100), 0, 0, 0o644)
	g.link("links/a1", "links/a2", "links/a3")
	g.file("links/x/b1", g.text(4000), 12345, 23456, 0o664)
	g.link("links/x/b1", "links/y/b2", "links/y/b3", "links/b4", "owners/b5")
	g.file("links/acl1", g.text(50), 23456, 12345, 0o640)
	g.acl("links/acl1", treeACLs[0], "")
	g.xattrs("links/acl1", set1...)
	g.link("links/acl1", "links/x/acl2")
	g.file("links/own1", g.text(10), 65534, 65534, 0o4750)
	g.link("links/own1", "links/y/own2")
	g.file("links/x/odd name\nwith newline", g.text(10), 2, 1, 0o644)
	g.link("links/x/odd name\nwith newline", "links/odd-\xff\xfe", "links/-dash")
	g.file("links/empty1", nil, 0, 0, 0o644)
	g.link("links/empty1", "links/y/empty2")
	g.file("links/x/xattr1", g.text(10), 0, 0, 0o644)
	g.xattrs("links/x/xattr1", big...)
	g.xattrs("links/x/xattr1", privileged...)
	g.link("links/x/xattr1", "xattr/linked")

	// sparse/: holes and written runs of zeros.
	g.dir("sparse", 0, 0, 0o755)
	g.sparse("sparse/hole10m", 10<<20, map[int64]int{0: 64 << 10, 5 << 20: 4096, 10<<20 - 4096: 4096})
	g.sparse("sparse/tailhole", 256<<10, map[int64]int{0: 4096})
	g.sparse("sparse/headhole", 256<<10, map[int64]int{256<<10 - 100: 100})
	// Small, as everything but hole10m: each test pushes the tree many
	// times.
	zeros := make([]byte, 512<<10)
	for off := 0; off < len(zeros); off += 128 << 10 {
		copy(zeros[off:], g.text(16<<10)) // 16 KiB of data, then 112 KiB of zeros
	}
	g.file("sparse/zeroruns", zeros, 12345, 0, 0o644)
	g.file("sparse/allzero", make([]byte, 128<<10), 0, 0, 0o600)
	g.file("sparse/smallzero", make([]byte, 3000), 0, 0, 0o644)
	g.tree.Sparse = append(g.tree.Sparse, "sparse/zeroruns", "sparse/allzero", "sparse/smallzero")

	// special/: devices, fifos, a socket.
	g.dir("special", 0, 0, 0o755)
	g.node("special/cdev", unix.S_IFCHR, unix.Mkdev(240, 5), 0, 2, 0o620)
	g.node("special/bdev", unix.S_IFBLK, unix.Mkdev(7, 200), 0, 1, 0o660)
	g.node("special/fifo1", unix.S_IFIFO, 0, 0, 0, 0o644)
	g.node("special/fifo2", unix.S_IFIFO, 0, 12345, 23456, 0o600)
	g.node("special/sock", unix.S_IFSOCK, 0, 65534, 65534, 0o755)

	// symlinks/: relative, absolute, dangling, to a directory, a loop;
	// owned by others than root.
	g.dir("symlinks", 0, 0, 0o755)
	g.symlink("symlinks/rel", "../owners/u0-g0", 12345, 23456)
	g.symlink("symlinks/abs", "/etc/hostname", 1, 2)
	g.symlink("symlinks/dangling", "nowhere/at/all", 65534, 65534)
	g.symlink("symlinks/todir", "../acl", 0, 0)
	g.symlink("symlinks/loop", "loop", 2, 2)

	// odd/: odd names with attributes.
	g.dir("odd", 0, 0, 0o755)
	for i, n := range []string{"with space", "new\nline", "\xff\xfeinvalid", "-leading-dash", "tab\there", `back\slash`} {
		p := "odd/" + n
		g.file(p, []byte(n), ids[i%len(ids)], ids[(i+3)%len(ids)], fileModes[i%len(fileModes)])
		if i%2 == 0 {
			g.acl(p, treeACLs[i%len(treeACLs)], "")
		}
		g.xattrs(p, set1[i%len(set1)])
	}
	g.dir("odd/dir with\nnewline", 23456, 1, 0o750)
	g.file("odd/dir with\nnewline/-x", g.text(5), 1, 23456, 0o640)
	g.xattrs("odd/dir with\nnewline/-x", set2...)
	g.symlink("odd/link \xff", "new\nline", 0, 0)

	// bulk/: many plain entries with attributes drawn at random.
	g.dir("bulk", 0, 0, 0o755)
	for d := 0; d < 4; d++ {
		dir := fmt.Sprintf("bulk/d%d", d)
		g.dir(dir, g.id(), g.id(), []uint32{0o755, 0o775, 0o750, 0o2775}[d%4])
		for i := 0; i < 10; i++ {
			p := fmt.Sprintf("%s/f%02d", dir, i)
			mode := fileModes[g.rng.IntN(len(fileModes))]
			g.file(p, g.text(g.rng.IntN(8192)), g.id(), g.id(), mode)
			acl := g.rng.IntN(10) < 3
			if acl {
				g.acl(p, treeACLs[g.rng.IntN(len(treeACLs))], "")
			}
			switch g.rng.IntN(5) {
			case 0:
				g.xattrs(p, set1...)
			case 1:
				g.xattrs(p, set2...)
			}
			if !acl && g.rng.IntN(3) == 0 {
				g.tree.Files = append(g.tree.Files, p)
			}
		}
	}
	g.times()
}

// sparse makes a file of size bytes holding random text at the given
// offsets (offset: length) and holes elsewhere.
func (g *gen) sparse(rel string, size int64, data map[int64]int) {
	if g.err != nil {
		return
	}
	f, err := os.OpenFile(g.abs(rel), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		g.fail(fmt.Errorf("create sparse file: %w", err))
		return
	}
	defer f.Close()
	g.created(rel)
	g.tree.Sparse = append(g.tree.Sparse, rel)
	if err := f.Truncate(size); err != nil {
		g.fail(fmt.Errorf("truncate sparse file: %w", err))
		return
	}
	// In offset order: the text drawn must not depend on map order.
	offs := make([]int64, 0, len(data))
	for off := range data {
		offs = append(offs, off)
	}
	slices.Sort(offs)
	for _, off := range offs {
		if _, err := f.WriteAt(g.text(data[off]), off); err != nil {
			g.fail(fmt.Errorf("write sparse file: %w", err))
			return
		}
	}
	g.own(rel, 0, 0, 0o644, false)
}

// times gives every entry a nanosecond mtime (and atime), children
// before their parents, symlinks not followed.
func (g *gen) times() {
	base := time.Date(2023, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := len(g.inodes) - 1; i >= 0; i-- {
		if g.err != nil {
			return
		}
		mt := base.Add(time.Duration(g.rng.Int64N(int64(200 * 24 * time.Hour))))
		ts := unix.NsecToTimespec(mt.UnixNano())
		p := g.abs(g.inodes[i])
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			g.fail(fmt.Errorf("set mtime of %s: %w", p, err))
		}
	}
}
