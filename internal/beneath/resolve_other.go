//go:build unix && !linux

package beneath

import "golang.org/x/sys/unix"

// oPath: there is no O_PATH here; directories are opened for reading.
const oPath = unix.O_RDONLY

// openat2 does not exist here: every path is resolved by the walk.
func openat2(int, string, int) (int, error) { return -1, unix.ENOSYS }

func fallBack(err error) bool { return err == unix.ENOSYS }
