//go:build unix

package watcher

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// addWatch adds the fsnotify watch of the directory rel and checks, by
// device and inode, that the path still names the directory beneath the
// root that was opened before the add (fsnotify takes a path, which a
// symlink swapped into a parent could redirect); on a mismatch the watch
// is removed and errReplaced returned.
func (w *fsWatcher) addWatch(rel string) error {
	fd, err := w.tree.openDir(rel, pathFlag)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", absPath(w.root, rel), err)
	}
	id, err := identity(fd)
	unix.Close(fd)
	if err != nil {
		return err
	}
	p := absPath(w.root, rel)
	if err := w.fw.Add(p); err != nil {
		return err
	}
	if !w.tree.resolvesTo(rel, id) {
		w.fw.Remove(p)
		return fmt.Errorf("watch %s: %w", p, errReplaced)
	}
	return nil
}
