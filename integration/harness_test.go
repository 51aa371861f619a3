package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/treediff"
)

// harnessTree writes a small tree with the kinds of entries the peers must
// carry: nested dirs, an empty file, odd names, symlinks.
func harnessTree(t *testing.T, root string) {
	t.Helper()
	files := map[string]string{
		"a.txt":             "alpha\n",
		"empty":             "",
		"d/e/f":             strings.Repeat("x", 100000),
		"with space":        "s",
		"new\nline":         "n",
		`back\slash`:        "b",
		"d/\xff-invalid":    "i",
		"d/e/.hidden-ish-]": "h",
	}
	mt := time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"rel-link": "d/e/f", "abs-link": "/etc/hostname", "dangling": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Directory and symlink mtimes in another second than "now": rsync
	// leaves them alone when they match the target's to the second.
	for _, rel := range []string{"rel-link", "abs-link", "dangling", "d/e", "d", "."} {
		ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano() + 123456789), unix.NsecToTimespec(mt.UnixNano() + 123456789)}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, rel), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// runRsync runs the rsync client with a bounded time and fails on error.
func runRsync(t *testing.T, args ...string) string {
	t.Helper()
	bin := lookBinary(t, "rsync")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("rsync %q: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func TestHarnessRsyncDaemon(t *testing.T) {
	t.Parallel()
	src, mod := t.TempDir(), t.TempDir()
	harnessTree(t, src)
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "mod", Path: mod}}})
	runRsync(t, "-a", src+"/", d.URL("mod"))
	opt := treediff.Options{}
	if os.Geteuid() != 0 {
		// Without chroot the daemon rewrites absolute symlink targets.
		opt.Exclude = func(rel string, _ bool) bool { return rel == "abs-link" }
	}
	treediff.Equal(t, src, mod, opt)

	// Kill makes the port refuse connections; Restart serves again.
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	bin := lookBinary(t, "rsync")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "-a", src+"/", d.URL("mod")).CombinedOutput(); err == nil {
		t.Fatalf("rsync to a killed daemon succeeded:\n%s", out)
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "after-restart"), []byte("r"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2021, 1, 1, 0, 0, 0, 5, time.UTC)
	if err := os.Chtimes(src, old, old); err != nil {
		t.Fatal(err)
	}
	runRsync(t, "-a", src+"/", d.URL("mod"))
	treediff.Equal(t, src, mod, opt)
}

func TestHarnessRsyncDaemonAuth(t *testing.T) {
	t.Parallel()
	src, mod := t.TempDir(), t.TempDir()
	harnessTree(t, src)
	d := StartRsyncDaemon(t, Config{Modules: []Module{{
		Name: "secure", Path: mod, AuthUsers: []string{"alice"}, Secrets: map[string]string{"alice": "s3cret"},
	}}})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(d.URL("secure"), "rsync://", "rsync://alice@", 1)
	runRsync(t, "-a", "--password-file="+pw, src+"/", url)
	treediff.Equal(t, src, mod, treediff.Options{Exclude: func(rel string, _ bool) bool {
		return os.Geteuid() != 0 && rel == "abs-link"
	}})
	if err := os.WriteFile(pw, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := lookBinary(t, "rsync")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-a", "--password-file="+pw, src+"/", url).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "auth failed") {
		t.Fatalf("wrong password accepted or unclear error: %v\n%s", err, out)
	}
}

func TestHarnessSSHD(t *testing.T) {
	t.Parallel()
	s := StartSSHD(t, SSHDConfig{})
	client, err := ssh.Dial("tcp", s.Addr, s.ClientConfig())
	if err != nil {
		t.Fatalf("dial %s: %v", s, err)
	}
	defer client.Close()
	stop := time.AfterFunc(30*time.Second, func() { client.Close() })
	defer stop.Stop()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput("rsync --version")
	if err != nil {
		t.Fatalf("rsync --version over ssh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "rsync  version") || !strings.Contains(string(out), "protocol version") {
		t.Fatalf("unexpected rsync --version output:\n%s", out)
	}
	// The key files are usable by the OpenSSH client too.
	if _, err := os.Stat(s.UserKeyPath); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.KnownHostsLine, "[127.0.0.1]:"+itoa(s.Port)+" ssh-ed25519 ") {
		t.Errorf("known_hosts line %q", s.KnownHostsLine)
	}
}

func TestHarnessSSHDWithOpenSSHClient(t *testing.T) {
	t.Parallel()
	s := StartSSHD(t, SSHDConfig{})
	sshBin := lookBinary(t, "ssh")
	src, dst := t.TempDir(), t.TempDir()
	harnessTree(t, src)
	rsh := strings.Join([]string{sshBin, "-p", itoa(s.Port), "-i", s.UserKeyPath,
		"-o", "UserKnownHostsFile=" + s.KnownHostsFile, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-F", "/dev/null"}, " ")
	runRsync(t, "-a", "-e", rsh, src+"/", s.User+"@127.0.0.1:"+dst+"/")
	treediff.Equal(t, src, dst, treediff.Options{})
}

func TestHarnessGokrazyDaemon(t *testing.T) {
	t.Parallel()
	src, mod := t.TempDir(), t.TempDir()
	harnessTree(t, src)
	addr := StartGokrazyDaemon(t, mod)
	runRsync(t, "-rlpt", src+"/", "rsync://"+addr+"/"+GokrazyModule+"/")
	// Protocol 27 carries whole seconds only; gokrazy's receiver restores
	// neither directory nor symlink mtimes.
	treediff.Equal(t, src, mod, treediff.Options{
		MtimeGranularity: time.Second, SkipDirMtimes: true, SkipSymlinkMtimes: true, IgnoreRootMode: true,
	})
}
