package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/treediff"
)

// TestBadSources: sources that are no directory, or that gsync may not
// read, stop gsync with exit 2 and a message naming the problem.
func TestBadSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() }) // after the parallel subtests
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	os.Symlink(file, filepath.Join(dir, "link-to-file"))
	os.Symlink("/nonexistent/dir", filepath.Join(dir, "dangling"))
	for _, tc := range []struct{ name, src, want string }{
		{"fifo", fifo, "not a directory"},
		{"socket", filepath.Join(dir, "sock"), "not a directory"},
		{"device", "/dev/null", "not a directory"},
		{"symlink to a file", filepath.Join(dir, "link-to-file"), "not a directory"},
		{"dangling symlink", filepath.Join(dir, "dangling"), "does not exist"},
		{"below a file", filepath.Join(file, "sub"), "not a directory"},
		{"nonexistent", filepath.Join(dir, "missing"), "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out := runGsync(t, "--once", tc.src, filepath.Join(t.TempDir(), "mirror"))
			if code != 2 || !strings.Contains(out, tc.want) || !strings.Contains(out, tc.src) {
				t.Errorf("exit %d, want 2 with %q naming %s:\n%s", code, tc.want, tc.src, out)
			}
		})
	}
}

// TestBadTargets: malformed or unusable targets stop gsync with a message
// naming the target and what to do.
func TestBadTargets(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	modDir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{
		{Name: "m", Path: modDir},
		{Name: "ro", Path: filepath.Join(t.TempDir(), "ro"), ReadOnly: true},
		{Name: "secure", Path: filepath.Join(t.TempDir(), "sec"), AuthUsers: []string{"alice"}, Secrets: map[string]string{"alice": "pw"}},
	}})
	closed := FreePort(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"local target is a file", []string{file}, 2, []string{file, "not a directory"}},
		{"local target below a file", []string{filepath.Join(file, "sub")}, 2, []string{file, "not a directory"}},
		{"daemon without module", []string{"127.0.0.1::"}, 2, []string{"module"}},
		{"daemon URL without module", []string{"rsync://127.0.0.1/"}, 2, []string{"module"}},
		{"daemon port out of range", []string{"rsync://127.0.0.1:99999/m"}, 2, []string{"99999"}},
		{"daemon not listening", []string{fmt.Sprintf("rsync://127.0.0.1:%d/m", closed)}, 1, []string{"connection refused"}},
		{"unknown module", []string{d.URL("nosuch")}, 1, []string{"Unknown module", "nosuch", "lists the modules"}},
		{"read-only module", []string{d.URL("ro")}, 1, []string{"read-only", "read only = no"}},
		{"no password", []string{strings.Replace(d.URL("secure"), "rsync://", "rsync://alice@", 1)}, 1, []string{"auth", "--password-file"}},
		{"wrong user", []string{strings.Replace(d.URL("secure"), "rsync://", "rsync://mallory@", 1)}, 1, []string{"auth", "user name"}},
		{"ssh not listening", []string{"--ssh-config", "none", "-e", fmt.Sprintf("ssh -p %d", closed), "127.0.0.1:/tmp/x"}, 1, []string{"connection refused"}},
		{"ssh bad port", []string{"--ssh-config", "none", "-e", "ssh -p 0", "127.0.0.1:/tmp/x"}, 2, []string{"port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"--once", "--timeout", "5"}, tc.args[:len(tc.args)-1]...)
			args = append(args, src, tc.args[len(tc.args)-1])
			code, out := runGsyncEnv(t, []string{"RSYNC_PASSWORD=", "HOME=" + t.TempDir(), "SSH_AUTH_SOCK="}, args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
		})
	}
}

// hostileNames returns the names every target type must carry: the odd
// names, a 255-byte name (NAME_MAX) and, for a 255-byte directory, a file
// below it.
func hostileNames(validUTF8 bool, maxName int) []string {
	names := append([]string(nil), oddNames...)
	if validUTF8 {
		names = validUTF8Names()
	}
	return append(names, "]", "*", "-", "--", "-e", "--delete", "\\", "\\n",
		strings.Repeat("n", maxName), strings.Repeat("é", maxName/2))
}

