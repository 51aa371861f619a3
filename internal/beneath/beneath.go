//go:build unix

// Package beneath resolves paths relative to a root directory without
// following a symlink in any component and without ever leaving the root.
//
// It is how gsync reads its source tree, which local users may change under
// it (threat model in ARCHITECTURE.md): a directory swapped for a symlink to
// /etc between a stat and an open must never make gsync read /etc. On
// Linux >= 5.6 every resolution is one openat2(2) call with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS; elsewhere, or where openat2 is not
// available (ENOSYS, or EPERM from a seccomp filter), it is a walk of
// openat(O_NOFOLLOW|O_DIRECTORY) calls, one component at a time. Both work
// for paths longer than PATH_MAX: each system call gets a relative path
// shorter than PATH_MAX.
//
// A path that cannot be resolved that way (a symlink or a non-directory in
// the way, a ".." climbing out) is reported as ErrNotBeneath, which also
// matches fs.ErrNotExist: to a mirror the entry has vanished.
package beneath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ErrNotBeneath reports that a path cannot be resolved beneath the root
// without following a symlink: a component is a symlink or not a
// directory, or the path climbs out of the root. errors.Is also matches
// it against fs.ErrNotExist.
var ErrNotBeneath error = notBeneath{}

type notBeneath struct{}

func (notBeneath) Error() string {
	return "not beneath the root without following a symlink"
}

func (notBeneath) Is(target error) bool { return target == fs.ErrNotExist }

// ErrNotRegular reports that OpenFile found something other than a
// regular file. The file was opened with O_NONBLOCK and never read.
var ErrNotRegular = errors.New("not a regular file")

// pathMax is PATH_MAX: the kernel refuses longer path arguments, so
// longer relative paths are resolved in pieces.
const pathMax = 4096

// Flags of the opens (oPath is O_PATH on Linux, O_RDONLY elsewhere).
const (
	dirFlags    = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	searchFlags = oPath | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	dataFlags   = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
)

// Root is an open directory that relative paths are resolved beneath. It
// is safe for concurrent use.
type Root struct {
	f    *os.File // keeps fd open; closed by Close (or the GC)
	fd   int
	name string
	// walk is set once openat2 turned out to be unavailable (or by tests):
	// from then on every path is resolved by the component walk.
	walk atomic.Bool
}

// Open opens the directory name as a root. name itself may be or contain
// symlinks (the user named it); only paths below it are never followed.
func Open(name string) (*Root, error) {
	fd, err := openRetry(unix.AT_FDCWD, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &Root{f: os.NewFile(uintptr(fd), name), fd: fd, name: name}, nil
}

// Name returns the name the root was opened with.
func (r *Root) Name() string { return r.name }

// Close closes the root. Files and directories opened from it stay valid.
func (r *Root) Close() error { return r.f.Close() }

// Stat returns the attributes of the root directory itself.
func (r *Root) Stat() (fs.FileInfo, error) {
	return fstatFile(r.fd, ".")
}

// Lstat returns the attributes of rel without following a symlink, neither
// in rel's last component nor in any other (fstatat with
// AT_SYMLINK_NOFOLLOW on the opened parent). "." and "" name the root.
func (r *Root) Lstat(rel string) (fs.FileInfo, error) {
	rel, err := cleanRel(rel)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: rel, Err: err}
	}
	if rel == "." {
		return r.Stat()
	}
	pfd, base, err := r.openParent(rel)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: rel, Err: err}
	}
	defer r.closeParent(pfd)
	return lstatAt(pfd, base, rel)
}

// Readlink returns the target of the symlink rel (readlinkat on the opened
// parent).
func (r *Root) Readlink(rel string) (string, error) {
	rel, err := cleanRel(rel)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: rel, Err: err}
	}
	if rel == "." {
		return "", &fs.PathError{Op: "readlink", Path: rel, Err: unix.EINVAL}
	}
	pfd, base, err := r.openParent(rel)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: rel, Err: err}
	}
	defer r.closeParent(pfd)
	return readlinkAt(pfd, base, rel)
}

