//go:build !linux

package transport

import "io/fs"

// xattrFlags: this platform keeps no xattrs or ACLs on a local target.
func (v *localVerify) xattrFlags(string, fs.FileInfo) (acl, xattr bool) { return false, false }
