// Package watcher reports changes below a directory tree, recursively.
//
// On Linux it uses inotify directly (golang.org/x/sys/unix); elsewhere, and on
// Linux when asked for, it uses github.com/fsnotify/fsnotify. Both backends
// deliver the same Event type.
package watcher

import (
	"fmt"
	"log/slog"

	"github.com/gsync/gsync/internal/change"
)

// Event is one change below the root. Paths are slash-separated and relative
// to the root, never empty and never starting with "/"; names are passed
// through byte for byte (spaces, newlines, backslashes, invalid UTF-8).
// The one exception is Overflow, which has an empty Path.
type Event struct {
	Path  string
	Op    change.Op
	IsDir bool
	From  string // old path of a Move; empty otherwise
}

// Options configure a Watcher.
type Options struct {
	// Root is the directory to watch, recursively.
	Root string
	// Exclude reports whether a path (relative, slash-separated) is
	// excluded, itself or through a parent directory (filter.Set.Excluded's
	// contract, the same for every stage). Excluded directories are never
	// watched; events on excluded paths are dropped. Nil excludes nothing.
	Exclude func(rel string, isDir bool) bool
	// Backend is "inotify" (default on Linux) or "fsnotify" (default elsewhere).
	Backend string
	// Writes says which kernel events report a written file (lsyncd's
	// inotifyMode); the zero value takes both.
	Writes WriteEvents
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
}

// WriteEvents says which inotify events report that a file's data was
// written (lsyncd's inotifyMode, lsyncd.lua: the "CloseWrite", "Modify"
// and "CloseWrite or Modify" cases of Inotify's event mask).
type WriteEvents uint8

// The write events a watcher can take.
const (
	// WritesAll takes IN_CLOSE_WRITE and IN_MODIFY (gsync's default, and
	// lsyncd's "CloseWrite or Modify"): a file written and kept open,
	// like a log, or truncated, is reported too.
	WritesAll WriteEvents = iota
	// WritesCloseWrite takes IN_CLOSE_WRITE only (lsyncd's "CloseWrite",
	// its default): a file is reported when a writer closes it.
	WritesCloseWrite
	// WritesModify takes IN_MODIFY only (lsyncd's "Modify"): a file is
	// reported as it is written, never for its close.
	WritesModify
)

// ParseInotifyMode returns the WriteEvents of an lsyncd inotifyMode.
func ParseInotifyMode(mode string) (WriteEvents, error) {
	switch mode {
	case "CloseWrite":
		return WritesCloseWrite, nil
	case "Modify":
		return WritesModify, nil
	case "CloseWrite or Modify", "":
		return WritesAll, nil
	}
	return 0, fmt.Errorf("parse inotifyMode %q: want \"CloseWrite\", \"Modify\" or \"CloseWrite or Modify\"", mode)
}

func (e WriteEvents) String() string {
	switch e {
	case WritesCloseWrite:
		return "CloseWrite"
	case WritesModify:
		return "Modify"
	}
	return "CloseWrite or Modify"
}

// Watcher delivers events for a tree until Close or until its context ends.
type Watcher interface {
	// Events delivers changes in the order the kernel reported them.
	// It is closed when the watcher stops.
	Events() <-chan Event
	// Errors delivers runtime errors such as *WatchLimitError. A watcher keeps
	// running after sending one; the owner decides whether to stop. Every
	// error is also logged, and one that finds the channel full is dropped.
	// It is closed when the watcher stops.
	Errors() <-chan error
	// Watches is the number of directories currently watched.
	Watches() int
	// Close stops the watcher and releases its resources.
	Close() error
}

// WatchLimitError reports that the kernel refused another watch (ENOSPC).
type WatchLimitError struct {
	Dirs int    // directories watched when the limit was hit
	Path string // directory that could not be watched
}

func (e *WatchLimitError) Error() string {
	return fmt.Sprintf("watch %s: out of inotify watches after %d directories; "+
		"raise fs.inotify.max_user_watches (sysctl -w fs.inotify.max_user_watches=N) "+
		"or exclude large subtrees", e.Path, e.Dirs)
}
