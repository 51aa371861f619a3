package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// TestAttribChangeKeepsTargetFile: a chmod at the source reaches the
// target as lsyncd's rsync brings it, by the quick check: the target
// file keeps its inode (its data is neither re-sent nor rewritten, and
// what only the target file holds stays), where a batch's -I made the
// receiver write a new file. A rewrite that kept size and mtime, in the
// same batch, still arrives (-I for it). Local, rsync daemon and ssh
// targets.
func TestAttribChangeKeepsTargetFile(t *testing.T) {
	kinds := []struct {
		name  string
		start func(t *testing.T, names []string) map[string]fidelityTarget
	}{
		{"local", startFidelityLocal},
		{"rsyncd-3.5", func(t *testing.T, names []string) map[string]fidelityTarget {
			return startRootDaemon(t, "rsync", names)
		}},
		{"ssh", startFidelitySSH},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			g := k.start(t, []string{"attrib"})["attrib"]
			src := filepath.Join(t.TempDir(), "src")
			past := time.Unix(1700000000, 0)
			big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10)
			testutil.WriteFile(t, filepath.Join(src, "big"), string(big))
			testutil.WriteFile(t, filepath.Join(src, "same"), "before")
			for _, p := range []string{"big", "same", "."} {
				testutil.Must(t, os.Chtimes(filepath.Join(src, p), past, past))
			}
			args := append(append([]string{}, g.gsyncArgs...), "--delay", "1", src, g.gsyncTarget)
			p := startGsync(t, nil, args...)
			waitEqual(t, src, g.dir, 20*time.Second, fidelityOptions(false))
			ino := inodeOf(t, filepath.Join(g.dir, "big"))

			// One batch: a chmod, and a rewrite that keeps size and mtime.
			testutil.Must(t, os.Chmod(filepath.Join(src, "big"), 0o600))
			testutil.Must(t, os.WriteFile(filepath.Join(src, "same"), []byte("after!"), 0o644))
			testutil.Must(t, os.Chtimes(filepath.Join(src, "same"), past, past))
			waitEqual(t, src, g.dir, 20*time.Second, fidelityOptions(false))
			if now := inodeOf(t, filepath.Join(g.dir, "big")); now != ino {
				t.Errorf("the chmod of big replaced the target file (inode %d, was %d): its data was sent again", now, ino)
			}
			if code := p.stop(syscall.SIGTERM); code != 143 {
				t.Errorf("gsync exit code %d after SIGTERM, want 143", code)
			}
		})
	}
}
