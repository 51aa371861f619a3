package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/treediff"
	"github.com/gsync/gsync/sshx"
	"github.com/gsync/gsync/transport"
)

// snapshot lists every entry below dir with its type, mode and content (or
// link target), so that a test can prove a directory was left alone.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			lines = append(lines, fmt.Sprintf("%s: %v", p, err))
			return nil
		}
		fi, _ := os.Lstat(p)
		rel, _ := filepath.Rel(dir, p)
		l := fmt.Sprintf("%q %v", rel, fi.Mode())
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			l += fmt.Sprintf(" %q", b)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			l += " -> " + target
		}
		lines = append(lines, l)
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// outsideDir makes a directory outside every tree of the test, holding
// files named like those the scenario changes in the source, so that a
// write, rename or delete through a symlink would show.
func outsideDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "outside")
	os.Mkdir(dir, 0o755)
	for _, n := range []string{"a", "b", "x", "new"} {
		os.WriteFile(filepath.Join(dir, n), []byte("outside "+n), 0o644)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	return dir
}

// TestSecuritySymlinkedTargetDir replaces a directory of the target by a
// symlink to a directory outside it (behind gsync's back), then changes
// files below that directory at the source: creates, modifies, renames,
// deletes, mkdir. No target may write, rename or delete through the link;
// the outside directory stays byte for byte the same, and a full sync
// (SIGHUP) repairs the target.
func TestSecuritySymlinkedTargetDir(t *testing.T) {
	t.Parallel()
	for _, fp := range faultPeers {
		t.Run(fp.name, func(t *testing.T) {
			t.Parallel()
			p := fp.start(t, t.TempDir())
			out := outsideDir(t)
			before := snapshot(t, out)
			src := t.TempDir()
			os.Mkdir(filepath.Join(src, "d"), 0o755)
			for _, n := range []string{"a", "b", "x"} {
				os.WriteFile(filepath.Join(src, "d", n), []byte("src "+n), 0o644)
			}
			g := startGsync(t, p.env, append(append([]string(nil), p.args...), "--delay", "0", src, p.target)...)
			waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)

			// Absolute link for the local and ssh targets; the daemon runs
			// chrooted into its module, so a link that climbs out of the
			// module by ".." is the dangerous one there.
			link := out
			if strings.HasPrefix(fp.name, "rsync") {
				link, _ = filepath.Rel(p.dir, out)
			}
			if err := os.RemoveAll(filepath.Join(p.dir, "d")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(link, filepath.Join(p.dir, "d")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(600 * time.Millisecond) // past the collator's move guard: the rename below is a rename
			os.WriteFile(filepath.Join(src, "d", "new"), []byte("src new"), 0o644)
			os.WriteFile(filepath.Join(src, "d", "a"), []byte("src a changed"), 0o644)
			os.Rename(filepath.Join(src, "d", "b"), filepath.Join(src, "d", "b2"))
			os.Remove(filepath.Join(src, "d", "x"))
			os.MkdirAll(filepath.Join(src, "d", "sub", "deeper"), 0o755)
			os.WriteFile(filepath.Join(src, "d", "sub", "deeper", "f"), []byte("f"), 0o644)
			// Wait until the new file has arrived, in the target's own d/.
			waitForContent(t, filepath.Join(p.dir, "d", "new"), "src new", 30*time.Second)
			if fi, err := os.Lstat(filepath.Join(p.dir, "d")); err != nil || !fi.IsDir() {
				t.Errorf("target d is not a real directory after the push: %v %v", fi, err)
			}
			g.cmd.Process.Signal(syscall.SIGHUP)
			waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)
			if after := snapshot(t, out); after != before {
				t.Errorf("the directory outside the target changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			g.stop(syscall.SIGTERM)
		})
	}
}

// TestSecuritySourceSymlinksNotFollowed: symlinks in the source that point
// out of the tree (absolute, relative with "..", to a directory and to a
// file) are copied as symlinks with their targets verbatim; nothing of what
// they point to is read or copied, also not after changes below the linked
// directory or a full sync.
func TestSecuritySourceSymlinksNotFollowed(t *testing.T) {
	t.Parallel()
	peers := append([]struct {
		name  string
		start func(t *testing.T) mirrorPeer
	}(nil), mirrorPeers...)
	for _, mp := range peers {
		t.Run(mp.name, func(t *testing.T) {
			t.Parallel()
			p := mp.start(t)
			out := outsideDir(t)
			os.WriteFile(filepath.Join(out, "secret"), []byte("do not copy"), 0o600)
			src := filepath.Join(t.TempDir(), "src")
			os.Mkdir(src, 0o755)
			os.WriteFile(filepath.Join(src, "plain"), []byte("p"), 0o644)
			rel, _ := filepath.Rel(src, out)
			links := map[string]string{
				"abs-dir": out, "rel-dir": rel, "abs-file": filepath.Join(out, "secret"),
				"rel-file": filepath.Join(rel, "secret"), "root": "/",
			}
			for n, target := range links {
				if err := os.Symlink(target, filepath.Join(src, n)); err != nil {
					t.Fatal(err)
				}
			}
			g := startGsync(t, p.env, append(append([]string(nil), p.args...), "--delay", "0", src, p.target)...)
			waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)
			// Changes in the linked directory are not in the tree.
			os.WriteFile(filepath.Join(out, "secret2"), []byte("do not copy either"), 0o600)
			os.WriteFile(filepath.Join(src, "marker"), []byte("m"), 0o644)
			waitEqualAll(t, src, p.dir, 30*time.Second, p.opts)
			g.cmd.Process.Signal(syscall.SIGHUP)
			waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)
			for n, target := range links {
				got, err := os.Readlink(filepath.Join(p.dir, n))
				if err != nil || got != target {
					t.Errorf("%s on the target: %q, %v; want a symlink to %q", n, got, err, target)
				}
			}
			filepath.WalkDir(p.dir, func(q string, d fs.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), "secret") {
					t.Errorf("linked content was copied: %s", q)
				}
				return nil
			})
			g.stop(syscall.SIGTERM)
		})
	}
}

