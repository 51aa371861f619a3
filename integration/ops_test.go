package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/internal/treediff"
)

// The operations features, driven for real: the control socket while a
// push is in flight, metrics over HTTP, systemd notifications, the empty
// source and --max-delete guards, two targets with one of them down, and
// the log file reopened on SIGUSR1.

// signalGroup sends sig to the daemon and its connection processes.
func (d *RsyncDaemon) signalGroup(t *testing.T, sig syscall.Signal) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		t.Fatal("daemon not running")
	}
	if err := syscall.Kill(-d.proc.cmd.Process.Pid, sig); err != nil {
		t.Fatalf("signal daemon group: %v", err)
	}
}

// queryStatus asks gsync's control socket.
func queryStatus(t *testing.T, sock string) control.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := control.Query(ctx, sock)
	if err != nil {
		t.Fatalf("query status: %v", err)
	}
	return st
}

// waitStatus polls the control socket until ok accepts the status.
func waitStatus(t *testing.T, sock string, timeout time.Duration, what string, ok func(control.Status) bool) control.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := control.Query(context.Background(), sock)
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed %s within %v; last: %+v (err %v)", what, timeout, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scrape fetches and parses gsync's metrics.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// metricValue returns the value of the sample of name whose labels include
// want; ok is false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestOpsStatusAndMetrics queries the control socket and scrapes the
// metrics while a push to an rsync daemon is held in flight (the daemon
// is stopped with SIGSTOP), then after it landed.
func TestOpsStatusAndMetrics(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	dir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir}}})
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "first"), []byte("one"), 0o644)
	sock := filepath.Join(t.TempDir(), "ctl", "gsync.sock")
	maddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	g := startGsync(t, nil, "--delay", "0", "--timeout", "60", "--control-socket", sock, "--metrics-addr", maddr, src, d.URL("m"))
	opts := rsyncPeerOptions(32)
	waitEqualAll(t, src, dir, 30*time.Second, opts)

	st := waitStatus(t, sock, 10*time.Second, "idle after the startup sync", func(s control.Status) bool {
		return len(s.Targets) == 1 && s.Targets[0].State == "idle" && s.Targets[0].LastSuccess != nil
	})
	if tg := st.Targets[0]; tg.Source != src || tg.FilesPushed < 1 || tg.Watches != 1 || tg.Batches < 1 || st.PID != g.cmd.Process.Pid {
		t.Errorf("status after startup: %+v", st)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("control socket: %v, %v; want a socket with mode 0600", fi.Mode(), err)
	}

	// Hold the next push in flight.
	d.signalGroup(t, syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			d.signalGroup(t, syscall.SIGCONT)
		}
	}()
	os.WriteFile(filepath.Join(src, "second"), []byte("two two"), 0o644)
	st = waitStatus(t, sock, 15*time.Second, "a push in flight", func(s control.Status) bool {
		return s.Targets[0].State == "pushing" && s.Targets[0].InFlight >= 1
	})
	fams := scrape(t, maddr)
	lbl := map[string]string{"sync": "Sync1"}
	if v, ok := metricValue(fams, "gsync_target_state", map[string]string{"sync": "Sync1", "state": "pushing"}); !ok || v != 1 {
		t.Errorf("gsync_target_state{state=pushing} = %v, %v during the push", v, ok)
	}
	if v, ok := metricValue(fams, "gsync_in_flight", lbl); !ok || v < 1 {
		t.Errorf("gsync_in_flight = %v, %v during the push", v, ok)
	}
	code, out := runGsync(t, "status", "--socket", sock)
	if code != 0 || !strings.Contains(out, "pushing") || !strings.Contains(out, src) {
		t.Errorf("gsync status during the push: exit %d\n%s", code, out)
	}

	d.signalGroup(t, syscall.SIGCONT)
	stopped = false
	waitEqualAll(t, src, dir, 30*time.Second, opts)
	waitStatus(t, sock, 10*time.Second, "idle after the push", func(s control.Status) bool {
		return s.Targets[0].State == "idle" && s.Targets[0].Queue == 0 && s.Targets[0].FilesPushed >= 2
	})
	code, out = runGsync(t, "status", "--json", "--socket", sock)
	var all []control.Status
	if err := json.Unmarshal([]byte(out), &all); code != 0 || err != nil || len(all) != 1 || all[0].Targets[0].BytesPushed < 10 {
		t.Errorf("gsync status --json: exit %d, %v: %s", code, err, out)
	}
	fams = scrape(t, maddr)
	for name, min := range map[string]float64{
		"gsync_events_total": 1, "gsync_files_total": 2, "gsync_bytes_total": 10,
		"gsync_batch_duration_seconds": 2, "gsync_watches": 1, "gsync_target_up": 1,
	} {
		if v, ok := metricValue(fams, name, lbl); !ok || v < min {
			t.Errorf("%s = %v (present %v), want >= %v", name, v, ok, min)
		}
	}
	if v, ok := metricValue(fams, "gsync_batches_total", map[string]string{"sync": "Sync1", "kind": "batch"}); !ok || v < 1 {
		t.Errorf("gsync_batches_total{kind=batch} = %v, %v", v, ok)
	}
	if v, ok := metricValue(fams, "gsync_queue_depth", lbl); !ok || v != 0 {
		t.Errorf("gsync_queue_depth = %v, %v after convergence", v, ok)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit %d after SIGTERM, want 143", code)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind after exit: %v", err)
	}
}

