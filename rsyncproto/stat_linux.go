//go:build linux

package rsyncproto

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// fillStat copies the Unix attributes of fi into e.
func fillStat(e *entry, fi fs.FileInfo) (nlink uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		fillPortable(e, fi)
		return 1
	}
	e.mode = st.Mode
	e.size = st.Size
	e.mtime = st.Mtim.Sec
	e.nsec = int32(st.Mtim.Nsec)
	e.uid, e.gid = st.Uid, st.Gid
	e.dev, e.ino = st.Dev, st.Ino
	if rdev := uint64(st.Rdev); rdev != 0 {
		x := e.ext()
		x.rdevMaj, x.rdevMin = unix.Major(rdev), unix.Minor(rdev)
		x.rdevRaw = uint32(rdev)
	}
	return uint64(st.Nlink)
}

// sameIdentity reports whether fi (an fstat of an open descriptor) is the
// listed entry e: same device and inode, same file type.
func sameIdentity(e *entry, fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Dev == e.dev && st.Ino == e.ino && st.Mode&sIFMT == e.mode&sIFMT
}
