package control

import (
	"fmt"
	"os"
)

// CheckDir verifies that dir, the directory of the default control
// sockets (DefaultDir), is private to this process's user: a real
// directory (not a symlink), owned by the effective user, with mode 0700.
// Another user who could create or replace it could serve a fake status,
// or catch the connections of "gsync status".
func CheckDir(dir string) error { return checkDir(dir, true) }

// checkDir is CheckDir; with strict false (the directory of a socket the
// user named) it also accepts a directory that others may read and
// search but not write.
func checkDir(dir string, strict bool) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check control socket directory: %w", err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("control socket directory %s is a symlink; remove it (gsync creates a private directory) or use --control-socket in a directory of your own", dir)
	case !fi.IsDir():
		return fmt.Errorf("control socket directory %s is not a directory", dir)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("control socket directory %s is owned by uid %d, not by this user (uid %d); remove it or use --control-socket in a directory of your own", dir, uid, os.Geteuid())
	}
	perm := fi.Mode().Perm()
	switch {
	case strict && perm != 0o700:
		return fmt.Errorf("control socket directory %s has mode %04o, want 0700 (chmod 700 it)", dir, perm)
	case perm&0o022 != 0:
		return fmt.Errorf("control socket directory %s has mode %04o: writable by group or others (chmod go-w it, or use a directory of your own)", dir, perm)
	}
	return nil
}
