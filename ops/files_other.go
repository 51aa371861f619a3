//go:build !unix

package ops

import (
	"fmt"
	"os"
)

// lockFile does nothing where flock is missing.
func lockFile(*os.File) error { return nil }

// OpenRegular opens (or creates) path for gsync's own files, refusing a
// symlink or anything else that is not a regular file. Without O_NOFOLLOW
// the check is made before and after the open.
func OpenRegular(path string, flag int, perm os.FileMode) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open %s: not a regular file (%s)", path, fi.Mode().Type())
	}
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open %s: not a regular file", path)
	}
	return f, nil
}

// OpenDevice opens path for writing in place when it is a character
// device or a FIFO itself (never through a symbolic link); isDevice is
// false (f nil, err nil) for anything else, a missing path included.
// flag adds to O_WRONLY.
func OpenDevice(path string, flag int) (f *os.File, isDevice bool, err error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&(os.ModeCharDevice|os.ModeNamedPipe) == 0 {
		return nil, false, nil
	}
	f, err = os.OpenFile(path, flag|os.O_WRONLY, 0)
	return f, true, err
}
