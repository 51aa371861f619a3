package treediff

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/sys/unix"
)

// listXattrs returns every extended attribute of p (not following a final
// symlink), names sorted, values raw: the kernel's list, POSIX ACLs
// included as system.posix_acl_*.
func listXattrs(p string) ([]string, map[string][]byte, error) {
	buf := make([]byte, 1024)
	var n int
	for {
		var err error
		n, err = unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			size, err := unix.Llistxattr(p, nil)
			if err != nil {
				return nil, nil, fmt.Errorf("list xattrs of %s: %w", p, err)
			}
			buf = make([]byte, size+256)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("list xattrs of %s: %w", p, err)
		}
		break
	}
	var names []string
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) > 0 {
			names = append(names, string(name))
		}
	}
	sort.Strings(names)
	vals := make(map[string][]byte, len(names))
	for _, name := range names {
		v, err := getXattr(p, name)
		if err != nil {
			return nil, nil, err
		}
		vals[name] = v
	}
	return names, vals, nil
}

func getXattr(p, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			size, err := unix.Lgetxattr(p, name, nil)
			if err != nil {
				return nil, fmt.Errorf("get xattr %s of %s: %w", name, p, err)
			}
			buf = make([]byte, size+256)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, p, err)
		}
		return buf[:n], nil
	}
}