// OpenFile opens the regular file rel for reading its data, with
// O_NOFOLLOW|O_NONBLOCK: a FIFO or device never blocks the open, and a
// symlink in any component fails with ErrNotBeneath. It returns the
// file's attributes (fstat of the open descriptor), and ErrNotRegular
// for anything but a regular file. The file is a plain blocking
// descriptor outside the runtime's poller: regular files ignore
// O_NONBLOCK.
func (r *Root) OpenFile(rel string) (*os.File, fs.FileInfo, error) {
	rel, err := cleanRel(rel)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	fd, err := r.openPath(r.fd, rel, dataFlags)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	return regularFile(fd, rel)
}

// RemoveFile unlinks the non-directory entry rel when same, given its
// attributes (lstat on the opened parent, no symlink followed), says it
// is still the entry the caller means; the stat and the unlink use one
// descriptor of the parent, so a parent swapped for a symlink in
// between cannot redirect the unlink. It returns ErrChanged when same
// refuses.
func (r *Root) RemoveFile(rel string, same func(fs.FileInfo) bool) error {
	rel, err := cleanRel(rel)
	if err != nil || rel == "." {
		return &fs.PathError{Op: "remove", Path: rel, Err: unix.EINVAL}
	}
	pfd, base, err := r.openParent(rel)
	if err != nil {
		return &fs.PathError{Op: "remove", Path: rel, Err: err}
	}
	defer r.closeParent(pfd)
	fi, err := lstatAt(pfd, base, rel)
	if err != nil {
		return err
	}
	if fi.IsDir() || !same(fi) {
		return &fs.PathError{Op: "remove", Path: rel, Err: ErrChanged}
	}
	if err := unix.Unlinkat(pfd, base, 0); err != nil {
		return &fs.PathError{Op: "remove", Path: rel, Err: mapErr(err)}
	}
	return nil
}

// OpenDir opens the directory rel for listing; "." opens the root again.
func (r *Root) OpenDir(rel string) (*Dir, error) {
	rel, err := cleanRel(rel)
	if err != nil {
		return nil, &fs.PathError{Op: "opendir", Path: rel, Err: err}
	}
	var fd int
	if rel == "." {
		fd, err = openRetry(r.fd, ".", dirFlags)
	} else {
		fd, err = r.openPath(r.fd, rel, dirFlags)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "opendir", Path: rel, Err: mapErr(err)}
	}
	return newDir(fd, rel), nil
}

// SearchDir opens the directory rel for looking up its entries only (O_PATH
// on Linux: no read permission needed): Lstat, Readlink, OpenFile and
// OpenDir work on the result, ReadNames does not.
func (r *Root) SearchDir(rel string) (*Dir, error) {
	rel, err := cleanRel(rel)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	var fd int
	if rel == "." {
		fd, err = openRetry(r.fd, ".", searchFlags)
	} else {
		fd, err = r.openPath(r.fd, rel, searchFlags)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: mapErr(err)}
	}
	return newDir(fd, rel), nil
}

// Dir is an open directory below a Root. Its children are stat'ed and
// opened relative to it, so a walk never resolves a full path again.
type Dir struct {
	f   *os.File
	fd  int
	rel string
}

func newDir(fd int, rel string) *Dir {
	return &Dir{f: os.NewFile(uintptr(fd), rel), fd: fd, rel: rel}
}

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

// Stat returns the attributes of the directory itself (fstat).
func (d *Dir) Stat() (fs.FileInfo, error) { return fstatFile(d.fd, d.rel) }

// ReadNames returns the names of the directory's entries, sorted, without
// "." and "..". It reads from the directory's current offset: call it once.
func (d *Dir) ReadNames() ([]string, error) {
	names, err := d.f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", d.rel, err)
	}
	slices.Sort(names)
	return names, nil
}

