package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat.
const clockTicks = 100

// stopTimeout bounds how long a stopped tool may take to exit.
const stopTimeout = 30 * time.Second

// proc is a mirror tool under test: started in its own process group,
// output read line by line and matched against the lines waited for.
type proc struct {
	name    string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed once the process was waited for

	mu      sync.Mutex
	out     bytes.Buffer // the last outputMax bytes of output
	waiters []waiter
}

type waiter struct {
	substr string
	ch     chan time.Time
}

const outputMax = 64 << 10

// startProc starts cmd; the returned proc must be stopped with stop.
func startProc(name string, cmd *exec.Cmd) (*proc, error) {
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create pipe for %s: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close()
	lines := make(chan struct{})
	go func() { // owned: ends when the tool's output closes
		defer close(lines)
		p.read(pr)
	}()
	go func() { // owned: ends when the tool exits
		cmd.Wait()
		<-lines
		close(p.done)
	}()
	return p, nil
}

func (p *proc) read(r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		now := time.Now()
		line := sc.Text()
		p.mu.Lock()
		p.out.WriteString(line + "\n")
		if p.out.Len() > 2*outputMax {
			b := p.out.Bytes()[p.out.Len()-outputMax:]
			p.out = *bytes.NewBuffer(append([]byte(nil), b...))
		}
		kept := p.waiters[:0]
		for _, w := range p.waiters {
			if strings.Contains(line, w.substr) {
				w.ch <- now
				continue
			}
			kept = append(kept, w)
		}
		p.waiters = kept
		p.mu.Unlock()
	}
}

// expect registers a line to wait for; the channel receives the time the
// first line containing substr was read. Register before the line can
// appear.
func (p *proc) expect(substr string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	p.mu.Lock()
	p.waiters = append(p.waiters, waiter{substr, ch})
	p.mu.Unlock()
	return ch
}

// wait waits for an expected line, the tool's exit or the timeout.
func (p *proc) wait(ch <-chan time.Time, what string, timeout time.Duration) (time.Time, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case at := <-ch:
		return at, nil
	case <-p.done:
		return time.Time{}, fmt.Errorf("%s exited while waiting for %s:\n%s", p.name, what, p.output())
	case <-t.C:
		return time.Time{}, fmt.Errorf("%s: no %s after %v:\n%s", p.name, what, timeout, p.output())
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.out.String()
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM to the tool by its pid, waits for it, then kills
// whatever is left of its process group (rsync or ssh children).
func (p *proc) stop() error {
	pid := p.pid()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s (%d): %w", p.name, pid, err)
	}
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	var err error
	select {
	case <-p.done:
	case <-t.C:
		err = fmt.Errorf("%s (%d) ignored SIGTERM for %v; killed", p.name, pid, stopTimeout)
	}
	syscall.Kill(-pid, syscall.SIGKILL) // the group id is the pid (Setpgid)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		return fmt.Errorf("%s (%d) did not exit after SIGKILL", p.name, pid)
	}
	return err
}

// cpuSeconds is the user + system CPU time of pid and its waited-for
// children (rsync and ssh, for lsyncd).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu times of %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, fmt.Errorf("read cpu times of %d: short stat line", pid)
	}
	var sum float64
	for _, s := range f[11:15] { // utime stime cutime cstime
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("read cpu times of %d: %w", pid, err)
		}
		sum += v
	}
	return sum / clockTicks, nil
}

// memKB returns VmRSS and VmHWM (peak RSS) of pid in KiB.
func memKB(pid int) (rss, peak int64, err error) {
	m, err := procStatus(pid, "VmRSS:", "VmHWM:")
	return m["VmRSS:"], m["VmHWM:"], err
}

// rssPartsKB returns the two parts of pid's RSS in KiB: anonymous memory
// (the heap, stacks: the process's own) and file-backed pages (its
// program and libraries, shared with the page cache).
func rssPartsKB(pid int) (anon, file int64, err error) {
	m, err := procStatus(pid, "RssAnon:", "RssFile:")
	return m["RssAnon:"], m["RssFile:"], err
}

// procStatus reads the named fields ("VmRSS:") of /proc/PID/status, in
// KiB.
func procStatus(pid int, keys ...string) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("read memory of %d: %w", pid, err)
	}
	m := map[string]int64{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !slices.Contains(keys, f[0]) {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		m[f[0]] = v
	}
	return m, nil
}

// ctxSwitches sums the voluntary and involuntary context switches of all
// threads of pid: each is a wakeup.
func ctxSwitches(pid int) (int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("list threads of %d: %v", pid, err)
	}
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "voluntary_ctxt_switches:") || strings.HasPrefix(l, "nonvoluntary_ctxt_switches:") {
				v, _ := strconv.ParseInt(strings.TrimSpace(l[strings.IndexByte(l, ':')+1:]), 10, 64)
				n += v
			}
		}
	}
	return n, nil
}

// poll calls cond every interval until it returns true, ctx ends or
// timeout passes; it returns the time cond first held.
func poll(ctx context.Context, interval, timeout time.Duration, cond func() bool) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("condition not met within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(interval):
		}
	}
}
