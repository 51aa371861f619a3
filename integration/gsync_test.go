package integration

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// gsyncBin is the gsync binary built once for all end-to-end tests, the
// way `make release` builds it (no cgo, -trimpath, stripped, version
// stamped): TestStaticEmptyRoot checks that very binary, every other test
// runs it. The stages are race-tested by their own packages.
var gsyncBin string

// gsyncTestVersion is the version stamped into gsyncBin.
const gsyncTestVersion = "static-test"

// e2eParallel is how many tests of this package run at once unless
// -test.parallel is given: they mostly wait for peers, gsync and the
// file system, not for the CPU.
const e2eParallel = 4

func TestMain(m *testing.M) {
	if n := os.Getenv(userNSWatchesEnv); n != "" {
		// Re-executed by startGsyncWatchLimit in a user namespace of its own.
		userNSExec(n)
		return
	}
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		flag.Set("test.parallel", fmt.Sprint(e2eParallel))
	}
	dir, err := os.MkdirTemp("", "gsync-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gsyncBin = filepath.Join(dir, "gsync")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+gsyncTestVersion,
		"-o", gsyncBin, "github.com/gsync/gsync/cmd/gsync")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gsync:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gsyncProc is a process started by a test (gsync, mostly) with its output
// collected.
type gsyncProc struct {
	*process
	t   *testing.T
	out *testutil.Buffer
}

// startGsync runs gsync with args and env added to the environment; it is
// killed at cleanup if the test did not stop it.
func startGsync(t *testing.T, env []string, args ...string) *gsyncProc {
	t.Helper()
	cmd := exec.Command(gsyncBin, args...)
	cmd.Env = append(os.Environ(), env...)
	return startProc(t, cmd)
}

// startProc starts cmd (in a process group of its own, see startProcess)
// with its output collected; it is killed with its group at cleanup if the
// test did not stop it, and its output is logged when the test failed.
func startProc(t *testing.T, cmd *exec.Cmd) *gsyncProc {
	t.Helper()
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	p, err := startProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
	g := &gsyncProc{process: p, t: t, out: out}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("stop %s: %v", cmd.Path, err)
		}
		if t.Failed() {
			t.Logf("%s %q output:\n%s", cmd.Path, cmd.Args[1:], tail(out.String(), 60))
		}
	})
	return g
}

// stop sends sig and returns the exit code (bounded wait).
func (p *gsyncProc) stop(sig syscall.Signal) int {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.t.Fatalf("%s did not stop within 40 s after %v", p.cmd.Path, sig)
	}
	return p.cmd.ProcessState.ExitCode()
}

// wait waits for the process to exit by itself (bounded) and returns its
// exit code and output.
func (p *gsyncProc) wait(timeout time.Duration) (int, string) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("%s %q did not finish within %v:\n%s", p.cmd.Path, p.cmd.Args[1:], timeout, tail(p.out.String(), 30))
	}
	return p.cmd.ProcessState.ExitCode(), p.out.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitEqual polls until dst equals src or the timeout passes, then fails
// with the remaining differences. The polls back off from 20 ms to
// pollMax, and each is a treediff.Same (stops at the first difference,
// reads contents last): comparing a large tree costs CPU that gsync and
// the peers of the parallel tests need.
func waitEqual(t *testing.T, src, dst string, timeout time.Duration, opt treediff.Options) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := 20 * time.Millisecond; ; wait = min(wait*3/2, pollMax) {
		if same, err := treediff.Same(src, dst, opt); err == nil && same {
			return
		}
		if time.Now().After(deadline) {
			treediff.Equal(t, src, dst, opt)
			t.Fatalf("target did not converge within %v", timeout)
		}
		time.Sleep(wait)
	}
}

// converges polls like waitEqual but only reports: the differences
// left at the timeout (none: dst converged). For a reference tool whose
// own races are not under test (lsyncd side by side).
func converges(src, dst string, timeout time.Duration, opts []treediff.Options) []string {
	deadline := time.Now().Add(timeout)
	for wait := 20 * time.Millisecond; time.Now().Before(deadline); wait = min(wait*3/2, pollMax) {
		if sameAll(src, dst, opts) {
			return nil
		}
		time.Sleep(wait)
	}
	var left []string
	for _, o := range opts {
		diffs, err := treediff.Compare(src, dst, o)
		if err != nil {
			left = append(left, err.Error())
		}
		for _, d := range diffs {
			left = append(left, fmt.Sprint(d))
		}
	}
	return left
}

// sameAll reports whether dst equals src under every option in opts.
func sameAll(src, dst string, opts []treediff.Options) bool {
	for _, o := range opts {
		if same, err := treediff.Same(src, dst, o); err != nil || !same {
			return false
		}
	}
	return true
}

// pollMax is the longest pause between two polls of waitEqual.
const pollMax = 500 * time.Millisecond

// runGsync runs gsync to completion (bounded) and returns exit code and output.
func runGsync(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runGsyncIn(t, "", nil, args...)
}

// runGsyncEnv is runGsync with env added to the environment.
func runGsyncEnv(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	return runGsyncIn(t, "", env, args...)
}

// runGsyncIn is runGsync in the working directory dir ("": the test's)
// with env added to the environment.
func runGsyncIn(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(gsyncBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return startProc(t, cmd).wait(60 * time.Second)
}
