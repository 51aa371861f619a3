package treediff

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// DriftExclude is the exclude pattern of the tree PlantDrift makes: the
// entries it matches differ between source and target, and a verify
// that honours it must report none of them.
const DriftExclude = "*.tmp"

// PlantDrift fills the empty directories src and dst with a tree that
// has one entry of each kind of difference a mirror can drift by, and
// returns their paths (slash-separated, relative): "content" (same size
// and mtime, other bytes: found only by checksums), "size", "time",
// "mode", "owner" and "group" (only when running as root; else not
// planted), "link" (another symlink target), "missing" and
// "newdir/missing" (not on the target), "extra" and "extradir/x" (only on
// the target), "type" (a file at the source, a directory on the
// target). "same" and "dir/same" are equal; "keep.tmp" (only on the
// target) and "skip.tmp" (only at the source) are excluded by
// DriftExclude. Directory mtimes are made equal last.
func PlantDrift(src, dst string) ([]string, error) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	var planted []string
	var err error
	write := func(root, rel, content string, mode os.FileMode, mtime time.Time) {
		if err != nil {
			return
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return
		}
		if err = os.WriteFile(p, []byte(content), mode); err != nil {
			return
		}
		if err = os.Chmod(p, mode); err != nil {
			return
		}
		err = os.Chtimes(p, mtime, mtime)
	}
	both := func(rel, content string) {
		write(src, rel, content, 0o644, when)
		write(dst, rel, content, 0o644, when)
	}
	both("same", "equal")
	both("dir/same", "equal too")
	write(src, "content", "aaaa", 0o644, when)
	write(dst, "content", "bbbb", 0o644, when)
	write(src, "size", "1", 0o644, when)
	write(dst, "size", "12", 0o644, when)
	write(src, "time", "t", 0o644, when)
	write(dst, "time", "t", 0o644, when.Add(-time.Hour))
	write(src, "mode", "m", 0o644, when)
	write(dst, "mode", "m", 0o600, when)
	planted = append(planted, "content", "size", "time", "mode")
	if os.Geteuid() == 0 {
		both("owner", "o")
		both("group", "g")
		if err == nil {
			err = os.Lchown(filepath.Join(dst, "owner"), 65534, -1)
		}
		if err == nil {
			err = os.Lchown(filepath.Join(dst, "group"), -1, 65534)
		}
		planted = append(planted, "owner", "group")
	}
	write(src, "missing", "new", 0o644, when)
	write(src, "newdir/missing", "new in a new dir", 0o644, when)
	write(dst, "extra", "only on the target", 0o644, when)
	write(dst, "extradir/x", "only on the target", 0o644, when)
	write(src, "type", "a file", 0o644, when)
	write(dst, "type/inner", "a dir on the target", 0o644, when)
	write(dst, "keep.tmp", "excluded, only on the target", 0o644, when)
	write(src, "skip.tmp", "excluded, only at the source", 0o644, when)
	if err != nil {
		return nil, fmt.Errorf("plant drift: %w", err)
	}
	if err := os.Symlink("target-one", filepath.Join(src, "link")); err != nil {
		return nil, fmt.Errorf("plant drift: %w", err)
	}
	if err := os.Symlink("target-two", filepath.Join(dst, "link")); err != nil {
		return nil, fmt.Errorf("plant drift: %w", err)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(when.UnixNano()), unix.NsecToTimespec(when.UnixNano())}
	for _, root := range []string{src, dst} {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, "link"), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, fmt.Errorf("plant drift: %w", err)
		}
	}
	planted = append(planted, "link", "missing", "newdir/missing", "extra", "extradir/x", "type")
	for _, root := range []string{src, dst} {
		for _, d := range []string{"dir", "newdir", "extradir", "type", "."} {
			p := filepath.Join(root, d)
			if _, err := os.Lstat(p); err != nil {
				continue
			}
			if err := os.Chtimes(p, when, when); err != nil {
				return nil, fmt.Errorf("plant drift: %w", err)
			}
		}
	}
	return planted, nil
}
