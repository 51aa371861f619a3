package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// TestIndexRestart: with --state-dir, a restart pushes what changed while
// gsync was down, including a change that kept size and mtime, and the
// target ends equal to the source; to an rsync daemon and to a local
// directory.
func TestIndexRestart(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"rsyncd", "local"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			src, state := t.TempDir(), t.TempDir()
			var dst, target string
			switch kind {
			case "rsyncd":
				dst = filepath.Join(t.TempDir(), "module")
				d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dst}}})
				target = d.URL("m")
			default:
				dst = filepath.Join(t.TempDir(), "dst")
				target = dst
			}
			past := time.Unix(1700000000, 0)
			for i := range 20 {
				testutil.WriteFile(t, filepath.Join(src, fmt.Sprintf("d%d/f%d", i%4, i)), "content "+fmt.Sprint(i))
			}
			same := filepath.Join(src, "d1/f1")
			testutil.Must(t, os.Chtimes(same, past, past))
			args := []string{"--delay", "0", "--state-dir", state, src, target}
			opts := rsyncPeerOptions(32)

			g := startGsync(t, nil, args...)
			waitEqualAll(t, src, dst, 60*time.Second, opts)
			testutil.Eventually(t, "tree index saved", func() bool {
				ents, _ := os.ReadDir(state)
				return len(ents) == 1
			})
			if code := g.stop(syscall.SIGTERM); code != 143 {
				t.Fatalf("gsync exit %d, want 143", code)
			}

			// While gsync is down: new content of the same size and
			// mtime, a deletion, a new directory, a mode change.
			testutil.Must(t, os.WriteFile(same, []byte("CONTENT 1"), 0o644))
			testutil.Must(t, os.Chtimes(same, past, past))
			testutil.Must(t, os.RemoveAll(filepath.Join(src, "d2")))
			testutil.WriteFile(t, filepath.Join(src, "new/sub/x"), "x")
			testutil.Must(t, os.Chmod(filepath.Join(src, "d3/f3"), 0o600))

			g = startGsync(t, nil, args...)
			waitEqualAll(t, src, dst, 60*time.Second, opts)
			testutil.Eventually(t, "catch-up logged", func() bool { return strings.Contains(g.out.String(), "restart with a tree index") })
			out := g.out.String()
			if !strings.Contains(out, "deleted=1") {
				t.Errorf("catch-up did not count one deleted tree:\n%s", tail(out, 20))
			}
		})
	}
}

// TestIndexKilledMidBatch: gsync killed (SIGKILL) while it pushes a
// stream of changes, and the source changed further while it was down:
// the restart with the tree index loses nothing.
func TestIndexKilledMidBatch(t *testing.T) {
	t.Parallel()
	src, state := t.TempDir(), t.TempDir()
	dst := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dst}}})
	testutil.WriteFile(t, filepath.Join(src, "seed"), "seed")
	args := []string{"--delay", "0", "--state-dir", state, src, d.URL("m")}
	opts := rsyncPeerOptions(32)

	g := startGsync(t, nil, args...)
	waitEqualAll(t, src, dst, 60*time.Second, opts)
	for i := range 300 {
		testutil.WriteFile(t, filepath.Join(src, fmt.Sprintf("w%d/f%03d", i%10, i)), strings.Repeat("x", i))
		if i == 150 {
			g.stop(syscall.SIGKILL)
		}
	}
	testutil.Must(t, os.Remove(filepath.Join(src, "seed")))
	g = startGsync(t, nil, args...)
	waitEqualAll(t, src, dst, 60*time.Second, opts)
	if !strings.Contains(g.out.String(), "restart with a tree index") {
		t.Errorf("the restart did not use the tree index:\n%s", tail(g.out.String(), 20))
	}
}

// TestAttrsNotKeptWarnedOnce: a receiver that cannot keep an attribute
// (an owner it may not set: uid -1 by --usermap) gets the data; gsync
// warns once per push and does not retry the paths.
func TestAttrsNotKeptWarnedOnce(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the daemon sets owners only as root")
	}
	src := t.TempDir()
	dst := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dst}}})
	testutil.WriteFile(t, filepath.Join(src, "a"), "a")
	g := startGsync(t, nil, "--delay", "0", "--usermap", "*:4294967295", src, d.URL("m"))
	waitEqualAll(t, src, dst, 60*time.Second, rsyncPeerOptions(32))
	testutil.WriteFile(t, filepath.Join(src, "b"), "b")
	waitEqualAll(t, src, dst, 60*time.Second, rsyncPeerOptions(32))
	testutil.Eventually(t, "the warning", func() bool {
		return strings.Count(g.out.String(), "could not keep some attributes") >= 2
	})
	time.Sleep(1500 * time.Millisecond) // a retry would come after 1 s
	out := g.out.String()
	if strings.Contains(out, "will retry") || strings.Contains(out, "path not mirrored") {
		t.Errorf("attribute failures were retried:\n%s", tail(out, 20))
	}
}