// TestOpsTwoTargetsOneDown mirrors one source to an rsync daemon and a
// local directory; with the daemon down the local target keeps
// converging, the daemon target reports retrying, and it catches up once
// the daemon is back.
func TestOpsTwoTargetsOneDown(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	dir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir}}})
	src, local := t.TempDir(), filepath.Join(t.TempDir(), "local")
	seedTree(t, src, 3, 60)
	sock := filepath.Join(t.TempDir(), "gsync.sock")
	g := startGsync(t, nil, "--delay", "0", "--timeout", "10", "--control-socket", sock, src, d.URL("m"), "--target", local)
	opts := rsyncPeerOptions(32)
	waitEqualAll(t, src, dir, 30*time.Second, opts)
	waitEqual(t, src, local, 30*time.Second, treediff.Options{})

	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	c := newChurner(t, src, 7)
	defer c.dump()
	for round := 0; round < 3; round++ {
		c.run(40)
		// The local target converges while the daemon is down.
		waitEqual(t, src, local, 30*time.Second, treediff.Options{})
	}
	st := waitStatus(t, sock, 30*time.Second, "the daemon target retrying", func(s control.Status) bool {
		return len(s.Targets) == 2 && s.Targets[0].State == "retrying" && s.Targets[0].NextAttempt != nil && s.Targets[0].LastError != ""
	})
	if st.Targets[1].State == "retrying" || st.Targets[1].Queue != 0 {
		t.Errorf("local target held up by the daemon: %+v", st.Targets[1])
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	waitEqualAll(t, src, dir, 90*time.Second, opts)
	waitEqual(t, src, local, 10*time.Second, treediff.Options{})
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit %d after SIGTERM, want 143", code)
	}
}

// TestOpsSystemdNotify receives gsync's sd_notify messages on a test
// socket: READY=1 only after the startup sync landed, STATUS= lines,
// WATCHDOG=1 pings, STOPPING=1 on SIGTERM.
func TestOpsSystemdNotify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	seedTree(t, src, 5, 80)
	sockPath := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	g := startGsync(t, []string{"NOTIFY_SOCKET=" + sockPath, "WATCHDOG_USEC=400000"},
		"--delay", "0", "--control-socket", "none", src, dst)

	seen := map[string]bool{}
	read := func(want string, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		buf := make([]byte, 64<<10)
		for !seen[want] {
			conn.SetReadDeadline(deadline)
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("no %s from gsync within %v (seen %v): %v", want, timeout, seen, err)
			}
			for _, line := range strings.Split(string(buf[:n]), "\n") {
				key := line
				if i := strings.IndexByte(line, '='); i > 0 && line[:i] == "STATUS" {
					key = "STATUS"
				}
				if key == "READY=1" && !seen[key] {
					// READY comes after the startup sync: the target is complete now.
					if diffs, err := treediff.Compare(src, dst, treediff.Options{}); err != nil || len(diffs) > 0 {
						t.Errorf("READY=1 before the startup sync landed: %v %v", diffs, err)
					}
				}
				seen[key] = true
			}
		}
	}
	read("READY=1", 30*time.Second)
	read("STATUS", 10*time.Second)
	read("WATCHDOG=1", 10*time.Second)
	g.cmd.Process.Signal(syscall.SIGTERM)
	read("STOPPING=1", 10*time.Second)
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit %d, want 143", code)
	}
}

