//go:build unix

package beneath

import (
	"io/fs"
	"syscall"
)

// Xattr is one extended attribute of a file. POSIX ACLs are the
// system.posix_acl_access and system.posix_acl_default attributes.
type Xattr struct {
	Name  string
	Value []byte
}

// ErrChanged reports that the entry found at a path is not the file the
// caller listed (another device, inode or type): to a mirror it vanished.
// errors.Is also matches it against fs.ErrNotExist.
var ErrChanged error = changed{}

type changed struct{}

func (changed) Error() string        { return "changed since it was listed" }
func (changed) Is(target error) bool { return target == fs.ErrNotExist }

// SameFile returns a check for Xattrs that the entry is the file want
// describes: same device, inode and type.
func SameFile(want fs.FileInfo) func(fs.FileInfo) bool {
	return func(got fs.FileInfo) bool {
		sa, ok1 := got.Sys().(*syscall.Stat_t)
		sb, ok2 := want.Sys().(*syscall.Stat_t)
		return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino && got.Mode().Type() == want.Mode().Type()
	}
}
