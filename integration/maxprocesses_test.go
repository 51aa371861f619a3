package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/control"
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
//     flight: the rename must wait for it (else the push rewrites the old
//     name after the rename removed it, or writes into a moved directory).
func TestMaxProcesses(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	base := t.TempDir()
	var mods []Module
	for _, s := range []string{"burst", "order"} {
		mods = append(mods, Module{Name: s, Path: filepath.Join(base, "daemon-"+s)})
	}
	d := StartRsyncDaemon(t, Config{Modules: mods})
	s := startSSHPeer(t)
	kinds := []maxProcKind{
		{name: "rsyncd-3.5", target: func(sc string) (string, string) { return d.URL(sc), filepath.Join(base, "daemon-"+sc) },
			cmp: rsyncPeerOptions(32)},
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
	sock := filepath.Join(t.TempDir(), "gsync.sock")
	g := startGsync(t, nil, append(append([]string{"--delay", "0", "--max-processes", "4", "--bwlimit", "64",
		"--control-socket", sock}, k.args...), src, arg)...)
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
	waitStatus(t, sock, 10*time.Second, "the push of d in flight", func(s control.Status) bool {
		return len(s.Targets) == 1 && s.Targets[0].Pushes >= 1 && s.Targets[0].InFlight >= 1
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
}
