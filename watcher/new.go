package watcher

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Backend names accepted in Options.Backend.
const (
	BackendInotify  = "inotify"
	BackendFsnotify = "fsnotify"
)

// eventBuffer is the capacity of a watcher's Events channel. When it is full
// the reader blocks (it never drops events); the kernel queue then fills and
// overflows, which is reported as an Overflow event.
const eventBuffer = 4096

// errorBuffer is the capacity of a watcher's Errors channel. Errors are also
// logged, so one that finds the channel full is dropped after logging.
const errorBuffer = 16

// New starts watching opts.Root recursively with the backend named in
// opts.Backend ("" picks DefaultBackend). It returns once every directory
// under Root that opts.Exclude does not exclude is watched, so a full scan
// started after New returns cannot miss a change.
//
// If the kernel runs out of watches while New adds them, the error is a
// *WatchLimitError. The watcher stops when ctx ends or Close is called.
func New(ctx context.Context, opts Options) (Watcher, error) {
	if opts.Root == "" {
		return nil, fmt.Errorf("watch tree: no root directory given")
	}
	root := filepath.Clean(opts.Root)
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("watch tree %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("watch tree %s: not a directory", root)
	}
	opts.Root = root
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Exclude == nil {
		opts.Exclude = func(string, bool) bool { return false }
	}
	backend := opts.Backend
	if backend == "" {
		backend = DefaultBackend
	}
	switch backend {
	case BackendInotify:
		return newInotify(ctx, opts)
	case BackendFsnotify:
		return newFsnotify(ctx, opts)
	}
	return nil, fmt.Errorf("watch tree %s: unknown watch backend %q (valid: %s)",
		root, backend, strings.Join(Backends(), ", "))
}

// joinRel joins a relative directory path ("" is the root) and an entry name.
func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// absPath turns a relative, slash-separated path into an OS path below root.
// Names are joined without cleaning, so no name is ever rewritten.
func absPath(root, rel string) string {
	if rel == "" {
		return root
	}
	rel = filepath.FromSlash(rel)
	if strings.HasSuffix(root, string(filepath.Separator)) {
		return root + rel
	}
	return root + string(filepath.Separator) + rel
}

// inTree reports whether p is dir or lies below it (both relative).
func inTree(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// firstComponent splits a relative slash-separated path into its first
// name and the rest; ok is false for "".
func firstComponent(p string) (name, rest string, ok bool) {
	if p == "" {
		return "", "", false
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i], p[i+1:], true
		}
	}
	return p, "", true
}
