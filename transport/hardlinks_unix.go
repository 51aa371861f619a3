//go:build unix

package transport

import (
	"io/fs"
	"syscall"
)

// linkID returns fi's device and inode, and whether it has other names.
func linkID(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, st.Nlink > 1
}
