//go:build linux

package rsyncproto

import (
	"io/fs"
	"os"
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
	rdev := uint64(st.Rdev)
	e.rdevMaj, e.rdevMin = unix.Major(rdev), unix.Minor(rdev)
	e.rdevRaw = uint32(rdev)
	return uint64(st.Nlink)
}

// openData opens a file for reading its data. A plain blocking descriptor
// keeps the runtime's network poller out of the way: os.Open would try to
// register every file with epoll, a measurable cost when sending many
// small files.
func openData(name string) (*os.File, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}
