//go:build unix && !linux

package beneath

import (
	"io/fs"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fileInfo is an fs.FileInfo whose Sys is a *unix.Stat_t.
type fileInfo struct {
	name string
	sys  unix.Stat_t
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.sys.Size }
func (fi *fileInfo) Mode() fs.FileMode  { return FileMode(uint32(fi.sys.Mode)) }
func (fi *fileInfo) ModTime() time.Time { return time.Unix(fi.sys.Mtim.Unix()) }
func (fi *fileInfo) IsDir() bool        { return uint32(fi.sys.Mode)&unix.S_IFMT == unix.S_IFDIR }
func (fi *fileInfo) Sys() any           { return &fi.sys }

func fstatat(dirfd int, name string, fi *fileInfo, flags int) error {
	return unix.Fstatat(dirfd, name, &fi.sys, flags)
}

func fstat(fd int, fi *fileInfo) error { return unix.Fstat(fd, &fi.sys) }

// DevIno returns the device and inode numbers of fi, from this package's
// infos (*unix.Stat_t) or os.Lstat's (*syscall.Stat_t).
func DevIno(fi fs.FileInfo) (dev, ino uint64, ok bool) {
	switch st := fi.Sys().(type) {
	case *unix.Stat_t:
		return uint64(st.Dev), uint64(st.Ino), true
	case *syscall.Stat_t:
		return uint64(st.Dev), uint64(st.Ino), true
	}
	return 0, 0, false
}
