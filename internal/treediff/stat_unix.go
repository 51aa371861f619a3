//go:build unix

package treediff

import (
	"io/fs"
	"syscall"
)

func owner(fi fs.FileInfo) (uid, gid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Uid, st.Gid, true
}

func rdev(fi fs.FileInfo) uint64 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	return uint64(st.Rdev) //nolint:unconvert // int32 on some platforms
}

// inodeOf returns the identity of fi's inode, its link count and the
// 512-byte blocks it takes (st_blocks); ok is false when fi has no
// stat_t.
func inodeOf(fi fs.FileInfo) (id inodeID, nlink uint64, blocks int64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return inodeID{}, 0, 0, false
	}
	//nolint:unconvert // the field types differ between platforms
	return inodeID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, uint64(st.Nlink), int64(st.Blocks), true
}
