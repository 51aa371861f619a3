package transport

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
)

// xattrFlags compares the mirrored xattrs and ACLs of the source entry
// rel (sfi) with its target entry's: ItemReportACL when the ACLs differ
// (not for symlinks, generator.c:itemize), ItemReportXattr when the
// other xattrs do.
func (v *localVerify) xattrFlags(rel string, sfi fs.FileInfo) (acl, xattr bool) {
	a := v.r.l.attrs
	if !a.xattrsKept() {
		return false, false
	}
	want, err := v.r.srcXattrs(rel, sfi)
	if err != nil {
		v.fail(rel, err)
		return false, false
	}
	have, err := readXattrs(v.r.dstPath(rel), v.r.xattrsOwned(rel))
	if err != nil {
		v.fail(rel, fmt.Errorf("read target xattrs: %w", err))
		return false, false
	}
	differs := func(n string) {
		if strings.HasPrefix(n, "system.posix_acl_") {
			acl = acl || sfi.Mode().Type() != fs.ModeSymlink
		} else {
			xattr = true
		}
	}
	for n, w := range want {
		if h, ok := have[n]; !ok || !bytes.Equal(h, w) {
			differs(n)
		}
	}
	for n := range have {
		if _, ok := want[n]; !ok {
			differs(n)
		}
	}
	return acl, xattr
}
