package watcher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirEntry is one name read from a directory.
type dirEntry struct {
	name  string
	isDir bool
}

// dirReader lists directories with getdents64 into one reused buffer: no
// sorting, no os.File (which would register every directory with the
// runtime poller and back out again) and no per-entry allocation besides
// the name. Watching a large tree spends most of its time here.
type dirReader struct {
	buf  []byte
	ents []dirEntry
}

// offsets in struct linux_dirent64
const (
	direntReclen = int(unsafe.Offsetof(unix.Dirent{}.Reclen))
	direntType   = int(unsafe.Offsetof(unix.Dirent{}.Type))
	direntName   = int(unsafe.Offsetof(unix.Dirent{}.Name))
)

// readFD returns the entries of the open directory fd except "." and
// "..", in directory order; dir names it in errors. The slice is reused by
// the next call.
func (r *dirReader) readFD(fd int, dir string) ([]dirEntry, error) {
	if r.buf == nil {
		r.buf = make([]byte, 32<<10)
	}
	r.ents = r.ents[:0]
	for {
		n, err := unix.Getdents(fd, r.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return r.ents, &os.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if n <= 0 {
			return r.ents, nil
		}
		if err := r.parse(dir, fd, r.buf[:n]); err != nil {
			return r.ents, err
		}
	}
}

// parse appends the entries of one getdents64 result.
func (r *dirReader) parse(dir string, fd int, b []byte) error {
	for len(b) > 0 {
		if len(b) < direntName {
			return fmt.Errorf("read directory %s: short dirent", dir)
		}
		reclen := int(binary.NativeEndian.Uint16(b[direntReclen:]))
		if reclen < direntName || reclen > len(b) {
			return fmt.Errorf("read directory %s: bad dirent length %d", dir, reclen)
		}
		typ := b[direntType]
		name := b[direntName:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		b = b[reclen:]
		if len(name) == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		isDir := typ == unix.DT_DIR
		if typ == unix.DT_UNKNOWN { // some file systems do not fill d_type
			var st unix.Stat_t
			if err := unix.Fstatat(fd, string(name), &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
				isDir = st.Mode&unix.S_IFMT == unix.S_IFDIR
			}
		}
		r.ents = append(r.ents, dirEntry{name: string(name), isDir: isDir})
	}
	return nil
}
