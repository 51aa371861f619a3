//go:build unix

package transport

import (
	"io/fs"
	"syscall"
)

// linkID returns fi's device and inode, and its number of names.
func linkID(fi fs.FileInfo) (fileID, uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, 1
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, uint64(st.Nlink)
}
