//go:build unix

package sshx

import (
	"io/fs"
	"syscall"
)

// fileOwner returns the numeric owner of fi.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
