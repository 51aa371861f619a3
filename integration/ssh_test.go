package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/gsync/gsync/internal/treediff"
)

// sshCompareOptions are the comparisons that hold against rsync --server:
// file mtimes in ns, directory and symlink mtimes to the second (rsync
// leaves them alone when they already match to the second).
var sshCompareOptions = []treediff.Options{
	{SkipDirMtimes: true, SkipSymlinkMtimes: true, IgnoreRootMtime: true},
	{MtimeGranularity: time.Second, IgnoreRootMtime: true},
}

func sshWaitEqual(t *testing.T, src, dst string, timeout time.Duration) {
	t.Helper()
	for _, o := range sshCompareOptions {
		waitEqual(t, src, dst, timeout, o)
	}
}

// startSSHPeer starts sshd, or skips when it or rsync is missing.
func startSSHPeer(t *testing.T) *SSHD {
	t.Helper()
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed (the server runs rsync --server)")
	}
	return StartSSHD(t, SSHDConfig{})
}

// sshArgs are the gsync arguments that reach s without any ssh config.
func sshArgs(s *SSHD) []string { return sshArgsOpts(s, "-o ServerAliveInterval=5") }

// sshArgsOpts is sshArgs with other ssh options (-o ...) in the -e command.
func sshArgsOpts(s *SSHD, opts string) []string {
	return []string{"--ssh", "--ssh-config", "none", "--known-hosts", s.KnownHostsFile,
		"-e", fmt.Sprintf("ssh -p %d -i %s -l %s %s", s.Port, s.UserKeyPath, s.User, opts)}
}