// TestSecurityHostilePaths hands every target type paths that climb out of
// the tree ("..", "a/../../x", absolute) directly through the transport
// API, as plain changes and as renames: each is refused, and nothing
// outside the source is read and nothing outside the target is written.
func TestSecurityHostilePaths(t *testing.T) {
	t.Parallel()
	type mk func(t *testing.T, src string) (transport.Target, string)
	local := func(t *testing.T, src string) (transport.Target, string) {
		dir := filepath.Join(t.TempDir(), "a", "b", "mirror")
		tg, err := transport.NewLocal(dir, transport.Options{Source: src})
		if err != nil {
			t.Fatal(err)
		}
		return tg, dir
	}
	daemon := func(t *testing.T, src string) (transport.Target, string) {
		dir := filepath.Join(t.TempDir(), "a", "b", "module")
		d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir, NoChroot: true}}})
		dc, _, err := transport.ParseDaemonTarget(d.URL("m"))
		if err != nil {
			t.Fatal(err)
		}
		tg, err := transport.NewDaemon(dc, transport.Options{Source: src})
		if err != nil {
			t.Fatal(err)
		}
		return tg, dir
	}
	ssh := func(t *testing.T, src string) (transport.Target, string) {
		s := startSSHPeer(t)
		dir := filepath.Join(t.TempDir(), "a", "b", "mirror")
		tg, err := transport.NewSSH(transport.SSHConfig{SSH: sshx.Config{Host: "127.0.0.1", Port: s.Port, User: s.User,
			IdentityFiles: []string{s.UserKeyPath}, KnownHostsFiles: []string{s.KnownHostsFile},
			ConfigFile: "none", NoAgent: true, Home: t.TempDir()}, Dir: dir}, transport.Options{Source: src})
		if err != nil {
			t.Fatal(err)
		}
		return tg, dir
	}
	for _, tc := range []struct {
		name string
		new  mk
	}{{"local", local}, {"rsync-3.5", daemon}, {"ssh", ssh}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			src := filepath.Join(base, "src")
			os.MkdirAll(filepath.Join(src, "a"), 0o755)
			os.WriteFile(filepath.Join(src, "a", "f"), []byte("f"), 0o644)
			// Files next to the source that a "../" path would reach.
			os.WriteFile(filepath.Join(base, "sibling"), []byte("outside the source"), 0o644)
			tg, dir := tc.new(t, src)
			defer tg.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if _, err := tg.FullSync(ctx); err != nil {
				t.Fatal(err)
			}
			outer := filepath.Dir(dir) // the target's parent and grandparent
			before := snapshot(t, filepath.Dir(outer))
			hostile := []string{"../sibling", "a/../../sibling", "../../x", "/etc/passwd", "..", "a/../../../escape"}
			refused := 0
			for _, h := range hostile {
				for _, ch := range []transport.Change{
					{Op: change.Modify, Path: h},
					{Op: change.Modify, Path: h, Recursive: true, IsDir: true},
					{Op: change.Delete, Path: h},
					{Op: change.Move, From: "a/f", Path: h},
					{Op: change.Move, From: h, Path: "a/g"},
				} {
					st, err := tg.Push(ctx, []transport.Change{ch})
					if err != nil || len(st.Failed) > 0 {
						refused++
					}
				}
			}
			after := snapshot(t, filepath.Dir(outer))
			// Only the target tree itself may have changed (the renames of
			// a/f are refused or fall back to plain transfers inside it).
			strip := func(s string) string {
				var keep []string
				prefix := fmt.Sprintf("%q", strings.TrimPrefix(dir, filepath.Dir(outer)+"/"))
				prefix = prefix[:len(prefix)-1]
				for _, l := range strings.Split(s, "\n") {
					if !strings.HasPrefix(l, prefix) {
						keep = append(keep, l)
					}
				}
				return strings.Join(keep, "\n")
			}
			if strip(after) != strip(before) {
				t.Errorf("something outside the target changed:\nbefore:\n%s\nafter:\n%s", strip(before), strip(after))
			}
			if _, err := os.Lstat(filepath.Join(dir, "sibling")); err == nil {
				t.Errorf("a file from outside the source was copied into the target")
			}
			if refused == 0 {
				t.Errorf("no hostile path was refused")
			}
			t.Logf("%d of %d hostile changes refused with an error", refused, len(hostile)*5)
		})
	}
}