// Lstat returns the attributes of the entry name of d, not following a
// symlink (fstatat with AT_SYMLINK_NOFOLLOW).
func (d *Dir) Lstat(name string) (fs.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return lstatAt(d.fd, name, name)
}

// StatBuf holds what Dir.LstatBuf reads: one allocation for the stats
// of a whole walk, whose caller is done with each before the next (a
// FileInfo of each of 600,000 entries was most of a no-op sync's
// garbage).
type StatBuf struct{ fi fileInfo }

// LstatBuf is Lstat into buf: the FileInfo it returns is buf's, valid
// until buf is used again.
func (d *Dir) LstatBuf(name string, buf *StatBuf) (fs.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	buf.fi.name = name
	if err := lstatInto(d.fd, name, name, &buf.fi); err != nil {
		return nil, err
	}
	return &buf.fi, nil
}

// Readlink returns the target of the symlink name in d (readlinkat).
func (d *Dir) Readlink(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return readlinkAt(d.fd, name, name)
}

// OpenDir opens the subdirectory name of d without following a symlink.
func (d *Dir) OpenDir(name string) (*Dir, error) {
	if err := checkName(name); err != nil {
		return nil, &fs.PathError{Op: "opendir", Path: name, Err: err}
	}
	fd, err := openRetry(d.fd, name, dirFlags)
	if err != nil {
		return nil, &fs.PathError{Op: "opendir", Path: name, Err: mapErr(err)}
	}
	return newDir(fd, name), nil
}

// OpenFile opens the regular file name of d like Root.OpenFile.
func (d *Dir) OpenFile(name string) (*os.File, fs.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	fd, err := openRetry(d.fd, name, dataFlags)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: name, Err: mapErr(err)}
	}
	return regularFile(fd, name)
}

// regularFile checks that fd is a regular file and wraps it; it closes fd
// otherwise.
func regularFile(fd int, rel string) (*os.File, fs.FileInfo, error) {
	fi, err := fstatFile(fd, rel)
	if err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		unix.Close(fd)
		return nil, nil, &fs.PathError{Op: "open", Path: rel, Err: ErrNotRegular}
	}
	return os.NewFile(uintptr(fd), rel), fi, nil
}

// openParent opens the parent directory of the clean path rel for
// searching and returns it with rel's last component. The root's own
// descriptor is returned for a top-level name: release it with closeParent.
func (r *Root) openParent(rel string) (int, string, error) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return r.fd, rel, nil
	}
	fd, err := r.openPath(r.fd, rel[:i], searchFlags)
	if err != nil {
		return -1, "", err
	}
	return fd, rel[i+1:], nil
}

func (r *Root) closeParent(fd int) {
	if fd != r.fd {
		unix.Close(fd)
	}
}

// openPath opens the clean relative path rel beneath dirfd with flags,
// following no symlink. Paths of PATH_MAX bytes or more are opened in
// pieces shorter than that.
func (r *Root) openPath(dirfd int, rel string, flags int) (int, error) {
	for len(rel) >= pathMax {
		i := strings.LastIndexByte(rel[:pathMax-1], '/')
		if i <= 0 {
			return -1, unix.ENAMETOOLONG
		}
		fd, err := r.openOne(dirfd, rel[:i], searchFlags)
		if dirfd != r.fd {
			unix.Close(dirfd)
		}
		if err != nil {
			return -1, err
		}
		dirfd, rel = fd, rel[i+1:]
	}
	fd, err := r.openOne(dirfd, rel, flags)
	if dirfd != r.fd {
		unix.Close(dirfd)
	}
	return fd, err
}

// openOne opens rel (shorter than PATH_MAX) beneath dirfd: openat2 where
// the kernel has it, the component walk otherwise.
func (r *Root) openOne(dirfd int, rel string, flags int) (int, error) {
	if !r.walk.Load() {
		fd, err := openat2(dirfd, rel, flags)
		if !fallBack(err) {
			return fd, mapErr(err)
		}
		r.walk.Store(true)
	}
	return walkOpen(dirfd, rel, flags)
}

