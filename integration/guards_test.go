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
	"github.com/gsync/gsync/internal/treediff"
)

// TestGuardTargetContainsSource: a local target that contains the source
// is refused with exit 2 before anything is touched (before: gsync --once
// backup/www backup deleted the source and exited 0), also through a bind
// mount of the source's parent.
func TestGuardTargetContainsSource(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src := filepath.Join(base, "backup", "www")
	seedTree(t, src, 3, 20)
	code, out := runGsyncIn(t, base, nil, "--once", "--control-socket", "none", "backup/www", "backup")
	if code != 2 || !strings.Contains(out, "contains the source") {
		t.Errorf("target containing the source: exit %d, want 2 with a reason:\n%s", code, out)
	}
	if countEntries(t, src) == 0 {
		t.Fatal("the source was emptied")
	}

	bind := filepath.Join(base, "bind")
	if err := os.Mkdir(bind, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(filepath.Join(base, "backup"), bind, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount (needs root or CAP_SYS_ADMIN): %v", err)
	}
	defer syscall.Unmount(bind, syscall.MNT_DETACH)
	for target, want := range map[string]string{bind: "contains the source", filepath.Join(bind, "www"): "is the source", filepath.Join(bind, "www", "sub"): "inside the source"} {
		code, out := runGsync(t, "--once", "--control-socket", "none", src, target)
		if code != 2 || !strings.Contains(out, want) {
			t.Errorf("target %s (bind mount): exit %d, want 2 and %q:\n%s", target, code, want, out)
		}
	}
	if countEntries(t, src) == 0 {
		t.Fatal("the source was emptied")
	}
}

// TestGuardOneTargetFails: a daemon module that refuses every transfer
// (read only: a fatal error) stops its own target, shown as failed in
// gsync status; the local target keeps mirroring. With only the failing
// target, gsync exits 1. Before, the fatal error stopped gsync and every
// target with it.
func TestGuardOneTargetFails(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "ro", Path: filepath.Join(t.TempDir(), "ro"), ReadOnly: true}}})
	src, local := t.TempDir(), filepath.Join(t.TempDir(), "local")
	seedTree(t, src, 4, 30)
	sock := filepath.Join(t.TempDir(), "ctl", "gsync.sock")
	g := startGsync(t, nil, "--delay", "0", "--insist", "--timeout", "10", "--control-socket", sock, src, d.URL("ro"), "--target", local)
	waitEqual(t, src, local, 30*time.Second, treediff.Options{})
	waitStatus(t, sock, 30*time.Second, "the daemon target failed", func(s control.Status) bool {
		return len(s.Targets) == 2 && s.Targets[0].State == "failed" && s.Targets[0].LastError != ""
	})
	c := newChurner(t, src, 11)
	defer c.dump()
	c.run(40)
	waitEqual(t, src, local, 30*time.Second, treediff.Options{})
	if st := queryStatus(t, sock); st.Targets[1].State == "failed" {
		t.Errorf("local target: %+v", st.Targets[1])
	}
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit %d after SIGTERM, want 143", code)
	}

	// No target left: exit 1.
	g = startGsync(t, nil, "--delay", "0", "--insist", "--timeout", "10", "--control-socket", "none", src, d.URL("ro"))
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		t.Fatal("gsync kept running with its only target failed")
	}
	if code := g.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d with every target failed, want 1", code)
	}
}

// TestGuardRmRfEmptiesMirror: rm -rf src/* at runtime empties the mirror
// on a daemon target too (lsyncd's own test suite expects it); before,
// the empty-source guard held the deletions back.
func TestGuardRmRfEmptiesMirror(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	dir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir}}})
	src := t.TempDir()
	seedTree(t, src, 5, 40)
	g := startGsync(t, nil, "--delay", "0.2", "--control-socket", "none", src, d.URL("m"))
	opts := rsyncPeerOptions(32)
	waitEqualAll(t, src, dir, 30*time.Second, opts)
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(src, e.Name()))
	}
	waitEqualAll(t, src, dir, 30*time.Second, opts)
	g.stop(syscall.SIGTERM)
}

