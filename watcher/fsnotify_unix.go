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
//
// A directory renamed before the Create of its new parent is handled
// is still watched under its old name, whose removal is not handled
// yet. inotify keeps one watch per directory, and fsnotify keeps it
// under the first name (events below it come with that name), so the
// old name's watch is removed first and the directory watched anew
// under rel; the old name stays known as a directory until its removal
// is handled (dropTree then finds no watch there). Without this, that
// removal took the directory's only watch with it, and nothing below it
// was reported again (TestLocalLiveChurn with this backend).
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
	if old, ok := w.names[id]; ok && old != rel {
		w.removeWatch(old)
		delete(w.names, id)
	}
	if err := w.fw.Add(p); err != nil {
		return err
	}
	if !w.tree.resolvesTo(rel, id) {
		w.fw.Remove(p)
		return fmt.Errorf("watch %s: %w", p, errReplaced)
	}
	w.ids[rel], w.names[id] = id, rel
	return nil
}
