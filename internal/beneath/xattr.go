//go:build unix

package beneath

import "io/fs"

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
