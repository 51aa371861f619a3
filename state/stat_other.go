//go:build !linux

package state

import "io/fs"

// entryOf is the index entry of an lstat result: without the inode and
// ctime, which this platform's build does not read (a change that keeps
// size and mtime goes unseen until the verification full sync).
func entryOf(fi fs.FileInfo) Entry {
	e := Entry{Mode: fi.Mode(), Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if fi.IsDir() {
		e.Size = 0
	}
	return e
}
