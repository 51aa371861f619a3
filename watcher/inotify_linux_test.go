package watcher

import (
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
)

// rawEvent encodes one inotify event as read(2) returns it.
func rawEvent(wd int32, mask, cookie uint32, name string) []byte {
	nlen := 0
	if name != "" {
		nlen = (len(name) + 1 + 15) / 16 * 16
	}
	b := make([]byte, unix.SizeofInotifyEvent+nlen)
	binary.NativeEndian.PutUint32(b[0:], uint32(wd))
	binary.NativeEndian.PutUint32(b[4:], mask)
	binary.NativeEndian.PutUint32(b[8:], cookie)
	binary.NativeEndian.PutUint32(b[12:], uint32(nlen))
	copy(b[unix.SizeofInotifyEvent:], name)
	return b
}

// tableWatcher is an inotify backend without a kernel instance: its tables
// are filled by hand and events are fed to process directly, so the pairing
// of rename halves can be checked across read boundaries and timeouts.
func tableWatcher(t testing.TB, dirs ...string) *inotifyWatcher {
	root := t.TempDir()
	tree, err := openRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tree.close)
	w := &inotifyWatcher{
		root:    root,
		tree:    tree,
		exclude: func(string, bool) bool { return false },
		log:     slog.New(slog.DiscardHandler),
		fd:      -1,
		events:  make(chan Event, 64),
		errs:    make(chan error, 4),
		done:    make(chan struct{}),
		pending: make(map[uint32]*pendingMove),
	}
	for i, d := range dirs {
		var parent nodeID
		if d != "" {
			dir, _ := splitRel(d)
			if parent = nodeAt(w, dir); parent == 0 {
				t.Fatalf("tableWatcher: %q before its parent", d)
			}
		}
		w.record(int32(i+1), parent, baseName(d))
	}
	return w
}

// nodeAt finds the watched directory at rel by name from the root (one
// of them where two share a name); none if there is none.
func nodeAt(w *inotifyWatcher, rel string) nodeID {
	id := w.index.root
	for name, rest, ok := firstComponent(rel); ok && id != 0; name, rest, ok = firstComponent(rest) {
		kids := w.index.appendNamed(nil, id, name)
		if len(kids) == 0 {
			return 0
		}
		id = kids[0]
	}
	return id
}

// wdAt is the watch descriptor at rel, 0 if there is none.
func wdAt(w *inotifyWatcher, rel string) int32 {
	if id := nodeAt(w, rel); id != 0 {
		return w.index.at(id).wd
	}
	return 0
}

