package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// secretVolume lays out a private key the way the kubelet mounts a
// Secret (pkg/volume/util/atomic_writer.go): KEY is a symlink to
// ..data/KEY, ..data a symlink to a timestamped directory holding the
// file with the Secret's defaultMode, owned by root; the volume is
// read-only (Kubernetes >= 1.10 mounts secret volumes read-only). It
// returns the path of the key.
func secretVolume(t *testing.T, key string, mode os.FileMode) string {
	t.Helper()
	dir := mountTmpfs(t, 1<<20)
	ts := "..2026_12_03_06_00_00.123456789"
	testutil.MustMkdir(t, filepath.Join(dir, ts))
	b, err := os.ReadFile(key)
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(filepath.Join(dir, ts, "ssh-privatekey"), b, mode))
	testutil.Must(t, os.Chmod(filepath.Join(dir, ts, "ssh-privatekey"), mode))
	testutil.Must(t, os.Symlink(ts, filepath.Join(dir, "..data")))
	testutil.Must(t, os.Symlink("..data/ssh-privatekey", filepath.Join(dir, "ssh-privatekey")))
	remountTmpfs(t, dir, 1<<20, true)
	return filepath.Join(dir, "ssh-privatekey")
}

// TestSSHKeyFromSecretVolume: gsync running as root accepts a root-owned
// key with mode 0440 or 0644 from a read-only Secret volume (its mode
// cannot be fixed there), and still refuses the same modes on a writable
// file system, like OpenSSH.
func TestSSHKeyFromSecretVolume(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root: the kubelet's secret files are root's, and gsync runs as root in the sidecar")
	}
	s := startSSHPeer(t)
	for _, mode := range []os.FileMode{0o440, 0o644} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			key := secretVolume(t, s.UserKeyPath, mode)
			src, dst := t.TempDir(), filepath.Join(t.TempDir(), "dst")
			testutil.WriteFile(t, filepath.Join(src, "f"), "x")
			args := []string{"--once", "--ssh", "--ssh-config", "none", "--known-hosts", s.KnownHostsFile,
				"-e", fmt.Sprintf("ssh -p %d -i %s -l %s", s.Port, key, s.User), src, "127.0.0.1:" + dst}
			code, out := runGsyncEnv(t, []string{"HOME=" + t.TempDir(), "SSH_AUTH_SOCK="}, args...)
			if code != 0 {
				t.Fatalf("key mode %04o on a read-only secret volume: exit %d\n%s", mode, code, out)
			}
			sshWaitEqual(t, src, dst, 10*time.Second)

			// The same key and mode on a writable file system: refused.
			loose := filepath.Join(t.TempDir(), "id")
			b, err := os.ReadFile(s.UserKeyPath)
			testutil.Must(t, err)
			testutil.Must(t, os.WriteFile(loose, b, mode))
			testutil.Must(t, os.Chmod(loose, mode))
			args[7] = fmt.Sprintf("ssh -p %d -i %s -l %s", s.Port, loose, s.User)
			code, out = runGsyncEnv(t, []string{"HOME=" + t.TempDir(), "SSH_AUTH_SOCK="}, args...)
			if code == 0 || !strings.Contains(out, "chmod 600") {
				t.Errorf("key mode %04o on a writable file system: exit %d, want a refusal naming chmod 600\n%s", mode, code, out)
			}
		})
	}
}
