package watcher

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/change"
)

// inotifyMask is the event mask of every directory watch: lsyncd's, plus
// IN_MODIFY (a file written and kept open, like a log, or truncate(2), raises
// no IN_CLOSE_WRITE; lsyncd misses those) and IN_EXCL_UNLINK so
// unlinked-but-open files stop reporting.
const inotifyMask = unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_MODIFY | unix.IN_CREATE |
	unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DONT_FOLLOW | unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

// writeMask returns the watch mask that takes the write events e.
func writeMask(e WriteEvents) uint32 {
	switch e {
	case WritesCloseWrite:
		return inotifyMask &^ unix.IN_MODIFY
	case WritesModify:
		return inotifyMask &^ unix.IN_CLOSE_WRITE
	}
	return inotifyMask
}

const (
	// moveGrace is how long an unpaired IN_MOVED_FROM waits for its
	// IN_MOVED_TO before it becomes a Delete.
	moveGrace = 20 * time.Millisecond
	// moveReads is how many further reads a pending IN_MOVED_FROM survives
	// once its grace has passed while the kernel queue never ran empty.
	moveReads = 8
)

// pendingMove is an IN_MOVED_FROM waiting for its IN_MOVED_TO.
type pendingMove struct {
	from     string
	isDir    bool
	nodes    []movedDir // the moved directory, detached from the tree (limbo) until resolved
	deadline time.Time
	reads    int
	resolved bool
	ev       Event // the resolved event; Op 0 means nothing to report
}

// movedDir is a directory detached by an IN_MOVED_FROM: its node, and the
// watch that node must still be (the slot may be reused once it is gone).
type movedDir struct {
	id nodeID
	wd int32
}

// queued is one entry of the ordered output queue: an event, or a move
// placeholder that holds back everything behind it until it is resolved.
type queued struct {
	ev   Event
	move *pendingMove
}

// inotifyWatcher is the Linux backend. All fields below the channels are
// owned by the reader goroutine (and by New before it starts).
type inotifyWatcher struct {
	root    string
	exclude func(string, bool) bool
	log     *slog.Logger

	fd   int // inotify instance, non-blocking
	wake int // eventfd that wakes the reader on stop

	events chan Event
	errs   chan error
	done   chan struct{} // closed by stop
	exited chan struct{} // closed when the reader has returned

	mu        sync.Mutex // guards stopped and fdsClosed
	stopped   bool
	fdsClosed bool

	stopCtx   func() bool
	closeOnce sync.Once
	nwatch    atomic.Int64

	index   dirTree // the watched directories (index_linux.go)
	pending map[uint32]*pendingMove
	queue   []queued
	// mask is the event mask of every watch: inotifyMask less the write
	// event Options.Writes leaves out.
	mask uint32
	// lastModify is the path of the last IN_MODIFY of the current read,
	// if no other event came after it ("" otherwise).
	lastModify string
	stopping   bool      // set when a send saw done
	dirs       dirReader // lists directories for walk
	tree       *beneath  // opens directories beneath the root
	// procFD: /proc/self/fd is there, so watches are added through the
	// open directory (watchDir).
	procFD bool
}

func newInotify(ctx context.Context, opts Options) (Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("create inotify instance: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("create eventfd: %w", err)
	}
	tree, err := openRoot(opts.Root)
	if err != nil {
		unix.Close(fd)
		unix.Close(wake)
		return nil, fmt.Errorf("watch tree %s: %w", opts.Root, err)
	}
	w := &inotifyWatcher{
		root:    opts.Root,
		mask:    writeMask(opts.Writes),
		exclude: opts.Exclude,
		log:     opts.Logger,
		fd:      fd,
		wake:    wake,
		events:  make(chan Event, eventBuffer),
		errs:    make(chan error, errorBuffer),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
		pending: make(map[uint32]*pendingMove),
		tree:    tree,
	}
	if _, err := os.Stat("/proc/self/fd"); err == nil {
		w.procFD = true
	} else {
		w.log.Debug("no /proc/self/fd; watches are added by path and checked", "err", err)
	}
	if err := w.watchTree(); err != nil {
		unix.Close(fd)
		unix.Close(wake)
		tree.close()
		return nil, err
	}
	w.log.Debug("watching tree", "root", w.root, "backend", BackendInotify, "dirs", w.Watches())
	go w.run()
	w.stopCtx = context.AfterFunc(ctx, w.stop)
	return w, nil
}

