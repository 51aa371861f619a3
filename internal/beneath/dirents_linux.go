package beneath

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Dirent is a name read from a directory, with its d_type (DT_UNKNOWN
// where the file system gives none).
type Dirent struct {
	Name string
	Type uint8
}

// offsets in struct linux_dirent64
const (
	direntReclen = int(unsafe.Offsetof(unix.Dirent{}.Reclen))
	direntType   = int(unsafe.Offsetof(unix.Dirent{}.Type))
	direntName   = int(unsafe.Offsetof(unix.Dirent{}.Name))
)

// ReadDirents appends to ents the entries of the open directory fd but
// "." and "..", in directory order, read with getdents64 into buf: no
// os.File (which would register every directory with the runtime poller)
// and no allocation besides the names. rel names the directory in
// errors.
func ReadDirents(fd int, rel string, buf []byte, ents []Dirent) ([]Dirent, error) {
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return ents, &fs.PathError{Op: "getdents", Path: rel, Err: err}
		}
		if n <= 0 {
			return ents, nil
		}
		if ents, err = parseDirents(buf[:n], ents); err != nil {
			return ents, &fs.PathError{Op: "getdents", Path: rel, Err: err}
		}
	}
}

// parseDirents appends the entries of one getdents64 result.
func parseDirents(b []byte, ents []Dirent) ([]Dirent, error) {
	for len(b) > 0 {
		if len(b) < direntName {
			return ents, errors.New("short dirent")
		}
		reclen := int(binary.NativeEndian.Uint16(b[direntReclen:]))
		if reclen < direntName || reclen > len(b) {
			return ents, fmt.Errorf("bad dirent length %d", reclen)
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
		ents = append(ents, Dirent{Name: string(name), Type: typ})
	}
	return ents, nil
}
