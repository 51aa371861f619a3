package state

import (
	"io/fs"
	"syscall"
)

// entryOf is the index entry of an lstat result.
func entryOf(fi fs.FileInfo) Entry {
	e := Entry{Mode: fi.Mode(), Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Ino = st.Ino
		e.Ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	if fi.IsDir() {
		e.Size = 0 // a directory's size says nothing about what is in it
	}
	return e
}
