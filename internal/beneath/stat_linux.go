package beneath

import (
	"io/fs"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// syscall.Stat_t and unix.Stat_t are both the kernel's struct stat; the
// file infos carry a *syscall.Stat_t in Sys, as os.Lstat's do.
var (
	_ [unsafe.Sizeof(syscall.Stat_t{}) - unsafe.Sizeof(unix.Stat_t{})]byte
	_ [unsafe.Sizeof(unix.Stat_t{}) - unsafe.Sizeof(syscall.Stat_t{})]byte
)

// fileInfo is an fs.FileInfo whose Sys is a *syscall.Stat_t.
type fileInfo struct {
	name string
	sys  syscall.Stat_t
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.sys.Size }
func (fi *fileInfo) Mode() fs.FileMode  { return FileMode(fi.sys.Mode) }
func (fi *fileInfo) ModTime() time.Time { return time.Unix(fi.sys.Mtim.Unix()) }
func (fi *fileInfo) IsDir() bool        { return fi.sys.Mode&unix.S_IFMT == unix.S_IFDIR }
func (fi *fileInfo) Sys() any           { return &fi.sys }

func (fi *fileInfo) unixStat() *unix.Stat_t { return (*unix.Stat_t)(unsafe.Pointer(&fi.sys)) }

func fstatat(dirfd int, name string, fi *fileInfo, flags int) error {
	return unix.Fstatat(dirfd, name, fi.unixStat(), flags)
}

func fstat(fd int, fi *fileInfo) error { return unix.Fstat(fd, fi.unixStat()) }

// DevIno returns the device and inode numbers of fi, when its Sys is a
// *syscall.Stat_t (os.Lstat and this package's infos).
func DevIno(fi fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Dev, st.Ino, true
}
