package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/treediff"
)

// gsyncBin is the gsync binary built once for all end-to-end tests.
var gsyncBin string

func TestMain(m *testing.M) {
	if n := os.Getenv(userNSWatchesEnv); n != "" {
		// Re-executed by startGsyncWatchLimit in a user namespace of its own.
		userNSExec(n)
		return
	}
	dir, err := os.MkdirTemp("", "gsync-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gsyncBin = filepath.Join(dir, "gsync")
	args := []string{"build", "-o", gsyncBin}
	// The stages are race-tested by their own packages; a race-enabled gsync
	// binary makes these end-to-end runs several times slower, so it is
	// opt-in here.
	if raceEnabled && os.Getenv("GSYNC_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "github.com/gsync/gsync/cmd/gsync")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gsync:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncedBuffer collects a process's output safely while it runs.
type syncedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gsyncProc is a running gsync started by a test.
type gsyncProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncedBuffer
	done chan struct{}
	err  error
}

// startGsync runs gsync with args; it is stopped (SIGKILL) at cleanup if the
// test did not stop it.
func startGsync(t *testing.T, env []string, args ...string) *gsyncProc {
	t.Helper()
	cmd := exec.Command(gsyncBin, args...)
	cmd.Env = append(os.Environ(), env...)
	return startProc(t, cmd)
}

// startProc starts cmd with its output collected; it is killed at cleanup
// if the test did not stop it, and its output is logged when the test failed.
func startProc(t *testing.T, cmd *exec.Cmd) *gsyncProc {
	t.Helper()
	p := &gsyncProc{t: t, cmd: cmd, out: &syncedBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s %q output:\n%s", cmd.Path, cmd.Args[1:], tail(p.out.String(), 60))
		}
	})
	return p
}

// stop sends sig and returns the exit code (bounded wait).
func (p *gsyncProc) stop(sig syscall.Signal) int {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.t.Fatalf("gsync did not stop within 40 s after %v", sig)
	}
	return p.cmd.ProcessState.ExitCode()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitEqual polls until dst equals src or the timeout passes, then fails
// with the remaining differences.
func waitEqual(t *testing.T, src, dst string, timeout time.Duration, opt treediff.Options) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		diffs, err := treediff.Compare(src, dst, opt)
		if err == nil && len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			treediff.Equal(t, src, dst, opt)
			t.Fatalf("target did not converge within %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runGsync runs gsync to completion (bounded) and returns exit code and output.
func runGsync(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gsyncBin, args...)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("gsync %q did not finish: %s", args, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}
