package watcher

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxStartupWorkers bounds the goroutines that add the startup watches.
const maxStartupWorkers = 4

// startupProgressEvery is how often a long watch setup logs its progress.
const startupProgressEvery = 5 * time.Second

// startDir is a directory waiting to be watched at startup.
type startDir struct {
	rel    string // its path
	name   string // its name in parent
	parent nodeID // none for the root
}

// watchTree adds the watches of the whole tree at startup, before the
// reader runs. Watching is almost all system calls (open, getdents64,
// inotify_add_watch, close per directory), so several goroutines share
// the directories; the tables and Options.Exclude are used under one
// mutex. Files are not looked at. Errors are those of walk at startup: the
// root's, and running out of watches.
func (w *inotifyWatcher) watchTree() error {
	workers := min(runtime.GOMAXPROCS(0), maxStartupWorkers)
	var (
		mu       sync.Mutex
		wake     = sync.NewCond(&mu)
		stack    = []startDir{{}}
		busy     int // workers between taking a directory and queueing its subdirectories
		waiting  int // workers waiting for work
		firstErr error
		wg       sync.WaitGroup
	)
	worker := func() {
		defer wg.Done()
		var dirs dirReader
		var subdirs []startDir
		mu.Lock()
		defer mu.Unlock()
		for {
			for len(stack) == 0 && busy > 0 && firstErr == nil {
				waiting++
				wake.Wait()
				waiting--
			}
			if len(stack) == 0 || firstErr != nil {
				wake.Broadcast() // done: let the others see it
				return
			}
			it := stack[len(stack)-1]
			d := it.rel
			stack = stack[:len(stack)-1]
			busy++
			mu.Unlock()

			subdirs = subdirs[:0]
			wd, fd, werr := w.watchDir(d)
			var ents []dirEntry
			var rerr error
			if werr == nil {
				ents, rerr = dirs.readFD(fd, absPath(w.root, d))
				unix.Close(fd)
			}

			mu.Lock()
			busy--
			switch {
			case errors.Is(werr, unix.ENOSPC):
				if firstErr == nil {
					firstErr = &WatchLimitError{Dirs: w.index.n, Path: absPath(w.root, d)}
				}
				continue
			case werr != nil && d == "":
				firstErr = werr
				continue
			case werr != nil:
				w.dropReplaced(wd, werr)
				w.log.Warn("cannot watch directory; changes below it are missed",
					"path", absPath(w.root, d), "err", werr)
				continue
			}
			node, ok := w.record(wd, it.parent, it.name)
			if !ok {
				w.log.Warn("cannot watch directory; changes below it are missed",
					"path", absPath(w.root, d), "err", errLoop)
				continue
			}
			if rerr != nil {
				if d == "" {
					firstErr = fmt.Errorf("read directory %s: %w", w.root, rerr)
					continue
				}
				w.log.Warn("cannot scan directory", "path", absPath(w.root, d), "err", rerr)
			}
			for _, e := range ents {
				if !e.isDir {
					continue
				}
				if p := joinRel(d, e.name); !w.exclude(p, true) {
					subdirs = append(subdirs, startDir{rel: p, name: e.name, parent: node})
				}
			}
			stack = append(stack, subdirs...)
			if waiting > 0 && len(subdirs) > 0 {
				wake.Broadcast()
			}
		}
	}
	wg.Add(workers)
	for range workers {
		go worker() // owned: all return before watchTree does
	}
	// On a big tree, say how far the setup got every startupProgressEvery.
	done := make(chan struct{})
	logged := make(chan struct{})
	go func() { // owned: watchTree waits for it
		defer close(logged)
		tick := time.NewTicker(startupProgressEvery)
		defer tick.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				mu.Lock()
				n := w.index.n
				mu.Unlock()
				w.log.Info("setting up watches", "dirs", n, "elapsed", time.Since(start).Round(time.Second).String())
			}
		}
	}()
	wg.Wait()
	close(done)
	<-logged
	var lerr *WatchLimitError
	if errors.As(firstErr, &lerr) {
		lerr.Dirs = w.index.n // every watch added, also those recorded after the failure
	}
	return firstErr
}
