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
// keep(name) is true (nil keeps all). The entry is opened with
// O_PATH|O_NOFOLLOW beneath the root, no symlink followed in any
// component, so nothing is opened for reading (no FIFO blocks, no device
// is opened); if same is not nil it must accept the opened entry's
// attributes (SameFile: the listed file) or the result is ErrChanged. The
// attributes are read through /proc/self/fd/N, which names the opened
// inode.
func (r *Root) Xattrs(rel string, same func(fs.FileInfo) bool, keep func(name string) bool) ([]Xattr, error) {
	rel, err := cleanRel(rel)
	if err != nil {
		return nil, &fs.PathError{Op: "listxattr", Path: rel, Err: err}
	}
	fd := r.fd
	if rel != "." {
		fd, err = r.openPath(r.fd, rel, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
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
	return readXattrs("/proc/self/fd/"+strconv.Itoa(fd), rel, keep)
}

// readXattrs lists and reads the attributes of p, a /proc/self/fd magic
// link: following it (listxattr, not llistxattr) reaches the opened
// inode itself, a symlink's too, without resolving any path again.
func readXattrs(p, rel string, keep func(string) bool) ([]Xattr, error) {
	names, err := listXattr(p)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil // the file system keeps none
		}
		if errors.Is(err, unix.ENOENT) && strings.HasPrefix(p, "/proc/") {
			return nil, &fs.PathError{Op: "listxattr", Path: rel, Err: errors.New("/proc is not mounted: extended attributes cannot be read safely")}
		}
		return nil, &fs.PathError{Op: "listxattr", Path: rel, Err: err}
	}
	var out []Xattr
	for _, n := range names {
		if keep != nil && !keep(n) {
			continue
		}
		v, err := getXattr(p, n)
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

// listXattr returns the attribute names of p, growing its buffer while
// the list grows under it (ERANGE).
func listXattr(p string) ([]string, error) {
	for tries := 0; tries < 8; tries++ {
		n, err := unix.Listxattr(p, nil)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, nil
		}
		buf := make([]byte, n)
		n, err = unix.Listxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				names = append(names, s)
			}
		}
		return names, nil
	}
	return nil, fmt.Errorf("listxattr %s: the list keeps changing", p)
}

// getXattr returns the value of attribute name of p.
func getXattr(p, name string) ([]byte, error) {
	for tries := 0; tries < 8; tries++ {
		n, err := unix.Getxattr(p, name, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = unix.Getxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	return nil, fmt.Errorf("getxattr %s %s: the value keeps changing", p, name)
}
