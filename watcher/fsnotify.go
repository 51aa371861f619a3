package watcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/fsnotify/fsnotify"

	"github.com/gsync/gsync/internal/change"
)

// fsWatcher is the portable backend on github.com/fsnotify/fsnotify. It adds
// every directory itself (non-recursive watches). fsnotify cannot pair
// renames, so a rename is a Delete of the old name and a Create of the new.
type fsWatcher struct {
	root    string
	prefix  string // root with a trailing separator
	exclude func(string, bool) bool
	log     *slog.Logger
	fw      *fsnotify.Watcher
	tree    *beneath // reads directories beneath the root, following no symlink

	events chan Event
	errs   chan error
	done   chan struct{}
	exited chan struct{}

	stopOnce  sync.Once
	closeOnce sync.Once
	stopCtx   func() bool
	nwatch    atomic.Int64

	dirs     map[string]struct{} // watched directories, relative; owned by run
	gone     map[string]struct{} // directories dropped, whose own event may follow
	stopping bool
	// ids and names pair each watched directory (unix: addWatch) with
	// its identity, to find a directory watched under the name it had
	// before a rename that is not reported yet; owned by run.
	ids   map[string]devIno
	names map[devIno]string
}

// devIno identifies a directory.
type devIno struct{ dev, ino uint64 }

func newFsnotify(ctx context.Context, opts Options) (Watcher, error) {
	// Unbuffered on purpose: fsnotify then hands over one event at a time,
	// so a directory's rename is handled before later events on it.
	tree, err := openRoot(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("watch tree %s: %w", opts.Root, err)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		tree.close()
		return nil, fmt.Errorf("create fsnotify watcher: %w", err)
	}
	if opts.Writes == WritesCloseWrite {
		opts.Logger.Warn("the fsnotify backend has no close events: written files are reported as they are written (inotifyMode CloseWrite needs the inotify backend)")
	}
	prefix := opts.Root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	w := &fsWatcher{
		root:    opts.Root,
		prefix:  prefix,
		exclude: opts.Exclude,
		log:     opts.Logger,
		fw:      fw,
		tree:    tree,
		events:  make(chan Event, eventBuffer),
		errs:    make(chan error, errorBuffer),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
		dirs:    make(map[string]struct{}),
		gone:    make(map[string]struct{}),
		ids:     make(map[string]devIno),
		names:   make(map[devIno]string),
	}
	if err := w.walk("", false, true); err != nil {
		fw.Close()
		tree.close()
		return nil, err
	}
	w.log.Debug("watching tree", "root", w.root, "backend", BackendFsnotify, "dirs", w.Watches())
	go w.run()
	w.stopCtx = context.AfterFunc(ctx, w.stop)
	return w, nil
}

// Events implements Watcher.
func (w *fsWatcher) Events() <-chan Event { return w.events }

// Errors implements Watcher.
func (w *fsWatcher) Errors() <-chan error { return w.errs }

// Watches implements Watcher.
func (w *fsWatcher) Watches() int { return int(w.nwatch.Load()) }

// Close implements Watcher. It waits for the event goroutine to return.
func (w *fsWatcher) Close() error {
	w.closeOnce.Do(func() {
		w.stopCtx()
		w.stop()
		<-w.exited
	})
	return nil
}

func (w *fsWatcher) stop() { w.stopOnce.Do(func() { close(w.done) }) }

func (w *fsWatcher) run() {
	defer func() {
		if err := w.fw.Close(); err != nil {
			w.log.Warn("close fsnotify watcher", "err", err)
		}
		w.tree.close()
		close(w.events)
		close(w.errs)
		close(w.exited)
	}()
	for !w.stopping {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			w.handle(ev)
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.Warn("fsnotify event queue overflowed; events were lost", "root", w.root)
				w.send(Event{Op: change.Overflow})
				continue
			}
			w.log.Error("watch error", "root", w.root, "err", err)
			w.report(err)
		}
	}
}

// rel turns an fsnotify event name into a relative, slash-separated path.
func (w *fsWatcher) rel(name string) (string, bool) {
	if !strings.HasPrefix(name, w.prefix) {
		return "", false
	}
	return filepath.ToSlash(name[len(w.prefix):]), true
}