// Events implements Watcher.
func (w *inotifyWatcher) Events() <-chan Event { return w.events }

// Errors implements Watcher.
func (w *inotifyWatcher) Errors() <-chan error { return w.errs }

// Watches implements Watcher.
func (w *inotifyWatcher) Watches() int { return int(w.nwatch.Load()) }

// Close implements Watcher. It waits for the reader goroutine to return.
func (w *inotifyWatcher) Close() error {
	w.closeOnce.Do(func() {
		w.stopCtx()
		w.stop()
		<-w.exited
	})
	return nil
}

// stop asks the reader to return. Safe to call more than once, from any
// goroutine.
func (w *inotifyWatcher) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.stopped = true
	close(w.done)
	if !w.fdsClosed {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		if _, err := unix.Write(w.wake, one[:]); err != nil {
			w.log.Error("wake inotify reader", "err", err)
		}
	}
}

// run is the reader goroutine: it waits in poll(2) on the inotify fd and the
// wake eventfd, with a timeout only while a move half waits for its pair.
func (w *inotifyWatcher) run() {
	defer func() {
		w.mu.Lock()
		w.fdsClosed = true
		unix.Close(w.fd)
		unix.Close(w.wake)
		w.tree.close()
		w.mu.Unlock()
		close(w.events)
		close(w.errs)
		close(w.exited)
	}()
	buf := make([]byte, 64*1024)
	fds := []unix.PollFd{
		{Fd: int32(w.fd), Events: unix.POLLIN},
		{Fd: int32(w.wake), Events: unix.POLLIN},
	}
	for !w.stopping {
		timeout := -1
		if d, ok := w.nextDeadline(); ok {
			timeout = max(0, int((time.Until(d)+time.Millisecond-1)/time.Millisecond))
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		n, err := unix.Poll(fds, timeout)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			w.fail(fmt.Errorf("poll inotify: %w", err))
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if n == 0 {
			w.expire(time.Now(), true)
			w.flush()
			continue
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			w.fail(fmt.Errorf("poll inotify: revents %#x", fds[0].Revents))
			return
		}
		nr, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			w.fail(fmt.Errorf("read inotify: %w", err))
			return
		}
		w.process(buf[:nr], time.Now())
	}
}

// fail reports an error that ends the reader.
func (w *inotifyWatcher) fail(err error) {
	w.log.Error("watcher stopped", "root", w.root, "err", err)
	w.report(err)
}

// report sends a runtime error to Errors without blocking (it was logged).
func (w *inotifyWatcher) report(err error) {
	select {
	case w.errs <- err:
	default:
		w.log.Warn("watcher error channel full; error dropped", "err", err)
	}
}

// process handles one read(2) worth of inotify events.
func (w *inotifyWatcher) process(buf []byte, now time.Time) {
	w.lastModify = ""
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf) && !w.stopping; {
		wd := int32(binary.NativeEndian.Uint32(buf[off:]))
		mask := binary.NativeEndian.Uint32(buf[off+4:])
		cookie := binary.NativeEndian.Uint32(buf[off+8:])
		nlen := int(binary.NativeEndian.Uint32(buf[off+12:]))
		off += unix.SizeofInotifyEvent
		if off+nlen > len(buf) {
			w.log.Error("short inotify event", "len", nlen, "have", len(buf)-off)
			break
		}
		name := buf[off : off+nlen]
		off += nlen
		for i, c := range name { // the kernel pads the name with NULs
			if c == 0 {
				name = name[:i]
				break
			}
		}
		w.handle(wd, mask, cookie, string(name), now)
	}
	for _, p := range w.pending {
		p.reads++
	}
	w.expire(now, false)
	w.flush()
}

