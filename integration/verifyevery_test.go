package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/internal/testutil"
)

// TestVerifyEveryRepairsDrift: on a local target, an rsync 3.5.0 daemon
// and sshd, gsync --verify-every notices a target edited behind its back
// (a file rewritten with another size, an extra file, a deleted file, a
// chmod), logs and counts the drift (gsync status, gsync_drift_paths)
// and repairs it, while live changes keep arriving; with --verify-only
// it counts the drift and leaves the target as it is.
func TestVerifyEveryRepairsDrift(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	for _, p := range verifyPeers() {
		for _, only := range []bool{false, true} {
			name := p.name
			if only {
				name += "-verify-only"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				dst, targetArgs := p.target(t)
				src, work := t.TempDir(), t.TempDir()
				for i := range 5 {
					testutil.WriteFile(t, filepath.Join(src, fmt.Sprintf("f%d", i)), strings.Repeat("x", i+1))
				}
				sock := filepath.Join(work, "gsync.sock")
				maddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
				args := []string{"--delay", "0", "--verify-every", "1s", "--control-socket", sock, "--metrics-addr", maddr}
				if only {
					args = append(args, "--verify-only")
				}
				g := startGsync(t, nil, append(append(args, src), targetArgs...)...)
				sshWaitEqual(t, src, dst, 60*time.Second)
				waitStatus(t, sock, 30*time.Second, "a first verify finding the target equal", func(s control.Status) bool {
					return len(s.Targets) == 1 && s.Targets[0].LastVerify != nil && s.Targets[0].DriftPaths == 0
				})

				// Behind gsync's back.
				testutil.WriteFile(t, filepath.Join(dst, "f1"), "edited on the target")
				testutil.WriteFile(t, filepath.Join(dst, "extra"), "only on the target")
				testutil.Must(t, os.Remove(filepath.Join(dst, "f2")))
				testutil.Must(t, os.Chmod(filepath.Join(dst, "f3"), 0o600))
				// A live change meanwhile.
				testutil.WriteFile(t, filepath.Join(src, "live"), "new at the source")
				// A compare may have run in the middle of the edits; with
				// --verify-only the next one sees all four (nothing is
				// repaired), with repairs the first that saw any counts.
				want := 1
				if only {
					want = 4
				}
				waitStatus(t, sock, 30*time.Second, "the drift", func(s control.Status) bool { return s.Targets[0].DriftPaths >= want })
				fams := scrape(t, maddr)
				if v, ok := metricValue(fams, "gsync_drift_paths_total", map[string]string{"sync": "Sync1"}); !ok || v < float64(want) {
					t.Errorf("gsync_drift_paths_total = %v (present %v), want >= %d", v, ok, want)
				}
				if v, ok := metricValue(fams, "gsync_verifies_total", map[string]string{"result": "drift"}); !ok || v < 1 {
					t.Errorf("gsync_verifies_total{result=drift} = %v (present %v)", v, ok)
				}
				code, out := runGsync(t, "status", "--socket", sock)
				if code != 0 || !strings.Contains(out, "path(s) drifted from the source") {
					t.Errorf("gsync status: exit %d\n%s", code, out)
				}
				if only {
					time.Sleep(3 * time.Second) // two more verifies: nothing may be repaired
					if b, err := os.ReadFile(filepath.Join(dst, "f1")); err != nil || string(b) != "edited on the target" {
						t.Errorf("--verify-only repaired f1: %q, %v", b, err)
					}
					if !testutil.Exists(filepath.Join(dst, "extra")) || !testutil.Exists(filepath.Join(dst, "live")) {
						t.Errorf("--verify-only: extra deleted or the live change missing")
					}
				} else {
					sshWaitEqual(t, src, dst, 60*time.Second)
					waitStatus(t, sock, 30*time.Second, "a verify finding the repaired target equal", func(s control.Status) bool {
						return s.Targets[0].DriftPaths == 0 && s.Targets[0].VerifyError == ""
					})
				}
				if !strings.Contains(g.out.String(), "target drifted from the source") {
					t.Errorf("no drift logged:\n%s", tail(g.out.String(), 30))
				}
				if code := g.stop(syscall.SIGTERM); code != 143 {
					t.Errorf("exit %d after SIGTERM, want 143", code)
				}
			})
		}
	}
}