func drain(w *inotifyWatcher) []Event {
	var out []Event
	for {
		select {
		case ev := <-w.events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func TestMovePairingAcrossReads(t *testing.T) {
	w := tableWatcher(t, "", "d")
	now := time.Now()
	w.process(rawEvent(1, unix.IN_MOVED_FROM, 7, "x"), now)
	w.process(rawEvent(1, unix.IN_CREATE, 0, "later"), now) // held behind the move
	if got := drain(w); len(got) != 0 {
		t.Fatalf("events before the move was paired: %v", got)
	}
	w.process(append(rawEvent(2, unix.IN_MOVED_TO, 7, "y"), rawEvent(1, unix.IN_CLOSE_WRITE, 0, "later")...), now)
	want := []Event{
		{Op: change.Move, From: "x", Path: "d/y"},
		{Op: change.Create, Path: "later"},
		{Op: change.Modify, Path: "later"},
	}
	if diff := cmp.Diff(want, drain(w)); diff != "" {
		t.Errorf("paired across reads (-want +got):\n%s", diff)
	}

	// An unpaired half waits for its grace, then becomes a Delete.
	w.process(rawEvent(1, unix.IN_MOVED_FROM, 8, "z"), now)
	w.expire(now.Add(moveGrace/2), true)
	w.flush()
	if got := drain(w); len(got) != 0 {
		t.Fatalf("unpaired half resolved before its grace: %v", got)
	}
	w.expire(now.Add(moveGrace), true)
	w.flush()
	if diff := cmp.Diff([]Event{{Op: change.Delete, Path: "z"}}, drain(w)); diff != "" {
		t.Errorf("unpaired half (-want +got):\n%s", diff)
	}
	// A lone second half is a Create.
	w.process(rawEvent(2, unix.IN_MOVED_TO, 9, "new"), now)
	if diff := cmp.Diff([]Event{{Op: change.Create, Path: "d/new"}}, drain(w)); diff != "" {
		t.Errorf("lone MOVED_TO (-want +got):\n%s", diff)
	}
}

func TestDirMovedOutDropsWatches(t *testing.T) {
	w := tableWatcher(t, "", "d", "d/sub", "dd")
	now := time.Now()
	w.process(rawEvent(1, unix.IN_MOVED_FROM|unix.IN_ISDIR, 5, "d"), now)
	// Events from the moved directory have no known path any more.
	w.process(rawEvent(3, unix.IN_CLOSE_WRITE, 0, "f"), now)
	w.expire(now.Add(moveGrace), true)
	w.flush()
	if diff := cmp.Diff([]Event{{Op: change.Delete, Path: "d", IsDir: true}}, drain(w)); diff != "" {
		t.Errorf("moved out (-want +got):\n%s", diff)
	}
	if w.index.get(4) == 0 || w.index.n != 2 || nodeAt(w, "dd") == 0 {
		t.Errorf("%d watches left, want the root and dd", w.index.n)
	}
}

func TestDirMoveRekeys(t *testing.T) {
	w := tableWatcher(t, "", "d", "d/sub", "dd")
	now := time.Now()
	w.process(append(rawEvent(1, unix.IN_MOVED_FROM|unix.IN_ISDIR, 5, "d"),
		rawEvent(4, unix.IN_MOVED_TO|unix.IN_ISDIR, 5, "e")...), now)
	w.process(rawEvent(3, unix.IN_CLOSE_WRITE, 0, "f"), now)
	want := []Event{
		{Op: change.Move, From: "d", Path: "dd/e", IsDir: true},
		{Op: change.Modify, Path: "dd/e/sub/f"},
	}
	if diff := cmp.Diff(want, drain(w)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if wdAt(w, "dd/e/sub") != 3 || wdAt(w, "dd/e") != 2 {
		t.Errorf("paths not re-keyed: dd/e/sub %d, dd/e %d", wdAt(w, "dd/e/sub"), wdAt(w, "dd/e"))
	}
	if nodeAt(w, "d") != 0 {
		t.Error("old path still known")
	}
}

// TestModifyOncePerRead: a writer's IN_MODIFY events (one per write(2)) and
// its IN_CLOSE_WRITE become one Modify per read of the queue, as long as no
// other event comes in between; every read reports again.
func TestModifyOncePerRead(t *testing.T) {
	w := tableWatcher(t, "")
	now := time.Now()
	var buf []byte
	for _, ev := range [][]byte{
		rawEvent(1, unix.IN_MODIFY, 0, "log"),
		rawEvent(1, unix.IN_MODIFY, 0, "log"),
		rawEvent(1, unix.IN_CLOSE_WRITE, 0, "log"),
		rawEvent(1, unix.IN_MODIFY, 0, "other"),
		rawEvent(1, unix.IN_MODIFY, 0, "log"),
		rawEvent(1, unix.IN_DELETE, 0, "log"),
		rawEvent(1, unix.IN_CREATE, 0, "log"),
		rawEvent(1, unix.IN_MODIFY, 0, "log"),
		rawEvent(1, unix.IN_CLOSE_WRITE, 0, "log"),
	} {
		buf = append(buf, ev...)
	}
	w.process(buf, now)
	want := []Event{
		{Op: change.Modify, Path: "log"},
		{Op: change.Modify, Path: "other"},
		{Op: change.Modify, Path: "log"},
		{Op: change.Delete, Path: "log"},
		{Op: change.Create, Path: "log"},
		{Op: change.Modify, Path: "log"},
	}
	if diff := cmp.Diff(want, drain(w)); diff != "" {
		t.Errorf("one read (-want +got):\n%s", diff)
	}
	// The next read reports the file kept open again.
	w.process(rawEvent(1, unix.IN_MODIFY, 0, "log"), now)
	if diff := cmp.Diff([]Event{{Op: change.Modify, Path: "log"}}, drain(w)); diff != "" {
		t.Errorf("next read (-want +got):\n%s", diff)
	}
}

// TestWatchDirByFDAndByPath: a directory gets the same watch through its
// open descriptor (/proc/self/fd) and by path, events arrive on it, and a
// symlink in the tree is refused either way.
func TestWatchDirByFDAndByPath(t *testing.T) {
	t.Parallel()
	w := tableWatcher(t, "")
	testutil.MustMkdir(t, filepath.Join(w.root, "sub"))
	if err := os.Symlink(filepath.Join(w.root, "sub"), filepath.Join(w.root, "link")); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	w.fd, w.mask = fd, inotifyMask
	var wds []int32
	for _, procFD := range []bool{true, false} {
		w.procFD = procFD
		wd, dfd, err := w.watchDir("sub")
		if err != nil {
			t.Fatalf("procFD %v: %v", procFD, err)
		}
		unix.Close(dfd)
		wds = append(wds, wd)
		if _, _, err := w.watchDir("link"); err == nil {
			t.Errorf("procFD %v: symlink watched", procFD)
		}
	}
	if wds[0] != wds[1] {
		t.Fatalf("watch by descriptor %d, by path %d: not the same directory", wds[0], wds[1])
	}
	testutil.WriteFile(t, filepath.Join(w.root, "sub", "f"), "x")
	buf := make([]byte, 4096)
	n, err := unix.Read(fd, buf)
	if err != nil || n < unix.SizeofInotifyEvent {
		t.Fatalf("read inotify: %d bytes, %v", n, err)
	}
	if got := int32(binary.NativeEndian.Uint32(buf)); got != wds[0] {
		t.Errorf("event on watch %d, want %d", got, wds[0])
	}
}