func inodeOf(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestSSHLive is the acceptance scenario of the ssh target, run with PATH
// emptied (no ssh or rsync binary used locally): initial sync, live churn,
// a moved file and a moved directory of 2,000 files (renamed in place on
// the server), deletes and odd names.
func TestSSHLive(t *testing.T) {
	t.Parallel()
	s := startSSHPeer(t)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror", "sub")
	seedTree(t, src, 7, 300)
	for i, n := range oddNames {
		os.WriteFile(filepath.Join(src, n), []byte(n), 0o644)
		os.MkdirAll(filepath.Join(src, fmt.Sprintf("odd%d", i), n), 0o755)
	}
	args := append(sshArgs(s), "--delay", "0", "--log-level", "debug", src, "127.0.0.1:"+dst)
	g := startGsync(t, []string{"PATH="}, args...)
	sshWaitEqual(t, src, dst, 60*time.Second)

	c := newChurner(t, src, 77)
	defer c.dump()
	c.run(200) // TestChurnAllTargets churns ssh targets at length
	sshWaitEqual(t, src, dst, 60*time.Second)

	// A directory of 2,000 files and a big file, then moves of both.
	many := filepath.Join(src, "many")
	for i := range 2000 {
		p := filepath.Join(many, fmt.Sprintf("s%02d", i%10), fmt.Sprintf("f%04d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "big"), make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// The destination directory exists (and is watched) before the moves:
	// entries moved into a directory created a moment earlier are found
	// by its scan, as creations.
	os.Mkdir(filepath.Join(src, "to"), 0o755)
	sshWaitEqual(t, src, dst, 60*time.Second)
	// Renames overlapping a batch that ended less than the collator's move
	// guard ago (500 ms) are sent as delete + create on purpose; wait it out.
	time.Sleep(time.Second)
	manyIno, bigIno := inodeOf(t, filepath.Join(dst, "many")), inodeOf(t, filepath.Join(dst, "big"))
	fIno := inodeOf(t, filepath.Join(dst, "many", "s03", "f0003"))
	if err := os.Rename(many, filepath.Join(src, "to", "many moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(src, "big"), filepath.Join(src, "to", "big moved")); err != nil {
		t.Fatal(err)
	}
	sshWaitEqual(t, src, dst, 60*time.Second)
	if got := inodeOf(t, filepath.Join(dst, "to", "many moved")); got != manyIno {
		t.Errorf("moved directory has inode %d on the target, want %d (copied, not renamed)", got, manyIno)
	}
	if got := inodeOf(t, filepath.Join(dst, "to", "many moved", "s03", "f0003")); got != fIno {
		t.Errorf("file in the moved directory has inode %d, want %d", got, fIno)
	}
	if got := inodeOf(t, filepath.Join(dst, "to", "big moved")); got != bigIno {
		t.Errorf("moved file has inode %d on the target, want %d", got, bigIno)
	}

	if t.Failed() {
		for _, l := range strings.Split(g.out.String(), "\n") {
			if strings.Contains(l, "moved") && !strings.Contains(l, "/s0") {
				t.Log(l)
			}
		}
		t.FailNow()
	}

	// Deletes: a file, a whole tree, odd names.
	os.RemoveAll(filepath.Join(src, "to"))
	os.Remove(filepath.Join(src, oddNames[0]))
	os.RemoveAll(filepath.Join(src, "odd1"))
	sshWaitEqual(t, src, dst, 60*time.Second)
	if _, err := os.Lstat(filepath.Join(dst, "to")); err == nil {
		t.Errorf("deleted tree still on the target")
	}
	c.run(100)
	sshWaitEqual(t, src, dst, 60*time.Second)
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143", code)
	}
	if out := g.out.String(); !strings.Contains(out, "renam") {
		t.Logf("note: no rename in the log")
	}
}

// TestSSHConfigAlias: the target names a Host entry of an ssh config file
// that sets HostName, Port, User, IdentityFile and UserKnownHostsFile.
func TestSSHConfigAlias(t *testing.T) {
	t.Parallel()
	s := startSSHPeer(t)
	conf := filepath.Join(t.TempDir(), "ssh_config")
	body := fmt.Sprintf("Host mirrorhost\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		s.Port, s.User, s.UserKeyPath, s.KnownHostsFile)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	src, dst := t.TempDir(), t.TempDir()
	seedTree(t, src, 3, 100)
	code, out := runGsyncEnv(t, []string{"PATH=", "HOME=" + t.TempDir()}, "--once", "--ssh-config", conf, src, "mirrorhost:"+dst)
	if code != 0 {
		t.Fatalf("gsync --once exit %d:\n%s", code, out)
	}
	for _, o := range sshCompareOptions {
		if !treediff.Equal(t, src, dst, o) {
			t.FailNow()
		}
	}
}

// TestSSHHostKeys: an unknown host key is refused with a message telling
// how to trust it; accept-new adds it and later runs verify it; a changed
// key is refused even with accept-new.
func TestSSHHostKeys(t *testing.T) {
	t.Parallel()
	s := startSSHPeer(t)
	home := t.TempDir()
	src, dst := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	base := []string{"--once", "--ssh-config", "none", "-e", fmt.Sprintf("ssh -p %d -i %s", s.Port, s.UserKeyPath)}
	target := s.User + "@127.0.0.1:" + dst
	env := []string{"PATH=", "HOME=" + home}
	run := func(extra ...string) (int, string) {
		return runGsyncEnv(t, env, append(append(append([]string(nil), base...), extra...), src, target)...)
	}
	code, out := run()
	want := fmt.Sprintf("host key for [127.0.0.1]:%d is unknown", s.Port)
	if code == 0 || !strings.Contains(out, want) || !strings.Contains(out, "--host-key-check=accept-new") ||
		!strings.Contains(out, fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1", s.Port)) {
		t.Fatalf("unknown host key: exit %d, want non-zero with %q and how to trust it:\n%s", code, want, out)
	}
	kh := filepath.Join(home, ".ssh", "known_hosts")
	if _, err := os.Stat(kh); err == nil {
		t.Fatalf("strict mode wrote %s", kh)
	}

	if code, out := run("--host-key-check=accept-new"); code != 0 {
		t.Fatalf("accept-new: exit %d:\n%s", code, out)
	}
	fi, err := os.Stat(kh)
	if err != nil {
		t.Fatalf("accept-new did not write known_hosts: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v, want 0600", fi.Mode().Perm())
	}
	if code, out := run(); code != 0 {
		t.Fatalf("strict run after accept-new: exit %d:\n%s", code, out)
	}

	// A different key for the same host.
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other))))
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out = run("--host-key-check=accept-new")
	if code == 0 || !strings.Contains(out, "HAS CHANGED") {
		t.Fatalf("changed host key: exit %d, want a refusal:\n%s", code, out)
	}
}
