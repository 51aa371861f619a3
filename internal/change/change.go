// Package change is the vocabulary of a change below a source root, shared
// by every stage from the watcher to the targets: the watcher reports an
// Op, the collator merges Ops per path, and a target applies them. It
// imports nothing from gsync.
package change

import (
	"fmt"
	"io/fs"
)

// Op is the kind of a change to one path.
type Op uint8

// The operations. Targets are state-based: for them Create, Modify and
// Attrib all mean "make the path equal to the source as it is now"; Delete
// means the same with deletes allowed, and Move is a rename From -> Path
// they may apply as one (a rename in place of a re-send).
const (
	Create   Op = iota + 1 // a new file, directory, symlink or special file
	Modify                 // file content written (close-write, or a write to a file kept open)
	Attrib                 // metadata changed (mode, mtime, owner)
	Delete                 // removed (or moved out of the tree)
	Move                   // renamed inside the tree: From -> Path
	Overflow               // events were lost; the owner must rescan everything (watcher only)
)

// String returns the name of o, as logs and the status file spell it.
func (o Op) String() string {
	switch o {
	case Create:
		return "Create"
	case Modify:
		return "Modify"
	case Attrib:
		return "Attrib"
	case Delete:
		return "Delete"
	case Move:
		return "Move"
	case Overflow:
		return "Overflow"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Root is how every gsync package spells the source root itself as a path
// relative to the root: ".", like rsync's file list. Other relative paths
// are slash-separated, never empty, and never start with "/" or "./".
const Root = "."

// TypeOf is the word for the type of an entry with mode m, as hook input
// and gsync explain report it: "file", "dir", "symlink" or "other".
func TypeOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}