// handle translates one kernel event (lsyncd: inotify.c handle_event and
// lsyncd.lua Inotify.event).
func (w *inotifyWatcher) handle(wd int32, mask, cookie uint32, name string, now time.Time) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		w.log.Warn("inotify event queue overflowed; events were lost", "root", w.root)
		w.emit(Event{Op: change.Overflow})
		return
	}
	if mask&unix.IN_IGNORED != 0 {
		w.forget(wd)
		return
	}
	dir := w.index.get(wd)
	if dir == 0 || name == "" {
		return
	}
	dirPath, ok := w.index.pathOf(dir)
	if !ok { // in limbo: moved away, new location not known yet
		return
	}
	rel := joinRel(dirPath, name)
	isDir := mask&unix.IN_ISDIR != 0
	switch {
	case mask&unix.IN_MOVED_FROM != 0:
		w.movedFrom(dir, name, rel, isDir, cookie, now)
	case mask&unix.IN_MOVED_TO != 0:
		w.movedTo(dir, name, rel, isDir, cookie)
	case mask&unix.IN_CREATE != 0:
		if w.exclude(rel, isDir) {
			return
		}
		if isDir {
			w.walk(rel, dir, true) // watch first, then report and scan
		} else {
			w.emit(Event{Op: change.Create, Path: rel})
		}
	case mask&unix.IN_DELETE != 0:
		if isDir {
			w.dropTree(dir, name)
		}
		if !w.exclude(rel, isDir) {
			w.emit(Event{Op: change.Delete, Path: rel, IsDir: isDir})
		}
	case mask&(unix.IN_CLOSE_WRITE|unix.IN_MODIFY) != 0:
		// A writer raises IN_MODIFY per write(2) and IN_CLOSE_WRITE at the
		// end: report a file once per read of the queue while nothing else
		// happens in between (the consumer looks at the file after that).
		if rel != w.lastModify && !w.exclude(rel, isDir) {
			w.emit(Event{Op: change.Modify, Path: rel, IsDir: isDir})
		}
		w.lastModify = rel
		return
	case mask&unix.IN_ATTRIB != 0:
		if !w.exclude(rel, isDir) {
			w.emit(Event{Op: change.Attrib, Path: rel, IsDir: isDir})
		}
	}
	w.lastModify = "" // anything else in between: report the next write again
}

// movedFrom queues a placeholder for the first half of a rename of name
// in dir (rel). A moved directory's subtree is detached from the tree
// (limbo: its events are dropped) until the other half says where it went.
func (w *inotifyWatcher) movedFrom(dir nodeID, name, rel string, isDir bool, cookie uint32, now time.Time) {
	if w.exclude(rel, isDir) {
		return // the other half, if any, becomes a Create
	}
	p := &pendingMove{from: rel, isDir: isDir, deadline: now.Add(moveGrace)}
	if isDir {
		for _, id := range w.index.appendNamed(nil, dir, name) {
			p.nodes = append(p.nodes, movedDir{id, w.index.at(id).wd})
			w.index.detach(id)
		}
	}
	if old := w.pending[cookie]; old != nil {
		w.resolveDelete(old) // cannot happen with a sane kernel; never lose it
	}
	w.pending[cookie] = p
	w.queue = append(w.queue, queued{move: p})
}

// movedTo completes a rename to name in dir (rel), or reports a Create for
// a lone IN_MOVED_TO.
func (w *inotifyWatcher) movedTo(dir nodeID, name, rel string, isDir bool, cookie uint32) {
	p := w.pending[cookie]
	delete(w.pending, cookie)
	excluded := w.exclude(rel, isDir)
	switch {
	case p == nil && excluded:
	case p == nil:
		if isDir {
			w.walk(rel, dir, true) // watch first, then report and scan
		} else {
			w.emit(Event{Op: change.Create, Path: rel})
		}
	case excluded: // moved to an excluded name: gone as far as we care
		w.resolveDelete(p)
	default:
		p.resolved = true
		p.ev = Event{Op: change.Move, Path: rel, From: p.from, IsDir: isDir}
		if isDir {
			w.rekey(p, dir, name, rel)
		}
	}
}

