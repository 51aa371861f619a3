package rsyncproto

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkBuildFileListAttrs lists the 5,000-file tree of
// BenchmarkBuildFileList with an ACL and an xattr on every entry, with
// and without -A -X: what reading them costs the file list.
func BenchmarkBuildFileListAttrs(b *testing.B) {
	root := benchTree(b)
	// An access ACL user::rw-, user:65534:r--, group::r--, mask::r--,
	// other::r-- in the kernel's xattr form (version 2, then tag, perm, id).
	acl := []byte{2, 0, 0, 0,
		1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff,
		2, 0, 4, 0, 0xfe, 0xff, 0, 0,
		4, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
		0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff,
		0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := unix.Setxattr(p, "user.origin", []byte("bench tree"), 0); err != nil {
			return err
		}
		return unix.Setxattr(p, "system.posix_acl_access", acl, 0)
	})
	if err != nil {
		b.Skipf("set ACLs and xattrs: %v", err)
	}
	for _, tc := range []struct {
		name string
		o    Options
	}{{"plain", Options{}}, {"AX", Options{ACLs: true, XAttrs: true}}} {
		b.Run(tc.name, func(b *testing.B) {
			req := &Request{Root: root, Paths: []Path{{Name: ".", Recursive: true}}, Options: tc.o}
			for b.Loop() {
				fl, err := buildFileList(context.Background(), req, nil)
				if err != nil {
					b.Fatal(err)
				}
				fl.close()
			}
		})
	}
}