// TestSecurityNoShell: the remote directory and the file names reach the
// ssh server verbatim; names with $(...), backticks, ';', '&', '|',
// quotes and newlines run nothing.
func TestSecurityNoShell(t *testing.T) {
	t.Parallel()
	s := startSSHPeer(t)
	var tag [6]byte
	rand.Read(tag[:])
	canary := "/tmp/gsync-pwned-" + hex.EncodeToString(tag[:])
	t.Cleanup(func() { os.Remove(canary) })
	hostile := []string{
		"$(touch " + canary + ")", "`touch " + canary + "`", "x;touch " + canary, "y&&touch " + canary,
		"z|touch " + canary, "q'\"\\ $HOME ~ *", "nl\ntouch " + canary, "-e touch " + canary,
	}
	for i, h := range hostile {
		hostile[i] = strings.ReplaceAll(h, "/", "_") // a file name holds no slash
	}
	src := t.TempDir()
	for _, h := range hostile {
		os.WriteFile(filepath.Join(src, h), []byte(h), 0o644)
		os.MkdirAll(filepath.Join(src, "dir "+h, h), 0o755)
	}
	dst := filepath.Join(t.TempDir(), "$(touch "+strings.ReplaceAll(canary, "/", "_")+");'\"` x")
	args := append(sshArgs(s), "--delay", "0", src, "127.0.0.1:"+dst)
	g := startGsync(t, []string{"PATH="}, args...)
	sshWaitEqual(t, src, dst, 60*time.Second)
	// Live changes, renames and deletes of the hostile names too.
	for _, h := range hostile {
		os.WriteFile(filepath.Join(src, h), []byte(h+" changed"), 0o644)
	}
	time.Sleep(600 * time.Millisecond) // past the collator's move guard: renames go over SFTP
	os.Rename(filepath.Join(src, hostile[0]), filepath.Join(src, hostile[1]+" moved"))
	os.RemoveAll(filepath.Join(src, "dir "+hostile[2]))
	sshWaitEqual(t, src, dst, 60*time.Second)
	g.stop(syscall.SIGTERM)
	if _, err := os.Lstat(canary); err == nil {
		t.Fatalf("a name was run as a shell command: %s exists", canary)
	}
	matches, _ := filepath.Glob("/root/*pwned*")
	if home, err := os.UserHomeDir(); err == nil {
		m, _ := filepath.Glob(filepath.Join(home, "*pwned*"))
		matches = append(matches, m...)
	}
	if len(matches) > 0 {
		t.Fatalf("a name was run as a shell command: %v", matches)
	}
}

