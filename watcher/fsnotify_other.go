//go:build !unix

package watcher

// addWatch adds the fsnotify watch of the directory rel.
func (w *fsWatcher) addWatch(rel string) error { return w.fw.Add(absPath(w.root, rel)) }
