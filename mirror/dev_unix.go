//go:build unix

package mirror

import (
	"fmt"
	"os"
	"syscall"
)

// deviceOf returns the device number of the file system holding path.
func deviceOf(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no device number", path)
	}
	return uint64(st.Dev), nil
}

// fileIDOf returns the device and inode of path, following a final
// symlink; ok is false where the platform has none.
func fileIDOf(path string) (id fileID, ok bool, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, false, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false, nil
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true, nil
}

// nlinkOf returns the number of names of the file fi (1 where unknown).
func nlinkOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
