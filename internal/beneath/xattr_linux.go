package beneath

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Xattrs returns the extended attributes of the entry rel itself (a
// symlink's own, never its target's), sorted by name, those for which
// keep(name) is true (nil keeps all). typ is the type the caller listed
// the entry as (fi.Mode().Type()). The entry is opened beneath the root,
// no symlink followed in any component: a regular file or directory for
// reading with O_NOFOLLOW|O_NONBLOCK (the attributes are then read through
// the descriptor, the cheapest way), anything else, or a file the caller
// may not read, with O_PATH|O_NOFOLLOW, so that no FIFO blocks and no
// device is opened, its attributes read through /proc/self/fd/N. If same
// is not nil it must accept the opened entry's attributes (SameFile: the
// listed file) or the result is ErrChanged.
func (r *Root) Xattrs(rel string, typ fs.FileMode, same func(fs.FileInfo) bool, keep func(name string) bool) ([]Xattr, error) {
	rel, err := cleanRel(rel)
	if err != nil {
		return nil, &fs.PathError{Op: "listxattr", Path: rel, Err: err}
	}
	fd, byFD := r.fd, true
	if rel != "." {
		fd, byFD, err = r.openForXattrs(rel, typ)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: rel, Err: mapErr(err)}
		}
		defer unix.Close(fd)
	}
	if same != nil {
		got, err := fstatFile(fd, rel)
		if err != nil {
			return nil, err
		}
		if !same(got) {
			return nil, &fs.PathError{Op: "open", Path: rel, Err: ErrChanged}
		}
	}
	src := xattrSource{
		list: func(b []byte) (int, error) { return unix.Flistxattr(fd, b) },
		get:  func(n string, b []byte) (int, error) { return unix.Fgetxattr(fd, n, b) },
	}
	if !byFD {
		// An O_PATH descriptor has no f*xattr; following its /proc
		// magic link (listxattr, not llistxattr) reaches the opened
		// inode itself, a symlink's too, without resolving any path.
		p := "/proc/self/fd/" + strconv.Itoa(fd)
		src = xattrSource{
			list: func(b []byte) (int, error) { return unix.Listxattr(p, b) },
			get:  func(n string, b []byte) (int, error) { return unix.Getxattr(p, n, b) },
			proc: true,
		}
	}
	return src.read(rel, keep)
}

// openForXattrs opens rel for reading its attributes: for reading when it
// was listed as a regular file or directory and may be read (byFD), with
// O_PATH otherwise.
func (r *Root) openForXattrs(rel string, typ fs.FileMode) (fd int, byFD bool, err error) {
	const common = unix.O_NOFOLLOW | unix.O_CLOEXEC
	switch typ {
	case 0:
		fd, err = r.openPath(r.fd, rel, dataFlags)
	case fs.ModeDir:
		fd, err = r.openPath(r.fd, rel, dirFlags)
	default:
		err = unix.EACCES
	}
	if err == nil {
		return fd, true, nil
	}
	if err != unix.EACCES && err != unix.EPERM {
		return -1, false, err
	}
	fd, err = r.openPath(r.fd, rel, unix.O_PATH|common)
	return fd, false, err
}

// xattrSource lists and reads the attributes of one opened entry.
type xattrSource struct {
	list func([]byte) (int, error)
	get  func(string, []byte) (int, error)
	proc bool // through /proc/self/fd
}

// read returns the attributes keep accepts, sorted by name.
func (x xattrSource) read(rel string, keep func(string) bool) ([]Xattr, error) {
	buf, err := sized(x.list)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil // the file system keeps none
		}
		if x.proc && errors.Is(err, unix.ENOENT) {
			return nil, &fs.PathError{Op: "listxattr", Path: rel, Err: errors.New("/proc is not mounted: extended attributes cannot be read safely")}
		}
		return nil, &fs.PathError{Op: "listxattr", Path: rel, Err: err}
	}
	var out []Xattr
	for _, n := range strings.Split(string(buf), "\x00") {
		if n == "" || (keep != nil && !keep(n)) {
			continue
		}
		v, err := sized(func(b []byte) (int, error) { return x.get(n, b) })
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, &fs.PathError{Op: "getxattr " + n, Path: rel, Err: err}
		}
		out = append(out, Xattr{Name: n, Value: v})
	}
	slices.SortFunc(out, func(a, b Xattr) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// sized calls a list or get call with a buffer that usually fits at the
// first try; when it does not (ERANGE) it asks for the size and tries
// again, a bounded number of times (the value may keep growing).
func sized(call func([]byte) (int, error)) ([]byte, error) {
	buf := make([]byte, 1024)
	for tries := 0; tries < 8; tries++ {
		n, err := call(buf)
		if err == nil {
			return buf[:n], nil
		}
		if !errors.Is(err, unix.ERANGE) {
			return nil, err
		}
		if n, err = call(nil); err != nil {
			return nil, err
		}
		buf = make([]byte, n+64)
	}
	return nil, fmt.Errorf("%w: the attributes keep growing", unix.ERANGE)
}