// rekey hangs the subtree of a renamed directory under its new parent
// dir as name (to), drops what is excluded under the new name and watches
// what was excluded under the old one.
func (w *inotifyWatcher) rekey(p *pendingMove, dir nodeID, name, to string) {
	var drop []nodeID
	for _, m := range p.nodes {
		if !w.index.alive(m.id, m.wd) || w.index.at(m.id).parent != 0 {
			continue // gone, or watched again elsewhere meanwhile
		}
		w.index.attach(m.id, dir, name)
		drop = w.appendExcluded(drop, m.id, to)
	}
	for _, id := range drop {
		w.unwatchTree(id)
	}
	// Directories excluded under the old name may be included under the new.
	w.walk(to, dir, false)
}

// appendExcluded appends to dst the topmost nodes of the subtree of id
// (whose path is rel) that are excluded.
func (w *inotifyWatcher) appendExcluded(dst []nodeID, id nodeID, rel string) []nodeID {
	type item struct {
		id  nodeID
		rel string
	}
	stack := []item{{id, rel}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if w.exclude(it.rel, true) {
			dst = append(dst, it.id)
			continue
		}
		for k := w.index.at(it.id).first; k != 0; k = w.index.at(k).next {
			stack = append(stack, item{k, it.rel + "/" + w.index.name(w.index.at(k))})
		}
	}
	return dst
}

// resolveDelete turns a pending move into a Delete of its source and drops
// the watches of a directory that left the tree.
func (w *inotifyWatcher) resolveDelete(p *pendingMove) {
	p.resolved = true
	p.ev = Event{Op: change.Delete, Path: p.from, IsDir: p.isDir}
	for _, m := range p.nodes {
		if w.index.alive(m.id, m.wd) && w.index.at(m.id).parent == 0 { // still in limbo
			w.unwatchTree(m.id)
		}
	}
}

// nextDeadline is the earliest deadline of a pending move half.
func (w *inotifyWatcher) nextDeadline() (time.Time, bool) {
	var d time.Time
	for _, p := range w.pending {
		if d.IsZero() || p.deadline.Before(d) {
			d = p.deadline
		}
	}
	return d, !d.IsZero()
}

// expire turns pending move halves whose grace has passed into Deletes: when
// the kernel queue was seen empty (quiet), or after moveReads further reads.
func (w *inotifyWatcher) expire(now time.Time, quiet bool) {
	for cookie, p := range w.pending {
		if !now.Before(p.deadline) && (quiet || p.reads >= moveReads) {
			delete(w.pending, cookie)
			w.resolveDelete(p)
		}
	}
}

// emit reports an event in order: directly, or behind a pending move.
func (w *inotifyWatcher) emit(ev Event) {
	if len(w.queue) > 0 {
		w.queue = append(w.queue, queued{ev: ev})
		return
	}
	w.send(ev)
}

// flush sends the queued events up to the first unresolved move.
func (w *inotifyWatcher) flush() {
	i := 0
	for ; i < len(w.queue) && !w.stopping; i++ {
		q := w.queue[i]
		ev := q.ev
		if q.move != nil {
			if !q.move.resolved {
				break
			}
			ev = q.move.ev
		}
		if ev.Op != 0 {
			w.send(ev)
		}
	}
	if i == len(w.queue) {
		w.queue = nil
	} else {
		w.queue = w.queue[i:]
	}
}

// send delivers an event, blocking while the consumer is behind.
func (w *inotifyWatcher) send(ev Event) {
	select {
	case w.events <- ev:
	case <-w.done:
		w.stopping = true
	}
}

