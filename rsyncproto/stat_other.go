//go:build !linux

package rsyncproto

import "io/fs"

// fillStat copies the portable attributes of fi into e.
func fillStat(e *entry, fi fs.FileInfo) (nlink uint64) {
	fillPortable(e, fi)
	return 1
}
