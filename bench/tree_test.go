package bench

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// treeTime is the mtime of every generated entry, so that a source and its
// copy are identical to rsync's quick check.
var treeTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// treeSize counts what makeTree made.
type treeSize struct{ dirs, files int }

// makeTree creates about dirs directories below each of roots (identical
// trees), two levels deep (dNNN/sNNNN, up to 1,000 per parent), with
// filesPerDir files of fileSize bytes in every second-level directory. Two
// goroutines share the work.
func makeTree(roots []string, dirs, filesPerDir, fileSize int) (treeSize, error) {
	top := max(1, (dirs+999)/1000)
	per := max(0, (dirs-top)/top)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	next := make(chan int)
	for range 2 {
		wg.Add(1)
		go func() { // owned: ends when next is closed
			defer wg.Done()
			for i := range next {
				if err := makeTop(roots, i, per, filesPerDir, fileSize); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range top {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return treeSize{}, err
	}
	for _, r := range roots {
		if err := os.Chtimes(r, treeTime, treeTime); err != nil {
			return treeSize{}, fmt.Errorf("set mtime of %s: %w", r, err)
		}
	}
	return treeSize{dirs: top + top*per, files: top * per * filesPerDir}, nil
}

func makeTop(roots []string, i, per, filesPerDir, fileSize int) error {
	content := make([]byte, fileSize)
	for k := range content {
		content[k] = 'a' + byte(k%26)
	}
	for _, r := range roots {
		d := filepath.Join(r, fmt.Sprintf("d%03d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create tree: %w", err)
		}
		for j := range per {
			s := filepath.Join(d, fmt.Sprintf("s%04d", j))
			if err := os.Mkdir(s, 0o755); err != nil {
				return fmt.Errorf("create tree: %w", err)
			}
			for f := range filesPerDir {
				p := filepath.Join(s, fmt.Sprintf("f%d", f))
				if err := os.WriteFile(p, content, 0o644); err != nil {
					return fmt.Errorf("create tree: %w", err)
				}
				if err := os.Chtimes(p, treeTime, treeTime); err != nil {
					return fmt.Errorf("create tree: %w", err)
				}
			}
			if err := os.Chtimes(s, treeTime, treeTime); err != nil {
				return fmt.Errorf("create tree: %w", err)
			}
		}
		if err := os.Chtimes(d, treeTime, treeTime); err != nil {
			return fmt.Errorf("create tree: %w", err)
		}
	}
	return nil
}

// countFiles counts the regular files below dir (0 if it is missing).
func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
