package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// maxProcKind is one kind of target of TestMaxProcesses: gsync's
// arguments before SRC, its TARGET for a scenario, the directory the
// target writes, and the comparisons.
type maxProcKind struct {
	name   string
	args   []string
	target func(scenario string) (arg, dir string)
	cmp    []treediff.Options
	log    func() string // the peer's log, if it keeps one
}

// TestMaxProcesses runs --max-processes 4 against a real rsync 3.5.0
// daemon and sshd (one peer of each for every scenario):
//   - burst: changes across many directories, moves and deletes of
//     directories with files, in one batch: the target equals the source
//     afterwards, and the metrics show that pushes ran at the same time
//     (gsync_pushes_in_flight_peak >= 2), so the test fails if N > 1 does
//     nothing;
//   - order: a directory with a file that takes 2 s to push (--bwlimit)
//     is renamed, and a file is written into it, while that push is in
//     flight: the rename must wait for it. The target converges on both
//     kinds (a rename beside the push would be repaired by retries), so
//     the daemon's transfer log is the oracle of the order: d/big
//     received before d is deleted.
func TestMaxProcesses(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	base := t.TempDir()
	var mods []Module
	for _, s := range []string{"burst", "order"} {
		mods = append(mods, Module{Name: s, Path: filepath.Join(base, "daemon-"+s),
			Extra: "\ttransfer logging = yes\n\tlog format = op=%o path=%f"})
	}
	d := StartRsyncDaemon(t, Config{Modules: mods})
	s := startSSHPeer(t)
	kinds := []maxProcKind{
		{name: "rsyncd-3.5", target: func(sc string) (string, string) { return d.URL(sc), filepath.Join(base, "daemon-"+sc) },
			cmp: rsyncPeerOptions(32), log: d.Log},
		{name: "ssh", args: sshArgs(s), target: func(sc string) (string, string) {
			dir := filepath.Join(base, "ssh-"+sc)
			return sshTarget(dir), dir
		}, cmp: sshCompareOptions},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			t.Run("burst", func(t *testing.T) {
				t.Parallel()
				maxProcBurst(t, k)
			})
			t.Run("order", func(t *testing.T) {
				t.Parallel()
				maxProcOrder(t, k)
			})
		})
	}
}

func maxProcBurst(t *testing.T, k maxProcKind) {
	src := t.TempDir()
	for i := range 12 {
		testutil.Fill(t, src, fmt.Sprintf("s%d", i), 4)
	}
	arg, dir := k.target("burst")
	maddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	g := startGsync(t, nil, append(append([]string{"--delay", "1", "--max-processes", "4", "--control-socket", "none",
		"--metrics-addr", maddr}, k.args...), src, arg)...)
	waitEqualAll(t, src, dir, 30*time.Second, k.cmp)

	for i := range 40 {
		testutil.Fill(t, src, fmt.Sprintf("n%d/sub", i), 3)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Rename(filepath.Join(src, "s0"), filepath.Join(src, "m0")))
	must(os.Rename(filepath.Join(src, "s1"), filepath.Join(src, "s2", "inner")))
	must(os.Rename(filepath.Join(src, "s3", "f0000"), filepath.Join(src, "n0", "moved")))
	must(os.RemoveAll(filepath.Join(src, "s4")))
	must(os.RemoveAll(filepath.Join(src, "s5")))
	for i := 6; i < 12; i++ {
		testutil.WriteFile(t, filepath.Join(src, fmt.Sprintf("s%d", i), "f0001"), fmt.Sprintf("changed %d", i))
	}
	waitEqualAll(t, src, dir, 30*time.Second, k.cmp)

	fams := scrape(t, maddr)
	lbl := map[string]string{"sync": "Sync1"}
	if v, ok := metricValue(fams, "gsync_max_processes", lbl); !ok || v != 4 {
		t.Errorf("gsync_max_processes = %v, %v; want 4", v, ok)
	}
	if v, ok := metricValue(fams, "gsync_pushes_in_flight_peak", lbl); !ok || v < 2 {
		t.Errorf("gsync_pushes_in_flight_peak = %v, %v; want at least 2 (pushes that overlapped in time)", v, ok)
	}
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143", code)
	}
}

func maxProcOrder(t *testing.T, k maxProcKind) {
	src := t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "keep"), "keep")
	arg, dir := k.target("order")
	g := startGsync(t, nil, append(append([]string{"--delay", "0", "--max-processes", "4", "--bwlimit", "64",
		"--control-socket", "none"}, k.args...), src, arg)...)
	waitEqualAll(t, src, dir, 30*time.Second, k.cmp)

	// The directory arrives whole (moved in from outside the source):
	// one batch, one push of 128 KiB at 64 KiB/s.
	stage := t.TempDir()
	testutil.MustMkdir(t, filepath.Join(stage, "d"))
	testutil.WriteFile(t, filepath.Join(stage, "d", "big"), string(bytes.Repeat([]byte("0123456789abcdef"), 8192)))
	testutil.WriteFile(t, filepath.Join(stage, "d", "small"), "small")
	if err := os.Rename(filepath.Join(stage, "d"), filepath.Join(src, "d")); err != nil {
		t.Fatal(err)
	}
	// The receiver writes big to a temporary name in d: its push is
	// under way. Now rename d and write into it.
	testutil.Eventually(t, "big being received", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "d", ".big.*"))
		return len(m) > 0
	})
	if err := os.Rename(filepath.Join(src, "d"), filepath.Join(src, "e")); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(src, "e", "new"), "new")
	testutil.WriteFile(t, filepath.Join(src, "other"), "other")
	waitEqualAll(t, src, dir, 30*time.Second, k.cmp)
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143", code)
	}
	// Had the rename gone out beside the push of d, it would have
	// deleted (daemon) or moved (ssh) d while big was still written
	// into it. The daemon's log says the order: big received in d, then
	// d deleted (the rename, as delete + send). d/small may fail in the
	// first push (it was renamed at the source before it was read): it
	// is retried, the target converges all the same.
	if k.log != nil {
		log := k.log()
		recv, del := strings.Index(log, "op=recv path=d/big"), strings.Index(log, "op=del. path=d")
		if recv < 0 || del < 0 || del < recv {
			t.Errorf("the daemon received d/big at %d and deleted d at %d of its log, want both, the receive first:\n%s", recv, del, log)
		}
	}
}
