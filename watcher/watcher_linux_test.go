package watcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
)

// TestOverflow stops reading Events so the watcher's buffer fills and its
// reader blocks, floods the kernel queue past max_queued_events with
// attribute changes, then reads again and expects an Overflow event.
func TestOverflow(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skipf("cannot read inotify queue limit: %v", err)
	}
	maxq, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || maxq > 100000 {
		t.Skipf("max_queued_events %q too large to overflow quickly", raw)
	}
	forBackends(t, func(t *testing.T, b string) {
		root := t.TempDir()
		f1, f2 := filepath.Join(root, "a"), filepath.Join(root, "b")
		testutil.WriteFile(t, f1, "")
		testutil.WriteFile(t, f2, "")
		w := startWatcher(t, b, root, nil)
		// Alternate between two files: the kernel merges only identical
		// consecutive events. Enough to fill our buffer, one read(2) worth
		// held by the reader, and then the kernel queue twice over.
		n := eventBuffer + 2*maxq + 8192
		for i := 0; i < n; i++ {
			p := f1
			if i%2 == 1 {
				p = f2
			}
			if err := os.Chmod(p, os.FileMode(0o600|(i&1)<<2)); err != nil {
				t.Fatal(err)
			}
		}
		timer := time.NewTimer(waitLimit)
		defer timer.Stop()
		count := 0
		for {
			select {
			case ev, ok := <-w.Events():
				if !ok {
					t.Fatal("events channel closed")
				}
				count++
				if ev.Op == change.Overflow {
					if ev.Path != "" {
						t.Errorf("Overflow event has path %q", ev.Path)
					}
					t.Logf("Overflow after %d events (%d changes made)", count, n)
					// The watcher keeps running.
					testutil.WriteFile(t, filepath.Join(root, "after"), "x")
					collect(t, w, Event{Op: change.Modify, Path: "after"})
					return
				}
			case <-timer.C:
				t.Fatalf("no Overflow event after %d events", count)
			}
		}
	})
}

// The watch-limit tests run the test binary again in a new user namespace,
// where the namespace's root may lower /proc/sys/user/max_inotify_watches.
const limitChildEnv = "GSYNC_WATCHER_LIMIT_CHILD"

func TestWatchLimit(t *testing.T) {
	for _, b := range Backends() {
		for _, phase := range []string{"startup", "runtime"} {
			t.Run(b+"/"+phase, func(t *testing.T) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestWatchLimitChild$", "-test.v")
				cmd.Env = append(os.Environ(), limitChildEnv+"="+b+","+phase)
				cmd.SysProcAttr = &syscall.SysProcAttr{
					Cloneflags:  syscall.CLONE_NEWUSER,
					UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
					GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
				}
				out, err := cmd.CombinedOutput()
				if err != nil && bytes.Contains(out, []byte("SKIP-LIMIT:")) {
					t.Skipf("cannot lower the watch limit here: %s", out)
				}
				if err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						t.Skipf("cannot start a user namespace: %v", err)
					}
					t.Fatalf("child failed: %v\n%s", err, out)
				}
				if !bytes.Contains(out, []byte("LIMIT-OK")) {
					t.Fatalf("child did not run the check:\n%s", out)
				}
			})
		}
	}
}