func (w *fsWatcher) handle(fe fsnotify.Event) {
	rel, ok := w.rel(fe.Name)
	if !ok || rel == "" {
		return
	}
	_, wasDir := w.dirs[rel]
	if fe.Has(fsnotify.Remove) || fe.Has(fsnotify.Rename) {
		if _, ok := w.gone[rel]; ok && !wasDir {
			// The directory's own watch reporting a removal or rename
			// already reported by its parent.
			delete(w.gone, rel)
			return
		}
		if wasDir {
			w.dropTree(rel)
			w.gone[rel] = struct{}{}
		}
		if !w.exclude(rel, wasDir) {
			w.send(Event{Op: change.Delete, Path: rel, IsDir: wasDir})
		}
		return
	}
	if fe.Has(fsnotify.Create) {
		delete(w.gone, rel)
	}
	isDir := wasDir
	if fi, err := os.Lstat(fe.Name); err == nil {
		isDir = fi.IsDir()
	}
	if w.exclude(rel, isDir) {
		return
	}
	switch {
	case fe.Has(fsnotify.Create):
		if isDir {
			w.walk(rel, true, false) // watch first, then report and scan
		} else {
			w.send(Event{Op: change.Create, Path: rel})
		}
	case fe.Has(fsnotify.Write):
		w.send(Event{Op: change.Modify, Path: rel, IsDir: isDir})
	case fe.Has(fsnotify.Chmod):
		w.send(Event{Op: change.Attrib, Path: rel, IsDir: isDir})
	}
}

// send delivers an event, blocking while the consumer is behind.
func (w *fsWatcher) send(ev Event) {
	select {
	case w.events <- ev:
	case <-w.done:
		w.stopping = true
	}
}

// report sends a runtime error to Errors without blocking (it was logged).
func (w *fsWatcher) report(err error) {
	select {
	case w.errs <- err:
	default:
		w.log.Warn("watcher error channel full; error dropped", "err", err)
	}
}

// walk is inotifyWatcher.walk for fsnotify.
func (w *fsWatcher) walk(dir string, emit, startup bool) error {
	stack := []string{dir}
	limitHit := false
	for len(stack) > 0 && !w.stopping {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		scan := true
		p := absPath(w.root, d)
		if !limitHit {
			err := w.addWatch(d)
			switch {
			case errors.Is(err, syscall.ENOSPC):
				lerr := &WatchLimitError{Dirs: w.Watches(), Path: p}
				if startup {
					return lerr
				}
				w.log.Error("cannot watch new directory", "path", p, "err", lerr)
				w.report(lerr)
				limitHit = true
				if !emit {
					return nil
				}
			case err != nil && startup && d == "":
				return fmt.Errorf("add watch %s: %w", p, err)
			case err != nil:
				w.log.Warn("cannot watch directory; changes below it are missed", "path", p, "err", err)
				scan = false
			default:
				w.dirs[d] = struct{}{}
				w.nwatch.Store(int64(len(w.dirs)))
			}
		}
		if emit {
			w.send(Event{Op: change.Create, Path: d, IsDir: true})
		}
		if !scan {
			continue
		}
		ents, err := w.tree.readDir(d) // no symlink followed, in any component
		if err != nil {
			if startup && d == "" {
				return fmt.Errorf("read directory %s: %w", p, err)
			}
			w.log.Warn("cannot scan directory", "path", p, "err", err)
		}
		for _, e := range ents {
			c := joinRel(d, e.Name())
			isDir := e.IsDir()
			if w.exclude(c, isDir) {
				continue
			}
			if isDir {
				stack = append(stack, c) // reported once it is watched
			} else if emit {
				w.send(Event{Op: change.Create, Path: c})
			}
		}
	}
	return nil
}

// dropTree forgets a removed or renamed directory and everything below it.
func (w *fsWatcher) dropTree(rel string) {
	for d := range w.dirs {
		if inTree(d, rel) {
			delete(w.dirs, d)
			if id, ok := w.ids[d]; ok {
				delete(w.ids, d)
				if w.names[id] != d {
					continue // its watch was moved to its new name (addWatch)
				}
				delete(w.names, id)
			}
			w.removeWatch(d)
		}
	}
	w.nwatch.Store(int64(len(w.dirs)))
}

// removeWatch removes the fsnotify watch of the directory rel. The
// kernel may have dropped it already; nothing to report then.
func (w *fsWatcher) removeWatch(rel string) {
	if err := w.fw.Remove(absPath(w.root, rel)); err != nil && !errors.Is(err, fsnotify.ErrNonExistentWatch) {
		w.log.Debug("remove watch", "path", absPath(w.root, rel), "err", err)
	}
}
