package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// TestMaxProcessesHardLinks: -H with --max-processes 4 against a real
// rsync 3.5.0 daemon and a local target: a burst of new directories
// with files, a new name of a file mirrored before, a file with three
// new names in three new directories and a write through one name of a
// linked file go out in one batch, split into pushes that run at the
// same time (gsync_pushes_in_flight_peak >= 2); every linked name lands
// as a link (treediff compares link counts and the grouping of names
// into inodes), and the daemon's transfer log shows the linked names
// received by one process: the changes that may send a linked name stay
// in one push.
func TestMaxProcessesHardLinks(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	base := t.TempDir()
	mod := filepath.Join(base, "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "links", Path: mod,
		Extra: "\ttransfer logging = yes\n\tlog format = op=%o pid=%p path=%f"}}})
	for _, k := range []struct {
		name, arg, dir string
		cmp            []treediff.Options
		log            func() string
	}{
		{"rsyncd-3.5", d.URL("links"), mod, rsyncPeerOptions(32), d.Log},
		{"local", filepath.Join(base, "local"), filepath.Join(base, "local"),
			[]treediff.Options{{SkipDirMtimes: true, IgnoreRootMtime: true}}, nil},
	} {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			var cmp []treediff.Options
			for _, o := range k.cmp {
				o.CompareHardLinks = true
				cmp = append(cmp, o)
			}
			maxProcLinks(t, k.arg, k.dir, cmp, k.log)
		})
	}
}

func maxProcLinks(t *testing.T, arg, dir string, cmp []treediff.Options, logf func() string) {
	src := t.TempDir()
	link := func(from, to string) {
		t.Helper()
		testutil.MustMkdir(t, filepath.Dir(filepath.Join(src, to)))
		if err := os.Link(filepath.Join(src, from), filepath.Join(src, to)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		testutil.Fill(t, src, fmt.Sprintf("s%d", i), 3)
	}
	testutil.WriteFile(t, filepath.Join(src, "a", "l1"), "linked")
	link("a/l1", "b/l2")
	maddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	g := startGsync(t, nil, "-H", "--delay", "1", "--max-processes", "4", "--control-socket", "none",
		"--metrics-addr", maddr, src, arg)
	waitEqualAll(t, src, dir, 30*time.Second, cmp)
	before := 0
	if logf != nil {
		before = len(logf())
	}

	for i := range 24 {
		testutil.Fill(t, src, fmt.Sprintf("n%d", i), 3)
	}
	link("a/l1", "c/l3")      // a new name of a file the target has
	link("n3/f0000", "n7/ln") // a file with three names in new dirs
	link("n3/f0000", "n11/ln")
	link("s1/f0001", "s2/ln") // a second name for a file mirrored alone
	f, err := os.OpenFile(filepath.Join(src, "b", "l2"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("changed through l2"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitEqualAll(t, src, dir, 30*time.Second, cmp)

	fams := scrape(t, maddr)
	if v, ok := metricValue(fams, "gsync_pushes_in_flight_peak", map[string]string{"sync": "Sync1"}); !ok || v < 2 {
		t.Errorf("gsync_pushes_in_flight_peak = %v, %v; want at least 2 (the batch split)", v, ok)
	}
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143", code)
	}
	if logf == nil {
		return
	}
	// The daemon's transfer log names the receiver process of each file
	// it received: the linked names of the burst were all in one push.
	// Split apart, the names of the three inodes would each go with
	// their directories' groups.
	linked := map[string]bool{"a/l1": true, "b/l2": true, "c/l3": true, "n3/f0000": true, "n7/ln": true,
		"n11/ln": true, "s1/f0001": true, "s2/ln": true}
	pids := map[string][]string{}
	for _, line := range strings.Split(logf()[before:], "\n") {
		m := regexp.MustCompile(`op=recv pid=(\d+) path=(\S+)$`).FindStringSubmatch(line)
		if m != nil && linked[m[2]] {
			pids[m[1]] = append(pids[m[1]], m[2])
		}
	}
	if len(pids) != 1 {
		t.Errorf("the linked names were received by %d processes, want 1: %v", len(pids), pids)
	}
}
