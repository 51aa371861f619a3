//go:build !linux

package rsyncproto

import (
	"io/fs"
	"os"
)

// fillStat copies the portable attributes of fi into e.
func fillStat(e *entry, fi fs.FileInfo) (nlink uint64) {
	fillPortable(e, fi)
	return 1
}

// openData opens a file for reading its data.
func openData(name string) (*os.File, error) { return os.Open(name) }
