package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// descendants returns pid and every live process below it (by parent pid in
// /proc). sshd puts each connection in a session of its own (setsid), so a
// process group does not reach them.
func descendants(pid int) []int {
	parent := map[int]int{}
	procs, _ := liveProcesses()
	for _, p := range procs {
		parent[p.pid] = p.ppid
	}
	out := []int{pid}
	for changed := true; changed; {
		changed = false
		for n, pp := range parent {
			if pp == 0 || n == pid {
				continue
			}
			for _, o := range out {
				if pp == o && !contains(out, n) {
					out = append(out, n)
					changed = true
					break
				}
			}
		}
	}
	return out
}

func contains(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

// signalTree sends sig to pid and all its descendants, twice over so that a
// child forked meanwhile is reached as well.
func signalTree(pid int, sig syscall.Signal) error {
	for round := 0; round < 2; round++ {
		for _, p := range descendants(pid) {
			if err := syscall.Kill(p, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("signal %d: %w", p, err)
			}
		}
	}
	return nil
}

// signalSSHD sends sig to the sshd listener pid and to the sshd processes
// below it (the per-connection processes, whose executable is bin or a
// sibling sshd-* helper), not to the users' commands they run.
func signalSSHD(pid int, bin string, sig syscall.Signal) error {
	want, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", bin, err)
	}
	dir := filepath.Dir(want)
	for round := 0; round < 2; round++ {
		for _, p := range descendants(pid) {
			exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
			// OpenSSH >= 9.8 runs connections as sshd-session (and
			// sshd-auth) next to sshd.
			if err != nil || filepath.Dir(exe) != dir || !strings.HasPrefix(filepath.Base(exe), "sshd") {
				continue
			}
			if err := syscall.Kill(p, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("signal %d: %w", p, err)
			}
		}
	}
	return nil
}

// Stop freezes the daemon and its connection processes (SIGSTOP): the
// network stalls without closing a connection.
func (d *RsyncDaemon) Stop() error { return d.signal(syscall.SIGSTOP) }

// Cont resumes a daemon frozen by Stop.
func (d *RsyncDaemon) Cont() error { return d.signal(syscall.SIGCONT) }

func (d *RsyncDaemon) signal(sig syscall.Signal) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return fmt.Errorf("rsync daemon %s is not running", d.Addr)
	}
	return signalTree(d.proc.cmd.Process.Pid, sig)
}

// rsync327 returns the rsync 3.2.7 binary named by $GSYNC_RSYNC_327 (.ci/run
// unpacks Debian's rsync_3.2.7 package and sets it), or skips the test.
func rsync327(t *testing.T) string {
	t.Helper()
	p := os.Getenv("GSYNC_RSYNC_327")
	if p == "" {
		t.Skip("GSYNC_RSYNC_327 is not set: no rsync 3.2.7 to test against (.ci/run unpacks Debian's rsync=3.2.7-1+deb12u6 and sets it)")
	}
	out, err := exec.Command(p, "--version").Output()
	if err != nil {
		t.Fatalf("GSYNC_RSYNC_327=%s: run --version: %v", p, err)
	}
	if !strings.Contains(string(out), "version 3.2.7") {
		t.Fatalf("GSYNC_RSYNC_327=%s is not rsync 3.2.7: %s", p, firstLine(string(out)))
	}
	return p
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