// TestWatchLimitChild does the work of TestWatchLimit inside the namespace.
func TestWatchLimitChild(t *testing.T) {
	spec := os.Getenv(limitChildEnv)
	if spec == "" {
		t.Skip("only run by TestWatchLimit")
	}
	backend, phase, _ := strings.Cut(spec, ",")
	const limit = 4
	if err := os.WriteFile("/proc/sys/user/max_inotify_watches", []byte(strconv.Itoa(limit)), 0); err != nil {
		fmt.Printf("SKIP-LIMIT: %v\n", err)
		t.Fatal(err)
	}
	root := t.TempDir()
	if phase == "startup" {
		for i := range limit + 2 {
			testutil.MustMkdir(t, filepath.Join(root, fmt.Sprint("d", i)))
		}
		w, err := New(context.Background(), Options{Root: root, Backend: backend})
		if err == nil {
			w.Close()
			t.Fatalf("New watched %d dirs with a limit of %d", limit+3, limit)
		}
		var lerr *WatchLimitError
		if !errors.As(err, &lerr) {
			t.Fatalf("New error %v (%T), want *WatchLimitError", err, err)
		}
		if !strings.Contains(err.Error(), "fs.inotify.max_user_watches") || lerr.Dirs != limit {
			t.Fatalf("error %q: Dirs=%d, want the sysctl name and %d", err, lerr.Dirs, limit)
		}
		fmt.Println("LIMIT-OK")
		return
	}
	testutil.MustMkdir(t, filepath.Join(root, "d0"))
	w := startWatcher(t, backend, root, nil)
	// Built outside and moved in, so the scan of the new tree finds the
	// file even where the limit leaves a directory unwatched.
	outside := t.TempDir()
	testutil.MustMkdir(t, filepath.Join(outside, "n1/n2/n3/n4"))
	testutil.WriteFile(t, filepath.Join(outside, "n1/n2/n3/n4/f"), "x")
	rename(t, filepath.Join(outside, "n1"), filepath.Join(root, "n1"))
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	sawFile := false
	var lerr *WatchLimitError
	for lerr == nil || !sawFile {
		select {
		case ev := <-w.Events():
			if ev.Path == "n1/n2/n3/n4/f" && ev.Op == change.Create {
				sawFile = true // still found by the scan of the new tree
			}
		case err := <-w.Errors():
			if !errors.As(err, &lerr) {
				t.Fatalf("runtime error %v (%T), want *WatchLimitError", err, err)
			}
		case <-timer.C:
			t.Fatalf("no WatchLimitError (%v) or no Create of the file (%v)", lerr, sawFile)
		}
	}
	if !strings.Contains(lerr.Error(), "fs.inotify.max_user_watches") {
		t.Fatalf("error %q does not name the sysctl", lerr)
	}
	// Still running.
	testutil.WriteFile(t, filepath.Join(root, "d0/g"), "x")
	collect(t, w, Event{Op: change.Modify, Path: "d0/g"})
	fmt.Println("LIMIT-OK")
}

// TestInotifyMode: lsyncd's inotifyMode picks the write events. A file
// written and kept open is reported at once with IN_MODIFY (Modify, and
// both), at its close only with CloseWrite; a file opened for writing
// and closed unwritten raises IN_CLOSE_WRITE alone, which Modify ignores.
func TestInotifyMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode           string
		whileOpen      bool // the written, still open file is reported
		closeUnwritten bool // the file closed unwritten is reported
	}{
		{"CloseWrite", false, true},
		{"Modify", true, false},
		{"CloseWrite or Modify", true, true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			testutil.WriteFile(t, filepath.Join(root, "open"), "")
			testutil.WriteFile(t, filepath.Join(root, "unwritten"), "")
			writes, err := ParseInotifyMode(tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			w, err := New(context.Background(), Options{Root: root, Backend: BackendInotify, Writes: writes})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			f, err := os.OpenFile(filepath.Join(root, "open"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("data"); err != nil {
				t.Fatal(err)
			}
			got := sentinel(t, w, root)
			if has := slices.Contains(got, Event{Op: change.Modify, Path: "open"}); has != tc.whileOpen {
				t.Errorf("written and open: reported %v, want %v (events %v)", has, tc.whileOpen, got)
			}
			g, err := os.OpenFile(filepath.Join(root, "unwritten"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			g.Close()
			got = sentinel(t, w, root)
			if has := slices.Contains(got, Event{Op: change.Modify, Path: "unwritten"}); has != tc.closeUnwritten {
				t.Errorf("closed unwritten: reported %v, want %v (events %v)", has, tc.closeUnwritten, got)
			}
		})
	}
	if _, err := ParseInotifyMode("Close"); err == nil {
		t.Error("ParseInotifyMode(\"Close\"): no error")
	}
}
