//go:build !unix

package watcher

import "os"

// beneath lists directories below the root; without openat it reads
// them by path.
type beneath struct{ root string }

// openRoot remembers the root.
func openRoot(root string) (*beneath, error) { return &beneath{root: root}, nil }

// close does nothing.
func (b *beneath) close() {}

// readDir lists the directory rel below the root.
func (b *beneath) readDir(rel string) ([]os.DirEntry, error) { return os.ReadDir(absPath(b.root, rel)) }
