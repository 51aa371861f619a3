package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/treediff"
)

// userNSWatchesEnv, when set, makes the test binary lower the inotify watch
// limit of the user namespace it runs in to that number and exec gsync
// (path in userNSBinEnv) with its arguments. The limit is per user
// namespace (/proc/sys/user/max_inotify_watches), so nothing outside the
// test's own namespace is affected.
const (
	userNSWatchesEnv = "GSYNC_TEST_USERNS_MAX_WATCHES"
	userNSBinEnv     = "GSYNC_TEST_USERNS_BIN"
)

// userNSExec runs in the re-executed test binary: it sets the limit and
// replaces itself with gsync.
func userNSExec(limit string) {
	if err := os.WriteFile("/proc/sys/user/max_inotify_watches", []byte(limit), 0); err != nil {
		fmt.Fprintf(os.Stderr, "set max_inotify_watches in the user namespace: %v\n", err)
		os.Exit(97)
	}
	bin := os.Getenv(userNSBinEnv)
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, userNSWatchesEnv+"=") && !strings.HasPrefix(e, userNSBinEnv+"=") {
			env = append(env, e)
		}
	}
	err := syscall.Exec(bin, append([]string{bin}, os.Args[1:]...), env)
	fmt.Fprintf(os.Stderr, "exec %s: %v\n", bin, err)
	os.Exit(98)
}

// startGsyncWatchLimit starts gsync in a new user namespace (root mapped to
// root) whose inotify watch limit is limit. It skips the test when user
// namespaces are not available.
func startGsyncWatchLimit(t *testing.T, limit int, args ...string) *gsyncProc {
	t.Helper()
	if _, err := os.Stat("/proc/sys/user/max_inotify_watches"); err != nil {
		t.Skipf("no per-user-namespace inotify limits here: %v", err)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", userNSWatchesEnv, limit), userNSBinEnv+"="+gsyncBin)
	uid, gid := os.Getuid(), os.Getgid()
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
	}
	if uid != 0 {
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	probe := exec.Command(os.Args[0], "--version")
	probe.Env = append(os.Environ(), userNSWatchesEnv+"=100000", userNSBinEnv+"="+gsyncBin)
	probe.SysProcAttr = cmd.SysProcAttr
	if err := probe.Run(); err != nil {
		t.Skipf("cannot create a user namespace here: %v", err)
	}
	return startProc(t, cmd)
}

// TestWatchLimitAtStartup: a tree with more directories than inotify
// watches allowed stops gsync at startup with exit 1 and an error that
// names fs.inotify.max_user_watches (never a silent partial mirror).
func TestWatchLimitAtStartup(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
	for i := 0; i < 20; i++ {
		os.MkdirAll(filepath.Join(src, fmt.Sprintf("d%02d", i), "sub"), 0o755)
	}
	g := startGsyncWatchLimit(t, 10, "--delay", "0", src, dst)
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("gsync still running with too few inotify watches:\n%s", g.out.String())
	}
	out := g.out.String()
	if code := g.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1:\n%s", code, out)
	}
	if !strings.Contains(out, "fs.inotify.max_user_watches") || !strings.Contains(out, "out of inotify watches") {
		t.Errorf("error does not name the watch limit:\n%s", out)
	}
}

// TestWatchLimitAtRuntime: when new directories exhaust the watches while
// gsync runs, the error names fs.inotify.max_user_watches and the
// directory, changes in the watched part keep flowing, and a full sync
// (SIGHUP) still brings the unwatched part over (documented behaviour).
func TestWatchLimitAtRuntime(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
	os.Mkdir(filepath.Join(src, "a"), 0o755)
	g := startGsyncWatchLimit(t, 8, "--delay", "0", src, dst)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})

	for i := 0; i < 12; i++ {
		os.MkdirAll(filepath.Join(src, "many", fmt.Sprintf("d%02d", i)), 0o755)
		os.WriteFile(filepath.Join(src, "many", fmt.Sprintf("d%02d", i), "f"), []byte("x"), 0o644)
	}
	line := waitOutput(t, g, 0, 30*time.Second, "max_user_watches")
	if !strings.Contains(line, "ERROR") && !strings.Contains(line, "level=ERROR") {
		t.Errorf("watch limit not logged as an error: %s", line)
	}
	// The watched part keeps flowing.
	os.WriteFile(filepath.Join(src, "a", "after-limit"), []byte("y"), 0o644)
	waitForContent(t, filepath.Join(dst, "a", "after-limit"), "y", 30*time.Second)
	// A full sync brings over everything, unwatched directories included.
	g.cmd.Process.Signal(syscall.SIGHUP)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	select {
	case <-g.done:
		t.Fatalf("gsync exited after running out of watches at runtime:\n%s", g.out.String())
	default:
	}
	g.stop(syscall.SIGTERM)
}

// waitForContent waits until file p holds want.
func waitForContent(t *testing.T, p, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(p); err == nil && string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not get %q within %v", p, want, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
