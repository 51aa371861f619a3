//go:build unix

package sshx

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileOwner returns the numeric owner of fi.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// readOnlyFS reports whether file lies on a file system mounted
// read-only (access(2) answers EROFS for a write before it looks at the
// mode, for root too).
func readOnlyFS(file string) bool { return unix.Access(file, unix.W_OK) == unix.EROFS }
