//go:build linux

package rsyncproto

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"syscall"

	"github.com/gsync/gsync/internal/beneath"
)

// attrReader reads the ACLs and xattrs of listed entries beneath the
// source root (beneath.Root.Xattrs): each entry is opened with
// O_PATH|O_NOFOLLOW (nothing is opened for reading: no FIFO blocks, no
// device is opened), no symlink followed in any component, and it must be
// the listed inode (device, inode and type), so whatever the tree does
// meanwhile, only the listed file's attributes are read, never those of a
// file outside the root. A symlink's own attributes are read.
type attrReader struct {
	root *beneath.Root
	// links reads entries reached through a followed symlink at their
	// real path (nil when no symlink is followed).
	links *beneath.Links
}

// openAttrReader reads attributes beneath root (which the file list
// owns and closes).
func openAttrReader(root *beneath.Root) (*attrReader, error) {
	return &attrReader{root: root}, nil
}

func (a *attrReader) close() {}

// xattrsOf returns the xattrs of the listed entry e that keep accepts;
// an entry gone or replaced since it was listed is ErrVanished.
func (a *attrReader) xattrsOf(e *entry, keep func(string) bool) ([]beneath.Xattr, error) {
	same := func(fi fs.FileInfo) bool { return listedAs(fi, e) }
	var xs []beneath.Xattr
	var err error
	if real := e.realPath(); real != "" && a.links != nil {
		xs, err = a.links.Xattrs(real, e.fileType(), same, keep)
	} else {
		xs, err = a.root.Xattrs(e.name, e.fileType(), same, keep)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read attributes of %s: %w: %v", e.name, ErrVanished, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read attributes of %s: %w", e.name, err)
	}
	return xs, nil
}

// fileType is e's type as fs.FileMode type bits, for Root.Xattrs: 0 for a
// regular file, ModeDir, ModeSymlink, and ModeIrregular for the rest
// (devices and specials are never opened for reading).
func (e *entry) fileType() fs.FileMode {
	switch {
	case e.isReg():
		return 0
	case e.isDir():
		return fs.ModeDir
	case e.isLink():
		return fs.ModeSymlink
	}
	return fs.ModeIrregular
}

// listedAs reports whether fi is the listed entry e: same device, inode
// and type.
func listedAs(fi fs.FileInfo, e *entry) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == e.dev && st.Ino == e.ino && st.Mode&sIFMT == e.mode&sIFMT
}

// readEntry reads what the options ask of the listed entry e: its ACLs
// (not for a symlink; acls.c:get_acl) and its xattrs (a symlink's only
// when links are kept: xattrs.c:get_xattr), with one read of its
// attribute list.
func (a *attrReader) readEntry(e *entry, o *Options) error {
	wantACLs := o.ACLs && !e.isLink()
	wantX := o.XAttrs && (!e.isLink() || !o.NoLinks)
	if !wantACLs && !wantX {
		return nil
	}
	xs, err := a.xattrsOf(e, func(n string) bool {
		return (wantACLs && (n == xattrACLAccess || n == xattrACLDefault)) || (wantX && o.xattrSent(e.name, n))
	})
	if err != nil {
		return err
	}
	if wantACLs {
		acls, err := entryACLsOf(xs, e)
		if err != nil {
			return fmt.Errorf("read ACLs of %s: %w", e.name, err)
		}
		if acls != nil || e.x != nil {
			e.ext().acls = acls
		}
	}
	if wantX {
		var set xattrSet
		for _, x := range xs {
			if o.xattrSent(e.name, x.Name) {
				set = append(set, newXattr(x.Name, x.Value))
			}
		}
		sortXattrs(set)
		if set != nil || e.x != nil {
			e.ext().xattrs = set
		}
	}
	return nil
}

// xattrValues re-reads the xattr values of the listed entry e for the
// receiver's request (xattrs.c:send_xattr_request): one read for all the
// names it asks, which are names of the set sent.
func (a *attrReader) xattrValues(e *entry) (map[string][]byte, error) {
	xs, err := a.xattrsOf(e, func(n string) bool {
		_, sent := slices.BinarySearchFunc(e.xattrs(), n, func(x xattr, n string) int { return strings.Compare(x.name, n) })
		return sent
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string][]byte, len(xs))
	for _, x := range xs {
		m[x.Name] = x.Value
	}
	return m, nil
}

// entryACLsOf takes the access ACL of e and, for a directory, its default
// ACL from its xattrs (acls.c:get_acl); a file system without ACLs, or a
// file without an extended one, gives the mode's minimal ACL
// (acls.c:get_rsync_acl, no_acl_syscall_error): nil when it has neither,
// which the encoder sends as that.
func entryACLsOf(xs []beneath.Xattr, e *entry) (*entryACLs, error) {
	find := func(name string) (rsyncACL, bool, error) {
		for _, x := range xs {
			if x.Name == name {
				a, err := parseACLXattr(x.Value)
				return a, err == nil, err
			}
		}
		return rsyncACL{}, false, nil
	}
	acc, hasAcc, err := find(xattrACLAccess)
	if err != nil {
		return nil, err
	}
	def, hasDef := rsyncACL{}, false
	if e.isDir() {
		if def, hasDef, err = find(xattrACLDefault); err != nil {
			return nil, err
		}
	}
	if !hasAcc && !hasDef {
		// The mode's ACL and no default: what the encoder sends for
		// nil (aclEncoder.appendEntry), without an allocation per entry.
		return nil, nil
	}
	if !hasAcc {
		acc = fakeACL(e.mode)
	}
	out := &entryACLs{access: acc}
	if e.isDir() {
		if !hasDef {
			def = emptyACL()
		}
		out.def = &def
	}
	return out, nil
}
