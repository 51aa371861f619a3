// Package integration holds end-to-end tests of gsync against real peers and
// the harness that starts those peers: a C rsync daemon, an OpenSSH sshd and
// the in-process gokrazy rsyncd. Every peer listens on 127.0.0.1 on a free
// port, is started by the test and stopped by its process id in a cleanup.
// Production code must not import this package.
package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readyTimeout bounds every wait for a peer to start or stop.
const readyTimeout = 10 * time.Second

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitPort waits until addr accepts TCP connections or ctx ends.
func WaitPort(ctx context.Context, addr string) error {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last error: %v)", addr, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// process is a process started by a test (a peer, gsync), in its own
// process group so that stopping it also stops the children it forked.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
	err  error         // Wait's result, valid after done
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady waits until addr accepts connections, failing early when the
// process exits.
func (p *process) waitReady(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := WaitPort(ctx, addr); err != nil {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before listening: %v", p.cmd.Path, p.err)
		default:
			return err
		}
	}
	return nil
}

// stop kills the process group by the process id and waits for it.
func (p *process) stop() error {
	pid := p.cmd.Process.Pid
	select {
	case <-p.done:
	default:
		// The group id is the pid we started (Setpgid).
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill process group %d: %w", pid, err)
		}
	}
	select {
	case <-p.done:
	case <-time.After(readyTimeout):
		return fmt.Errorf("process %d did not exit", pid)
	}
	// Connection children may still be exiting; the group is gone once
	// no live (non-zombie) member is left.
	deadline := time.Now().Add(readyTimeout)
	for groupAlive(pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("process group %d did not exit", pid)
		}
		syscall.Kill(-pid, syscall.SIGKILL)
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// groupAlive reports whether process group pgid has a member that is not a
// zombie. Orphaned zombies are reaped by init on its own schedule.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	procs, ok := liveProcesses()
	if !ok {
		return true
	}
	for _, p := range procs {
		if p.pgrp == pgid {
			return true
		}
	}
	return false
}

// proc is a live (not zombie) process as /proc/PID/stat describes it.
type proc struct {
	pid, ppid, pgrp int
}

// liveProcesses lists the processes in /proc that are not zombies; ok is
// false when /proc cannot be read.
func liveProcesses() (procs []proc, ok bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		ppid, err1 := strconv.Atoi(f[1])
		pgrp, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			continue
		}
		procs = append(procs, proc{pid: pid, ppid: ppid, pgrp: pgrp})
	}
	return procs, true
}

// lookBinary returns the path of a binary, or skips the test.
func lookBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }

// readFile returns a file's content for failure messages.
func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", p, err)
	}
	return string(b)
}