// longPath returns a relative path of n bytes (n >= 10) in components of at
// most 200 bytes.
func longPath(n int) string {
	var parts []string
	used := 0
	for n-used > 201 {
		parts = append(parts, fmt.Sprintf("%03d", len(parts))+strings.Repeat("p", 197))
		used += 201
	}
	parts = append(parts, strings.Repeat("q", n-used))
	return filepath.Join(parts...)
}

// TestHostileNames sends names with newlines, backslashes, ']', '*', a
// leading '-', invalid UTF-8, 255-byte names and a 4,000-byte path through
// every target type: initial sync, then each file changed, renamed and
// deleted live.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	for _, mp := range mirrorPeers {
		t.Run(mp.name, func(t *testing.T) {
			t.Parallel()
			p := mp.start(t)
			src := filepath.Join(t.TempDir(), "s")
			os.Mkdir(src, 0o755)
			maxName := 255 // NAME_MAX
			if p.noDirToFile {
				// gokrazy/rsync's receiver writes to ".NAME.XXXXXX" without
				// shortening NAME (C rsync does, receiver.c:get_tmpname), so
				// names above NAME_MAX-8 fail there with ENAMETOOLONG.
				maxName = 200
			}
			names := hostileNames(p.validUTF8, maxName)
			for i, n := range names {
				os.WriteFile(filepath.Join(src, n), []byte(n), 0o644)
				d := filepath.Join(src, fmt.Sprintf("d%d", i), n)
				os.MkdirAll(d, 0o755)
				os.WriteFile(filepath.Join(d, n), []byte("in "+n), 0o644)
			}
			// The deepest path: the source root plus ~4,000 bytes stays
			// below PATH_MAX (4,096) for the local syscalls of both sides.
			room := 4095 - max(len(src), len(p.dir)) - len("/leaf2") - 2
			deep := longPath(min(4000, room) - len("/leaf2"))
			if err := os.MkdirAll(filepath.Join(src, deep), 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(src, deep, "leaf"), []byte("deep"), 0o644)
			t.Logf("deepest relative path: %d bytes", len(deep)+len("/leaf2"))
			g := startGsync(t, p.env, append(append([]string(nil), p.args...), "--delay", "0", src, p.target)...)
			waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)

			for _, n := range names {
				os.WriteFile(filepath.Join(src, n), []byte(n+" changed"), 0o644)
			}
			os.WriteFile(filepath.Join(src, deep, "leaf"), []byte("deep changed"), 0o644)
			waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)
			time.Sleep(600 * time.Millisecond) // past the collator's move guard: renames are renames
			for i, n := range names {
				if i%2 == 0 {
					os.Rename(filepath.Join(src, n), filepath.Join(src, fmt.Sprintf("d%d", i), "moved-"+n[:min(len(n), 200)]))
				} else {
					os.RemoveAll(filepath.Join(src, fmt.Sprintf("d%d", i)))
				}
			}
			os.Rename(filepath.Join(src, deep, "leaf"), filepath.Join(src, deep, "leaf2"))
			waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)
			if code := g.stop(syscall.SIGTERM); code != 143 {
				t.Errorf("exit code %d after SIGTERM, want 143", code)
			}
		})
	}
}

// nobodyDir makes a directory that uid 65534 can enter and own (t.TempDir
// is private to root), removed in a cleanup.
func nobodyDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "gsync-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	os.Chmod(d, 0o755)
	os.Chown(d, 65534, 65534)
	return d
}

