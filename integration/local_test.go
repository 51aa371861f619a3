package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/treediff"
)

// TestLocalLiveChurn is the acceptance scenario of the local target: a live
// mirror converges with zero differences after 2,000 random operations
// (make stress). make test runs fewer (ops, not stressOps): its inotify
// churn is TestChurnAllTargets's local rows too, and each operation lists
// the growing tree, so the cost grows faster than the count.
func TestLocalLiveChurn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		backend        string
		delay          string
		ops, stressOps int
	}{
		{"inotify", "0", 500, 2000},
		{"inotify", "1", 250, 1000},
		{"fsnotify", "0", 300, 500},
	} {
		if stress() {
			tc.ops = tc.stressOps
		}
		t.Run(tc.backend+"/delay="+tc.delay, func(t *testing.T) {
			t.Parallel()
			src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
			seedTree(t, src, 1, 200)
			p := startGsync(t, nil, "--delay", tc.delay, "--watch-backend", tc.backend, "--log-level", "debug", src, dst)
			waitEqual(t, src, dst, 30*time.Second, treediff.Options{})

			c := newChurner(t, src, 42)
			defer c.dump()
			c.run(tc.ops)
			waitEqual(t, src, dst, 60*time.Second, treediff.Options{})
			if code := p.stop(syscall.SIGTERM); code != 143 {
				t.Errorf("exit code after SIGTERM = %d, want 143", code)
			}
		})
	}
}

// TestLocalOverflow floods the inotify queue while gsync is stopped, and
// checks that the overflow is logged and followed by a converging full
// sync. The flood is attribute changes alternating between two files (the
// kernel merges only identical consecutive events); the files created
// after it find the queue full, so only the full sync brings them over.
func TestLocalOverflow(t *testing.T) {
	t.Parallel()
	max, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skipf("no inotify: %v", err)
	}
	var limit int
	fmt.Sscan(strings.TrimSpace(string(max)), &limit)
	if limit <= 0 || limit > 1000000 {
		t.Skipf("max_queued_events = %d: flooding it would take too long", limit)
	}
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
	os.WriteFile(filepath.Join(src, "first"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(src, "second"), []byte("y"), 0o644)
	p := startGsync(t, nil, "--delay", "0", src, dst)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})

	// Freeze gsync so the kernel queue fills, flood it, then let it go.
	p.cmd.Process.Signal(syscall.SIGSTOP)
	for i := 0; i < limit+2000; i++ {
		os.Chmod(filepath.Join(src, []string{"first", "second"}[i%2]), os.FileMode(0o600|(i/2%2)<<2))
	}
	for i := 0; i < 200; i++ {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d", i)), nil, 0o644)
	}
	p.cmd.Process.Signal(syscall.SIGCONT)
	waitEqual(t, src, dst, 90*time.Second, treediff.Options{})
	if !strings.Contains(p.out.String(), "overflow") {
		t.Errorf("no overflow logged; output:\n%s", tail(p.out.String(), 20))
	}
	if code := p.stop(syscall.SIGINT); code != 130 {
		t.Errorf("exit code after SIGINT = %d, want 130", code)
	}
}

// TestLocalSIGHUPResyncs checks that SIGHUP does a full sync: a file removed
// behind gsync's back on the target comes back.
func TestLocalSIGHUPResyncs(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
	os.WriteFile(filepath.Join(src, "keep"), []byte("data"), 0o644)
	p := startGsync(t, nil, "--delay", "0", src, dst)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	os.Remove(filepath.Join(dst, "keep"))
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	p.stop(syscall.SIGTERM)
}

// TestLocalOnce checks --once: one full sync, exit 0, excludes honoured.
func TestLocalOnce(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
	seedTree(t, src, 7, 100)
	os.WriteFile(filepath.Join(src, "skip.tmp"), []byte("x"), 0o644)
	code, out := runGsync(t, "--once", "--exclude", "*.tmp", src, dst)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	excl := func(rel string, isDir bool) bool { return strings.HasSuffix(rel, ".tmp") }
	treediff.Equal(t, src, dst, treediff.Options{Exclude: excl})
	if _, err := os.Lstat(filepath.Join(dst, "skip.tmp")); err == nil {
		t.Error("excluded file was copied")
	}
}

// TestBadArguments checks that usage errors give one clear line and exit 2.
func TestBadArguments(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	file := filepath.Join(src, "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing source", []string{"/nonexistent/src", t.TempDir()}, "does not exist"},
		{"source is a file", []string{file, t.TempDir()}, "not a directory"},
		{"target inside source", []string{src, filepath.Join(src, "sub")}, "inside the source"},
		{"target is source", []string{src, src}, "inside the source"},
		{"one argument", []string{src}, "want SRC and TARGET"},
		{"bad delay", []string{"--delay", "soon", src, t.TempDir()}, "invalid delay"},
		{"bad delete", []string{"--delete", "maybe", src, t.TempDir()}, "invalid delete mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out := runGsync(t, tc.args...)
			if code != 2 {
				t.Errorf("exit code %d, want 2; output: %s", code, out)
			}
			if !strings.Contains(out, tc.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Errorf("want one line containing %q, got:\n%s", tc.want, out)
			}
		})
	}
}
