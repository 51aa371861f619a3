//go:build !linux

package rsyncproto

import (
	"io/fs"

	"github.com/gsync/gsync/internal/beneath"
)

// fillStat copies the portable attributes of fi, and its device and inode
// numbers, into e.
func fillStat(e *entry, fi fs.FileInfo) (nlink uint64) {
	fillPortable(e, fi)
	e.dev, e.ino, _ = beneath.DevIno(fi)
	return 1
}

// sameIdentity reports whether fi (an fstat of an open descriptor) is the
// listed entry e: same device and inode, same file type.
func sameIdentity(e *entry, fi fs.FileInfo) bool {
	dev, ino, ok := beneath.DevIno(fi)
	var f entry
	fillPortable(&f, fi)
	return ok && dev == e.dev && ino == e.ino && f.mode&sIFMT == e.mode&sIFMT
}
