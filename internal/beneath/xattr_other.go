//go:build unix && !linux

package beneath

import "io/fs"

// Xattrs: gsync reads extended attributes on Linux only; elsewhere an
// entry has none.
func (r *Root) Xattrs(rel string, typ fs.FileMode, same func(fs.FileInfo) bool, keep func(name string) bool) ([]Xattr, error) {
	return nil, nil
}