// walk adds watches to the directory rel, whose parent is the node
// parent, and to every directory below it that is not excluded. With emit
// it reports a Create for every directory once it is watched, and for
// every other entry found (a new directory's contents). Failures are
// logged, and running out of watches is also sent on Errors. (The
// startup watch is watchTree's.)
func (w *inotifyWatcher) walk(rel string, parent nodeID, emit bool) {
	type item struct {
		rel    string
		parent nodeID // none once out of watches
	}
	stack := []item{{rel, parent}}
	limitHit := false
	for len(stack) > 0 && !w.stopping {
		it := stack[len(stack)-1]
		d := it.rel
		stack = stack[:len(stack)-1]
		fd := -1
		var node nodeID
		if !limitHit && it.parent != 0 {
			wd, dfd, err := w.watchDir(d)
			if err == nil {
				var ok bool
				if node, ok = w.record(wd, it.parent, strings.Clone(baseName(d))); !ok {
					unix.Close(dfd)
					err = fmt.Errorf("watch %s: %w", absPath(w.root, d), errLoop)
				}
			}
			switch {
			case errors.Is(err, unix.ENOSPC):
				lerr := &WatchLimitError{Dirs: w.Watches(), Path: absPath(w.root, d)}
				w.log.Error("cannot watch new directory", "path", absPath(w.root, d), "err", lerr)
				w.report(lerr)
				limitHit = true
				if !emit {
					return
				}
			case err != nil:
				w.dropReplaced(wd, err)
				w.log.Warn("cannot watch directory; changes below it are missed",
					"path", absPath(w.root, d), "err", err)
				if emit {
					w.emit(Event{Op: change.Create, Path: d, IsDir: true})
				}
				continue
			default:
				fd = dfd
			}
		}
		if emit {
			w.emit(Event{Op: change.Create, Path: d, IsDir: true})
		}
		ents, err := w.scanDir(d, fd)
		if err != nil {
			w.log.Warn("cannot scan directory", "path", absPath(w.root, d), "err", err)
		}
		for _, e := range ents {
			p := joinRel(d, e.name)
			isDir := e.isDir
			if w.exclude(p, isDir) {
				continue
			}
			if isDir {
				stack = append(stack, item{p, node}) // reported once it is watched
			} else if emit {
				w.emit(Event{Op: change.Create, Path: p})
			}
		}
	}
}

// scanDir reads the entries of the directory rel from fd, which it
// closes; fd < 0 (the directory is not watched: out of watches) opens it
// beneath the root first.
func (w *inotifyWatcher) scanDir(rel string, fd int) ([]dirEntry, error) {
	if fd < 0 {
		var err error
		if fd, err = w.tree.openDir(rel, unix.O_RDONLY); err != nil {
			return nil, &os.PathError{Op: "open", Path: absPath(w.root, rel), Err: err}
		}
	}
	defer unix.Close(fd)
	return w.dirs.readFD(fd, absPath(w.root, rel))
}

// watchDir opens the directory rel beneath the root without following a
// symlink in any component and adds the inotify watch (IN_ONLYDIR) of
// exactly the directory opened: through its descriptor's /proc/self/fd
// link, which names the open file, not a path. Where /proc is not
// mounted the watch is added by path (IN_DONT_FOLLOW | IN_ONLYDIR) and
// the path is checked to still resolve, beneath the root, to the
// directory opened: a directory swapped for a symlink between the open
// and inotify_add_watch is refused with errReplaced (wd is then the
// watch added, for dropReplaced). On success it returns the watch and the
// open directory to read the entries from. Safe for concurrent use.
func (w *inotifyWatcher) watchDir(rel string) (wd int32, fd int, err error) {
	fd, err = w.tree.openDir(rel, unix.O_RDONLY)
	if err != nil {
		return 0, -1, fmt.Errorf("open directory %s: %w", absPath(w.root, rel), err)
	}
	if w.procFD {
		if wd, err = w.fdWatch(fd, rel); err != nil {
			unix.Close(fd)
			return wd, -1, err
		}
		return wd, fd, nil
	}
	id, err := identity(fd)
	if err == nil {
		wd, err = w.kernelWatch(rel)
	}
	if err == nil && !w.tree.resolvesTo(rel, id) {
		err = fmt.Errorf("watch %s: %w", absPath(w.root, rel), errReplaced)
	}
	if err != nil {
		unix.Close(fd)
		return wd, -1, err
	}
	return wd, fd, nil
}

