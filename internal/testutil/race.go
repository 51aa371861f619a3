package testutil

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// SymlinkSwap is one entry to swap in a race: Name (relative to the
// tree) is replaced for a moment by a symlink to Target.
type SymlinkSwap struct {
	Name, Target string
}

// SwapSymlinks starts one goroutine per swap that, until ctx ends,
// renames root/Name aside, puts a symlink to Target in its place for
// 200 µs and moves the entry back. The returned function waits until
// every goroutine has stopped; cancel ctx first.
func SwapSymlinks(t *testing.T, ctx context.Context, root string, swaps ...SymlinkSwap) (wait func()) {
	t.Helper()
	var wg sync.WaitGroup
	for _, s := range swaps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := filepath.Join(root, s.Name)
			aside := p + ".aside"
			for ctx.Err() == nil {
				if os.Rename(p, aside) == nil {
					os.Symlink(s.Target, p)
					time.Sleep(200 * time.Microsecond)
					os.Remove(p)
					os.Rename(aside, p)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	return wg.Wait
}

// FileContaining returns the first regular file below dir whose content
// holds marker, or "" when none does. Unreadable entries are skipped.
func FileContaining(t *testing.T, dir, marker string) string {
	t.Helper()
	found := ""
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(marker)) {
			found = p
		}
		return nil
	})
	return found
}