// TestOpsEmptySourceGuard: an empty source never wipes a full target in
// a full sync (--once exits 1 with the reason); deletions the kernel
// reported one by one are real and empty the mirror (lsyncd: rm -rf
// src/*); --allow-empty-source lifts the full-sync guard.
func TestOpsEmptySourceGuard(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dst, "precious"), []byte("keep me"), 0o644)
	code, out := runGsync(t, "--once", src, dst)
	if code != 1 || !strings.Contains(out, "is empty") {
		t.Errorf("--once with an empty source: exit %d, want 1 with the reason:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dst, "precious")); err != nil {
		t.Fatalf("an empty source wiped the target: %v", err)
	}

	// Live: the source fills, is mirrored, then everything in it is
	// deleted: the mirror follows.
	os.Remove(filepath.Join(dst, "precious"))
	seedTree(t, src, 9, 40)
	g := startGsync(t, nil, "--delay", "0.2", src, dst)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(src, e.Name()))
	}
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	g.stop(syscall.SIGTERM)

	// Allowed: a full sync follows the empty source.
	os.WriteFile(filepath.Join(dst, "stale"), []byte("x"), 0o644)
	code, out = runGsync(t, "--once", "--allow-empty-source", src, dst)
	if n := countEntries(t, dst); code != 0 || n != 0 {
		t.Errorf("--allow-empty-source: exit %d, %d entries left:\n%s", code, n, out)
	}
}

// TestOpsMaxDelete: a batch deleting more than --max-delete paths keeps
// the target's files; the rest of the batch lands.
func TestOpsMaxDelete(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	for i := range 6 {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("f%d", i)), []byte("data"), 0o644)
	}
	g := startGsync(t, nil, "--delay", "1", "--max-delete", "3", src, dst)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	for i := range 4 {
		os.Remove(filepath.Join(src, fmt.Sprintf("f%d", i)))
	}
	os.WriteFile(filepath.Join(src, "new"), []byte("new"), 0o644)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dst, "new")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rest of the batch did not land:\n%s", tail(g.out.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The batch is logged once it is done, a moment after "new" landed.
	waitOutput(t, g, 0, 20*time.Second, "more than --max-delete 3")
	for i := range 4 {
		if _, err := os.Stat(filepath.Join(dst, fmt.Sprintf("f%d", i))); err != nil {
			t.Errorf("f%d deleted despite --max-delete: %v", i, err)
		}
	}
	// Fewer deletes than the limit go through.
	os.Remove(filepath.Join(src, "f4"))
	deadline = time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dst, "f4")); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a delete under the limit did not land:\n%s", tail(g.out.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.stop(syscall.SIGTERM)
}

// TestOpsLogFileReopen: --log-file gets the logs; after logrotate's
// rename, SIGUSR1 makes gsync write to a new file of the old name. The
// --pidfile is held while gsync runs and removed at exit.
func TestOpsLogFileReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst, logf := filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "gsync.log")
	pid := filepath.Join(dir, "gsync.pid")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "a"), []byte("a"), 0o644)
	g := startGsync(t, nil, "--delay", "0", "--log-format", "json", "--log-file", logf, "--control-socket", "none",
		"--pidfile", pid, src, dst)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	if b, err := os.ReadFile(pid); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(g.cmd.Process.Pid) {
		t.Errorf("pidfile = %q, %v; want %d", b, err, g.cmd.Process.Pid)
	}
	if code, out := runGsync(t, "--once", "--pidfile", pid, "--control-socket", "none", src, filepath.Join(dir, "other")); code == 0 || !strings.Contains(out, "locked by another running instance") {
		t.Errorf("a second gsync on the same pidfile: exit %d, %s", code, out)
	}
	waitLog := func(path, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(readFile(path), want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s never contained %q:\n%s", path, want, readFile(path))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLog(logf, `"msg":"full sync done"`)
	if err := os.Rename(logf, logf+".1"); err != nil {
		t.Fatal(err)
	}
	g.cmd.Process.Signal(syscall.SIGUSR1)
	waitLog(logf, "log file reopened")
	os.WriteFile(filepath.Join(src, "b"), []byte("b"), 0o644)
	waitLog(logf, `"msg":"batch done"`)
	if strings.Contains(readFile(logf+".1"), "batch done") {
		t.Error("the batch was logged into the rotated file")
	}
	for _, line := range strings.Split(strings.TrimSpace(readFile(logf)), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	if out := g.out.String(); strings.Contains(out, "batch done") {
		t.Errorf("logs went to stderr too: %s", out)
	}
	g.stop(syscall.SIGTERM)
	if _, err := os.Stat(pid); err == nil {
		t.Error("pidfile left behind after SIGTERM")
	}
}

func countEntries(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