// fdWatch adds the inotify watch of the open directory fd (rel names it
// in errors) through /proc/self/fd; safe for concurrent use.
func (w *inotifyWatcher) fdWatch(fd int, rel string) (int32, error) {
	// The magic link must be followed: IN_DONT_FOLLOW would watch the link.
	wd, err := unix.InotifyAddWatch(w.fd, "/proc/self/fd/"+strconv.Itoa(fd), w.mask&^unix.IN_DONT_FOLLOW)
	if err != nil {
		return 0, fmt.Errorf("add watch %s: %w", absPath(w.root, rel), err)
	}
	return int32(wd), nil
}

// dropReplaced removes the watch that watchDir added for a replaced
// directory, unless the same watch is known under another path (the
// path led to a directory already watched). The tree must be held.
func (w *inotifyWatcher) dropReplaced(wd int32, err error) {
	if !errors.Is(err, errReplaced) || w.index.get(wd) != 0 {
		return
	}
	if _, err := unix.InotifyRmWatch(w.fd, uint32(wd)); err != nil && !errors.Is(err, unix.EINVAL) {
		w.log.Debug("remove inotify watch", "wd", wd, "err", err)
	}
}

// kernelWatch adds the inotify watch of one directory; safe for
// concurrent use.
func (w *inotifyWatcher) kernelWatch(rel string) (int32, error) {
	mask := w.mask
	if rel == "" {
		mask &^= unix.IN_DONT_FOLLOW // the root may be given as a symlink
	}
	p := absPath(w.root, rel)
	wd, err := unix.InotifyAddWatch(w.fd, p, mask)
	if err != nil {
		return 0, fmt.Errorf("add watch %s: %w", p, err)
	}
	return int32(wd), nil
}

// record enters the watch wd of the directory name in parent into the
// tree (parent none: the root) and returns its node. A directory already
// watched under another path (same watch) moves to this one, unless that
// would hang it below itself (a bind mount of a directory inside its own
// tree): then ok is false and nothing changes.
func (w *inotifyWatcher) record(wd int32, parent nodeID, name string) (id nodeID, ok bool) {
	if id = w.index.get(wd); id != 0 {
		if parent != 0 && w.index.within(parent, id) {
			return id, false
		}
		if n := w.index.at(id); n.parent != parent || w.index.name(n) != name {
			w.index.detach(id)
			if parent != 0 {
				w.index.attach(id, parent, name)
			}
		}
		return id, true
	}
	id = w.index.add(parent, name, wd)
	w.nwatch.Store(int64(w.index.n))
	return id, true
}

// unwatch removes a watch from the kernel and the tree.
func (w *inotifyWatcher) unwatch(wd int32) {
	if _, err := unix.InotifyRmWatch(w.fd, uint32(wd)); err != nil && !errors.Is(err, unix.EINVAL) {
		w.log.Debug("remove inotify watch", "wd", wd, "err", err)
	}
	w.forget(wd)
}

// unwatchTree removes the watches of id and everything below it.
func (w *inotifyWatcher) unwatchTree(id nodeID) {
	for _, d := range w.index.appendSubtree(nil, id) {
		if wd := w.index.at(d).wd; w.index.alive(d, wd) {
			w.unwatch(wd)
		}
	}
}

// forget drops a watch from the tree (IN_IGNORED, or after unwatch). Its
// children, if any are left, are detached until their own IN_IGNORED.
func (w *inotifyWatcher) forget(wd int32) {
	if id := w.index.get(wd); id != 0 {
		w.index.drop(id)
		w.nwatch.Store(int64(w.index.n))
	}
}

// dropTree removes the watches of the deleted directory name in dir and
// everything below, in time linear in their number.
func (w *inotifyWatcher) dropTree(dir nodeID, name string) {
	for _, id := range w.index.appendNamed(nil, dir, name) {
		w.unwatchTree(id)
	}
}

// baseName is the last name of a relative path.
func baseName(rel string) string {
	for i := len(rel) - 1; i >= 0; i-- {
		if rel[i] == '/' {
			return rel[i+1:]
		}
	}
	return rel
}