// walkOpen opens rel beneath dirfd one component at a time, each with
// O_NOFOLLOW (a symlink fails with ELOOP or, as a directory, ENOTDIR).
func walkOpen(dirfd int, rel string, flags int) (int, error) {
	fd := dirfd
	for {
		i := strings.IndexByte(rel, '/')
		if i < 0 {
			nfd, err := openRetry(fd, rel, flags)
			if fd != dirfd {
				unix.Close(fd)
			}
			return nfd, mapErr(err)
		}
		nfd, err := openRetry(fd, rel[:i], searchFlags)
		if fd != dirfd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, mapErr(err)
		}
		fd, rel = nfd, rel[i+1:]
	}
}

// openRetry is openat, retried on EINTR.
func openRetry(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// mapErr turns the errors that say "a symlink or non-directory is in the
// way" or "outside the root" into ErrNotBeneath (keeping the errno).
func mapErr(err error) error {
	switch err {
	case nil:
		return nil
	case unix.ELOOP, unix.EXDEV, unix.ENOTDIR, unix.EMLINK:
		return fmt.Errorf("%w (%w)", ErrNotBeneath, err)
	}
	return err
}

func lstatAt(dirfd int, name, rel string) (fs.FileInfo, error) {
	fi := &fileInfo{name: baseName(rel)}
	if err := lstatInto(dirfd, name, rel, fi); err != nil {
		return nil, err
	}
	return fi, nil
}

// lstatInto is lstatAt into fi.
func lstatInto(dirfd int, name, rel string, fi *fileInfo) error {
	for {
		err := fstatat(dirfd, name, fi, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil {
			return nil
		}
		if err != unix.EINTR {
			return &fs.PathError{Op: "lstat", Path: rel, Err: mapErr(err)}
		}
	}
}

func fstatFile(fd int, rel string) (fs.FileInfo, error) {
	fi := &fileInfo{name: baseName(rel)}
	for {
		err := fstat(fd, fi)
		if err == nil {
			return fi, nil
		}
		if err != unix.EINTR {
			return nil, &fs.PathError{Op: "fstat", Path: rel, Err: err}
		}
	}
}

func readlinkAt(dirfd int, name, rel string) (string, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err == unix.EINTR {
			size /= 4
			continue
		}
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: rel, Err: mapErr(err)}
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size > pathMax {
			return "", &fs.PathError{Op: "readlink", Path: rel, Err: unix.ENAMETOOLONG}
		}
	}
}

func baseName(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[i+1:]
	}
	return rel
}

// checkName accepts one path component.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 || strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: %q is not a single name", ErrNotBeneath, name)
	}
	return nil
}

// cleanRel validates a relative path and drops empty and "." components.
// An absolute path, a ".." component or a NUL byte is refused with
// ErrNotBeneath. The root is ".".
func cleanRel(rel string) (string, error) {
	if strings.HasPrefix(rel, "/") {
		return rel, fmt.Errorf("%w: %q is absolute", ErrNotBeneath, rel)
	}
	if strings.IndexByte(rel, 0) >= 0 {
		return rel, fmt.Errorf("%w: %q contains a NUL byte", ErrNotBeneath, rel)
	}
	clean := true
	for p := rel; ; {
		c, rest, more := strings.Cut(p, "/")
		switch c {
		case "..":
			return rel, fmt.Errorf("%w: %q climbs out", ErrNotBeneath, rel)
		case "", ".":
			clean = false
		}
		if !more {
			break
		}
		p = rest
	}
	if clean {
		return rel, nil
	}
	var parts []string
	for _, c := range strings.Split(rel, "/") {
		if c != "" && c != "." {
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return ".", nil
	}
	return strings.Join(parts, "/"), nil
}

// FileMode converts a Unix st_mode like os.Lstat does.
func FileMode(st uint32) fs.FileMode {
	m := fs.FileMode(st & 0o777)
	switch st & unix.S_IFMT {
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if st&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if st&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if st&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