// TestGuardMaxDeleteCountsSubtree: rm -rf of a directory of 50 files is
// 51 deletions, more than --max-delete 10: every target keeps them (a
// local directory, an rsync daemon, ssh), the rest of the batch lands;
// under the limit deletions go through. Before, it counted as 1 and went
// through everywhere.
func TestGuardMaxDeleteCountsSubtree(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"local", "daemon", "ssh"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			src := t.TempDir()
			dst, target, args := maxDeletePeer(t, kind)
			big := filepath.Join(src, "big")
			os.Mkdir(big, 0o755)
			for i := range 50 {
				os.WriteFile(filepath.Join(big, "f"+itoa(i)), []byte("x"), 0o644)
			}
			os.WriteFile(filepath.Join(src, "small"), []byte("x"), 0o644)
			args = append(args, "--delay", "0.2", "--max-delete", "10", "--control-socket", "none", src, target)
			g := startGsync(t, nil, args...)
			for i := range 50 { // all of big/ is on the target before the rm -rf
				waitFile(t, filepath.Join(dst, "big", "f"+itoa(i)), 30*time.Second)
			}
			waitFile(t, filepath.Join(dst, "small"), 30*time.Second)
			from := len(g.out.String())
			os.RemoveAll(big)
			os.WriteFile(filepath.Join(src, "after"), []byte("x"), 0o644)
			waitOutput(t, g, from, 20*time.Second, "more than --max-delete 10")
			waitFile(t, filepath.Join(dst, "after"), 20*time.Second)
			if n := countEntries(t, filepath.Join(dst, "big")); n != 50 {
				t.Errorf("target big/ has %d entries after the refused rm -rf, want 50", n)
			}
			os.Remove(filepath.Join(src, "small"))
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if _, err := os.Lstat(filepath.Join(dst, "small")); os.IsNotExist(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("a deletion under the limit did not land")
				}
			}
			g.stop(syscall.SIGTERM)
		})
	}
}

// maxDeletePeer returns a fresh target of kind: its directory, the
// TARGET argument and the flags it needs.
func maxDeletePeer(t *testing.T, kind string) (dir, target string, args []string) {
	t.Helper()
	switch kind {
	case "daemon":
		lookBinary(t, "rsync")
		dir = filepath.Join(t.TempDir(), "module")
		d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir}}})
		return dir, d.URL("m"), nil
	case "ssh":
		s := startSSHPeer(t)
		dir = filepath.Join(t.TempDir(), "mirror")
		return dir, "127.0.0.1:" + dir, []string{"--ssh", "--ssh-config", "none", "--known-hosts", s.KnownHostsFile,
			"-e", fmt.Sprintf("ssh -p %d -i %s -l %s", s.Port, s.UserKeyPath, s.User)}
	}
	dir = t.TempDir()
	return dir, dir, nil
}

// TestGuardVanishedMount: a file system mounted below the source that is
// unmounted must not empty its subtree on the target, neither through
// the watcher's events nor through the full sync of SIGHUP; both are
// logged with the mount point. --one-file-system leaves nested mounts
// out altogether.
func TestGuardVanishedMount(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	mnt := filepath.Join(src, "data")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=4m"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): %v", err)
	}
	mounted := true
	defer func() {
		if mounted {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	}()
	seedTree(t, mnt, 6, 30)
	os.WriteFile(filepath.Join(src, "top"), []byte("x"), 0o644)
	g := startGsync(t, nil, "--delay", "0.2", "--control-socket", "none", src, dst)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	before := countEntries(t, filepath.Join(dst, "data"))
	if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	mounted = false
	from := len(g.out.String())
	g.cmd.Process.Signal(syscall.SIGHUP)
	waitOutput(t, g, from, 20*time.Second, "is gone")
	// A change after the unmount still goes through.
	os.WriteFile(filepath.Join(src, "after"), []byte("x"), 0o644)
	waitFile(t, filepath.Join(dst, "after"), 20*time.Second)
	if n := countEntries(t, filepath.Join(dst, "data")); n != before {
		t.Errorf("target data/ has %d entries after the unmount, want %d", n, before)
	}
	g.stop(syscall.SIGTERM)

	// -x: the mount point is mirrored, its contents are not.
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=4m"); err != nil {
		t.Fatal(err)
	}
	mounted = true
	os.WriteFile(filepath.Join(mnt, "inside"), []byte("x"), 0o644)
	dst2 := t.TempDir()
	code, out := runGsync(t, "--once", "-x", "--control-socket", "none", src, dst2)
	if code != 0 {
		t.Fatalf("--once -x: exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dst2, "data")); err != nil {
		t.Errorf("-x: mount point not mirrored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst2, "data", "inside")); err == nil {
		t.Error("-x: a nested file system was mirrored")
	}
}

// waitFile waits until p exists.
func waitFile(t *testing.T, p string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", p, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
