package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/beneath"
)

// The POSIX ACLs of an entry, as the kernel stores them: xattrs in the
// system namespace, copied as raw values (-A).
const (
	aclAccess  = "system.posix_acl_access"
	aclDefault = "system.posix_acl_default"
)

// keepXattr reports whether the xattr name of the entry rel is one that
// the local target mirrors under a, by the rules of one side (rule:
// Options.XattrExclude or XattrProtect, nil none): with -A the two ACL
// names (acls.c, which x rules do not filter); with -X rsync's x rules
// where they rule, else every name but the system namespace, or with
// userOnly (a receiver not running as root) the user namespace only;
// never rsync's own user.rsync.%* names (xattrs.c:rsync_xal_get,
// receive_xattr, rsync_xal_set, one -X).
func keepXattr(a attrPlan, rel, name string, rule func(rel, name string) (bool, bool), userOnly bool) bool {
	if a.ACLs && (name == aclAccess || name == aclDefault) {
		return true
	}
	if !a.XAttrs || strings.HasPrefix(name, "user.rsync.%") {
		return false
	}
	if rule != nil {
		if excluded, ruled := rule(rel, name); ruled {
			return !excluded
		}
	}
	if userOnly {
		return strings.HasPrefix(name, "user.")
	}
	return !strings.HasPrefix(name, "system.")
}

// xattrsCopied returns which xattr names of the source entry rel the
// local target copies: those the sender's rules send that the
// receiver's rules do not protect (xattrs.c: rsync_xal_get on the
// sender, receive_xattr on the receiver).
func (r *run) xattrsCopied(rel string) func(string) bool {
	a, o := r.l.attrs, &r.l.opts
	return func(n string) bool {
		return keepXattr(a, rel, n, o.XattrExclude, false) && keepXattr(a, rel, n, o.XattrProtect, !a.root)
	}
}

// xattrsOwned returns which xattr names of the target entry rel the
// local target sets or removes: all but those the receiver's rules
// protect, which stay as they are (xattrs.c:rsync_xal_set).
func (r *run) xattrsOwned(rel string) func(string) bool {
	a, o := r.l.attrs, &r.l.opts
	return func(n string) bool { return keepXattr(a, rel, n, o.XattrProtect, !a.root) }
}

// storedXattrName is the name the local target keeps the source's xattr
// name under: its own, or, not running as root, for a name outside the
// user namespace (which only x rules let through), "user.rsync." and
// the name, as rsync's receiver stores it (xattrs.c:receive_xattr; ACLs
// with -A are acls.c's).
func storedXattrName(a attrPlan, name string) string {
	if a.root || strings.HasPrefix(name, "user.") || a.ACLs && (name == aclAccess || name == aclDefault) {
		return name
	}
	return "user.rsync." + name
}

// attrOf names the attribute an xattr name belongs to in warnings.
func attrOf(name string) string {
	if strings.HasPrefix(name, "system.posix_acl_") {
		return "ACLs"
	}
	return "xattrs"
}

// srcXattrs reads the mirrored xattrs of the source entry rel (lstat'ed as
// sfi): beneath the source root, no symlink followed, and only while it is
// still the listed entry (beneath.Root.Xattrs).
func (r *run) srcXattrs(rel string, sfi fs.FileInfo) (map[string][]byte, error) {
	keep := r.xattrsCopied(rel)
	var xs []beneath.Xattr
	var err error
	if real := r.realOf(rel); real != "" {
		xs, err = r.fw.links.Xattrs(real, sfi.Mode().Type(), beneath.SameFile(sfi), keep)
	} else {
		xs, err = r.src.Xattrs(srcRel(rel), sfi.Mode().Type(), beneath.SameFile(sfi), keep)
	}
	if err != nil {
		return nil, fmt.Errorf("read source xattrs: %w", err)
	}
	out := make(map[string][]byte, len(xs))
	for _, x := range xs {
		out[storedXattrName(r.l.attrs, x.Name)] = x.Value
	}
	return out, nil
}

// readXattrs returns the xattrs of the target entry p (a symlink's own)
// that keep accepts.
func readXattrs(p string, keep func(string) bool) (map[string][]byte, error) {
	list, get := unix.Llistxattr, unix.Lgetxattr
	names, err := readBuf(func(b []byte) (int, error) { return list(p, b) })
	if err != nil {
		return nil, &xattrError{attr: "xattrs", err: fmt.Errorf("list xattrs: %w", err)}
	}
	out := make(map[string][]byte)
	for n := range strings.SplitSeq(strings.TrimSuffix(string(names), "\x00"), "\x00") {
		if n == "" || !keep(n) {
			continue
		}
		v, err := readBuf(func(b []byte) (int, error) { return get(p, n, b) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, &xattrError{attr: attrOf(n), err: fmt.Errorf("read xattr %s: %w", n, err)}
		}
		out[n] = v
	}
	return out, nil
}

// readBuf calls a size-probing xattr call until its buffer is big enough.
func readBuf(call func([]byte) (int, error)) ([]byte, error) {
	for range 5 {
		n, err := call(nil)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		b := make([]byte, n)
		n, err = call(b)
		if errors.Is(err, unix.ERANGE) {
			continue // grew meanwhile
		}
		if err != nil {
			return nil, err
		}
		return b[:n], nil
	}
	return nil, unix.ERANGE
}

// setXattrs makes the mirrored xattrs of the target entry p (those owned
// accepts) equal to want: it sets those that differ and removes the
// target's others (xattrs.c:rsync_xal_set). It reports whether anything
// changed.
func setXattrs(p string, want map[string][]byte, owned func(string) bool) (bool, error) {
	have, err := readXattrs(p, owned)
	if err != nil {
		return false, err
	}
	changed := false
	var errs []error
	for n, v := range want {
		if cur, ok := have[n]; ok && bytes.Equal(cur, v) {
			continue
		}
		changed = true
		if err := unix.Lsetxattr(p, n, v, 0); err != nil {
			errs = append(errs, &xattrError{attr: attrOf(n), err: fmt.Errorf("set xattr %s: %w", n, err)})
		}
	}
	for n := range have {
		if _, ok := want[n]; ok {
			continue
		}
		changed = true
		if err := unix.Lremovexattr(p, n); err != nil && !errors.Is(err, unix.ENODATA) {
			errs = append(errs, &xattrError{attr: attrOf(n), err: fmt.Errorf("remove xattr %s: %w", n, err)})
		}
	}
	return changed, errors.Join(errs...)
}

// unsupported reports whether err means the target's file system cannot
// keep the attribute (no xattr or ACL support, a namespace it refuses).
func unsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM)
}