// TestUnreadableFiles runs gsync as an unprivileged user (65534) on a tree
// that holds a file and a directory it may not read: they are reported by
// path (permission denied) and retried, everything else keeps flowing, and
// once they are readable they arrive.
func TestUnreadableFiles(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to run gsync as another user and own files it cannot read")
	}
	for _, name := range []string{"local", "rsync-3.5", "ssh"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := nobodyDir(t)
			src := filepath.Join(base, "src")
			seedTree(t, src, 21, 40)
			os.WriteFile(filepath.Join(src, "secret"), []byte("root only"), 0o600)
			os.WriteFile(filepath.Join(src, "doomed"), []byte("d"), 0o644)
			os.MkdirAll(filepath.Join(src, "closed", "inner"), 0o700)
			os.WriteFile(filepath.Join(src, "closed", "inner", "f"), []byte("f"), 0o644)
			exec.Command("chown", "-R", "65534:65534", src).Run()
			os.Chown(filepath.Join(src, "secret"), 0, 0)
			os.Chown(filepath.Join(src, "closed"), 0, 0)
			var p mirrorPeer
			switch name {
			case "local":
				dir := filepath.Join(base, "mirror")
				p = mirrorPeer{target: dir, dir: dir, opts: []treediff.Options{{}}}
			case "rsync-3.5":
				p = rsyncMirrorPeer(t, "", name, 0)
			case "ssh":
				s := startSSHPeer(t)
				key := filepath.Join(base, "id")
				b, _ := os.ReadFile(s.UserKeyPath)
				os.WriteFile(key, b, 0o600)
				os.Chown(key, 65534, 65534)
				dir := filepath.Join(t.TempDir(), "mirror")
				p = mirrorPeer{target: "127.0.0.1:" + dir, dir: dir, opts: sshCompareOptions,
					args: []string{"--ssh", "--ssh-config", "none", "--known-hosts", s.KnownHostsFile,
						"-e", fmt.Sprintf("ssh -p %d -i %s -l %s", s.Port, key, s.User)}}
				os.Chmod(s.KnownHostsFile, 0o644)
				os.Chmod(filepath.Dir(s.KnownHostsFile), 0o755)
				os.Chmod(filepath.Dir(filepath.Dir(s.KnownHostsFile)), 0o755)
			}
			args := append(append([]string(nil), p.args...), "--delay", "0", src, p.target)
			bin := filepath.Join(base, "gsync") // gsyncBin's directory is private to root
			placeGsync(t, bin)
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "HOME="+base, "PATH=")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			g := startProc(t, cmd)
			unreadable := func(rel string, isDir bool) bool {
				return rel == "secret" || rel == "closed" || strings.HasPrefix(rel, "closed/")
			}
			for _, o := range p.opts {
				o.Exclude = unreadable
				if strings.HasPrefix(name, "rsync") || name == "ssh" {
					o.CompareOwner = false
				}
				waitEqual(t, src, p.dir, 60*time.Second, o)
			}
			// The failures are logged when the push ends, which may be a
			// moment after the rest landed.
			for _, want := range []string{"secret", "closed"} {
				reported := func() bool {
					for _, l := range strings.Split(g.out.String(), "\n") {
						if strings.Contains(l, want) && strings.Contains(strings.ToLower(l), "permission denied") {
							return true
						}
					}
					return false
				}
				deadline := time.Now().Add(30 * time.Second)
				for !reported() && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				if !reported() {
					t.Errorf("%s not reported as unreadable (permission denied):\n%s", want, tail(g.out.String(), 20))
				}
			}
			// Others keep flowing meanwhile.
			os.WriteFile(filepath.Join(src, "later"), []byte("l"), 0o644)
			os.Chown(filepath.Join(src, "later"), 65534, 65534)
			waitForContent(t, filepath.Join(p.dir, "later"), "l", 30*time.Second)
			// Deletions too: rsync receivers skip a session's deletions
			// after a read error, and the unreadable files are retried in
			// every batch.
			os.Remove(filepath.Join(src, "doomed"))
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if _, err := os.Lstat(filepath.Join(p.dir, "doomed")); os.IsNotExist(err) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("doomed was not deleted on the target while other files are unreadable:\n%s", tail(g.out.String(), 20))
				}
			}
			// Readable again: they arrive (by the retry or the chmod event).
			os.Chmod(filepath.Join(src, "secret"), 0o644)
			os.Chmod(filepath.Join(src, "closed"), 0o755)
			waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)
			g.stop(syscall.SIGTERM)
		})
	}
}