// TestSecurityFileModes: the status file is replaced atomically with mode
// 0644 whatever the umask (never group or world writable), a symlink
// planted at its path is replaced, not written through, and the control
// socket is owner-only (0600) even with umask 0. It runs alone (no
// t.Parallel): the umask is the whole test process's, and the parallel
// tests only start once the serial ones are done.
func TestSecurityFileModes(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	dir := t.TempDir()
	status := filepath.Join(dir, "status")
	sock := filepath.Join(dir, "ctl", "gsync.sock")
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep me"), 0o666)
	os.Chmod(victim, 0o666)
	os.Symlink(victim, status)
	old := syscall.Umask(0)
	g := startGsync(t, nil, "--delay", "0", "--status-file", status, "--status-interval", "0", "--control-socket", sock, src, dst)
	syscall.Umask(old)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	os.WriteFile(filepath.Join(src, "g"), []byte("y"), 0o644)
	deadline := time.Now().Add(30 * time.Second)
	for {
		fi, err := os.Lstat(status)
		if err == nil && fi.Mode().IsRegular() {
			if fi.Mode().Perm()&0o022 != 0 {
				t.Errorf("status file mode %v: writable by group or others", fi.Mode())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status file not written (or still a symlink) within 30 s: %v %v", fi, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fi, err := os.Lstat(sock); err != nil {
		t.Errorf("control socket: %v", err)
	} else if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("control socket %s has mode %v, want an owner-only socket", sock, fi.Mode())
	}
	if fi, err := os.Stat(filepath.Dir(sock)); err == nil && fi.Mode().Perm()&0o022 != 0 {
		t.Errorf("control socket directory mode %v: writable by group or others", fi.Mode())
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep me" {
		t.Errorf("status file written through a planted symlink: victim holds %q", b)
	}
	g.stop(syscall.SIGTERM)
}

// TestSecuritySecretPermissions: a password file or private key that group
// or others may read is refused with a message naming the file and the
// fix, like rsync (authenticate.c:getpassf) and OpenSSH
// (authfile.c:sshkey_perm_ok) do.
func TestSecuritySecretPermissions(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	t.Run("password file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "module")
		d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "secure", Path: dir,
			AuthUsers: []string{"alice"}, Secrets: map[string]string{"alice": "s3cret"}}}})
		url := strings.Replace(d.URL("secure"), "rsync://", "rsync://alice@", 1)
		pw := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pw, []byte("s3cret\n"), 0o600)
		for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
			os.Chmod(pw, mode)
			code, out := runGsync(t, "--once", "--password-file", pw, src, url)
			if code != 2 || !strings.Contains(out, pw) || !strings.Contains(out, "chmod 600") {
				t.Errorf("password file mode %04o: exit %d, want 2 naming the file and chmod 600: %s", mode, code, out)
			}
		}
		os.Chmod(pw, 0o400)
		if code, out := runGsync(t, "--once", "--password-file", pw, src, url); code != 0 {
			t.Errorf("password file mode 0400: exit %d: %s", code, out)
		}
	})
	t.Run("ssh key", func(t *testing.T) {
		s := startSSHPeer(t)
		dst := t.TempDir()
		key := filepath.Join(t.TempDir(), "id")
		b, _ := os.ReadFile(s.UserKeyPath)
		os.WriteFile(key, b, 0o600)
		run := func() (int, string) {
			return runGsyncEnv(t, []string{"PATH=", "HOME=" + t.TempDir(), "SSH_AUTH_SOCK="}, "--once", "--ssh", "--ssh-config", "none",
				"--known-hosts", s.KnownHostsFile, "-e", fmt.Sprintf("ssh -p %d -i %s", s.Port, key), src, "127.0.0.1:"+dst)
		}
		for _, mode := range []os.FileMode{0o640, 0o644, 0o604} {
			os.Chmod(key, mode)
			code, out := run()
			if code == 0 || !strings.Contains(out, key) || !strings.Contains(out, "chmod 600") {
				t.Errorf("key mode %04o: exit %d, want a refusal naming the key and chmod 600: %s", mode, code, out)
			}
		}
		os.Chmod(key, 0o600)
		if code, out := run(); code != 0 {
			t.Errorf("key mode 0600: exit %d: %s", code, out)
		}
	})
}
