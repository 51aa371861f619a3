package watcher

import (
	"golang.org/x/sys/unix"

	ibeneath "github.com/gsync/gsync/internal/beneath"
)

// dirEntry is one name read from a directory.
type dirEntry struct {
	name  string
	isDir bool
}

// dirReader lists directories with getdents64 into one reused buffer
// (internal/beneath.ReadDirents): no sorting, no os.File and no per-entry
// allocation besides the name. Watching a large tree spends most of its
// time here.
type dirReader struct {
	buf  []byte
	raw  []ibeneath.Dirent
	ents []dirEntry
}

// readFD returns the entries of the open directory fd except "." and
// "..", in directory order; dir names it in errors. The slice is reused by
// the next call.
func (r *dirReader) readFD(fd int, dir string) ([]dirEntry, error) {
	if r.buf == nil {
		r.buf = make([]byte, 32<<10)
	}
	raw, err := ibeneath.ReadDirents(fd, dir, r.buf, r.raw[:0])
	r.raw = raw
	r.ents = r.ents[:0]
	for _, d := range raw {
		isDir := d.Type == unix.DT_DIR
		if d.Type == unix.DT_UNKNOWN { // some file systems do not fill d_type
			var st unix.Stat_t
			if err := unix.Fstatat(fd, d.Name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
				isDir = st.Mode&unix.S_IFMT == unix.S_IFDIR
			}
		}
		r.ents = append(r.ents, dirEntry{name: d.Name, isDir: isDir})
	}
	return r.ents, err
}
