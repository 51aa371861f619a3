//go:build !unix

package mirror

import "os"

// deviceOf returns 0 where there are no device numbers: only the
// existence of path is checked.
func deviceOf(path string) (uint64, error) {
	_, err := os.Stat(path)
	return 0, err
}

// fileIDOf reports no identity where there are no inode numbers: only
// the existence of path is checked.
func fileIDOf(path string) (id fileID, ok bool, err error) {
	_, err = os.Stat(path)
	return fileID{}, false, err
}

// nlinkOf returns 1: no link counts here.
func nlinkOf(os.FileInfo) uint64 { return 1 }
