//go:build linux

package integration

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// checkStatic fails unless bin is a statically linked ELF executable: no
// program interpreter (PT_INTERP) and no shared libraries (DT_NEEDED); and,
// when file(1) is installed, unless it says so too.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("read ELF %s: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter (PT_INTERP): dynamically linked", bin)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil {
		t.Errorf("read dynamic section of %s: %v", bin, err)
	} else if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
	if _, err := exec.LookPath("file"); err != nil {
		t.Logf("file(1) not installed; checked the ELF headers only")
		return
	}
	out, err := exec.Command("file", "-b", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("file %s: %v %s", bin, err, out)
	}
	if s := string(out); !strings.Contains(s, "statically linked") && !strings.Contains(s, "static-pie linked") {
		t.Errorf("file(1) does not report %s as statically linked: %s", bin, s)
	}
}

// startChrooted runs root/gsync chrooted into root, with an empty
// environment (no PATH, no HOME, no USER) and / as working directory. It is
// killed at cleanup if the test did not stop it.
func startChrooted(t *testing.T, root string, args ...string) *gsyncProc {
	t.Helper()
	cmd := exec.Command("/gsync", args...) // resolved after the chroot
	cmd.Env = []string{}                   // empty, not inherited
	cmd.Dir = "/"                          // applied after the chroot
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	return startProc(t, cmd)
}

// runChrooted runs root/gsync in the chroot to completion (bounded) and
// returns its exit code and output.
func runChrooted(t *testing.T, root string, args ...string) (int, string) {
	t.Helper()
	return startChrooted(t, root, args...).wait(90 * time.Second)
}

// copyFile copies src to dst with mode perm.
func copyFile(t *testing.T, src, dst string, perm fs.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, perm); err != nil {
		t.Fatal(err)
	}
}

// placeGsync puts gsyncBin at dst for a test that must run it from
// elsewhere (a chroot, a directory another user can reach). It links rather
// than copies: a copy is a file open for writing while parallel tests fork,
// and a child that inherited that descriptor, until it execs, makes running
// the copy fail with "text file busy" (ETXTBSY). A copy is the fallback
// where a link cannot be made, and its exec is retried a few times.
func placeGsync(t *testing.T, dst string) {
	t.Helper()
	if err := os.Link(gsyncBin, dst); err == nil {
		return
	}
	copyFile(t, gsyncBin, dst, 0o755)
	for i := 0; i < 50; i++ {
		err := exec.Command(dst, "--version").Run()
		if !errors.Is(err, syscall.ETXTBSY) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("run %s: still text file busy after 1 s", dst)
}

// TestStaticEmptyRoot proves that the static binary alone is enough: it
// runs gsync chrooted into a directory that holds only the binary, the
// source tree, a known_hosts file and a key (no rsync, ssh, shell, libc,
// /etc/passwd, /etc/hosts, /proc, home directory or writable /tmp), with an
// empty environment, and pushes to a C rsync daemon and over ssh on
// 127.0.0.1: once with --once, then live with changes, stopped by SIGTERM.
func TestStaticEmptyRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to chroot (and sshd needs root for logins)")
	}
	s := startSSHPeer(t) // skips without rsync or sshd
	module := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: module}}})

	root := t.TempDir()
	os.Chmod(root, 0o755)
	bin := filepath.Join(root, "gsync")
	placeGsync(t, bin) // built like make release does (TestMain)
	checkStatic(t, bin)
	if fi, err := os.Stat(bin); err == nil {
		t.Logf("static gsync: %d bytes (%.2f MiB)", fi.Size(), float64(fi.Size())/(1<<20))
	}
	src := filepath.Join(root, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	bigTree(t, src, 1000, 60, oddNames)
	copyFile(t, s.KnownHostsFile, filepath.Join(root, "known_hosts"), 0o600)
	copyFile(t, s.UserKeyPath, filepath.Join(root, "key"), 0o600)
	// /tmp is a regular file: nothing can be created in or below it, and
	// as root gsync could otherwise just mkdir a missing /tmp.
	if err := os.WriteFile(filepath.Join(root, "tmp"), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	rootEntries := []string{"gsync", "key", "known_hosts", "src", "tmp"}
	knownHosts := readFile(filepath.Join(root, "known_hosts"))

	code, out := runChrooted(t, root, "--version")
	want := regexp.MustCompile(`^gsync version ` + gsyncTestVersion + ` \(commit \S+, go1\.\d+\S*, rsync protocols 27-32\)\n$`)
	if code != 0 || !want.MatchString(out) {
		t.Errorf("gsync --version: exit %d, output %q, want a match of %s", code, out, want)
	}

	daemonURL := d.URL("m")
	sshDst := filepath.Join(t.TempDir(), "mirror")
	sshArgs := []string{"--ssh", "-e", fmt.Sprintf("ssh -p %d -i /key -l %s", s.Port, s.User),
		"--known-hosts", "/known_hosts", "--timeout", "20"}
	daemonOpts := rsyncPeerOptions(32)

	// One-shot pushes.
	if code, out := runChrooted(t, root, "--once", "/src", daemonURL); code != 0 {
		t.Fatalf("chrooted gsync --once to the rsync daemon: exit %d:\n%s", code, tail(out, 30))
	}
	waitEqualAll(t, src, module, 10*time.Second, daemonOpts)
	onceSSH := append(append([]string{"--once"}, sshArgs...), "/src", "127.0.0.1:"+sshDst)
	if code, out := runChrooted(t, root, onceSSH...); code != 0 {
		t.Fatalf("chrooted gsync --once over ssh: exit %d:\n%s", code, tail(out, 30))
	}
	waitEqualAll(t, src, sshDst, 10*time.Second, sshCompareOptions)

	// Live mirrors to both targets at once, then changes.
	gd := startChrooted(t, root, "--delay", "0", "/src", daemonURL)
	liveSSH := append(append([]string{"--delay", "0"}, sshArgs...), "/src", "127.0.0.1:"+sshDst)
	gs := startChrooted(t, root, liveSSH...)
	waitEqualAll(t, src, module, 60*time.Second, daemonOpts)
	waitEqualAll(t, src, sshDst, 60*time.Second, sshCompareOptions)
	liveChanges(t, src)
	waitEqualAll(t, src, module, 60*time.Second, daemonOpts)
	waitEqualAll(t, src, sshDst, 60*time.Second, sshCompareOptions)
	for name, p := range map[string]*gsyncProc{"rsync daemon": gd, "ssh": gs} {
		if code := p.stop(syscall.SIGTERM); code != 143 {
			t.Errorf("live gsync (%s) exit code %d after SIGTERM, want 143", name, code)
		}
	}

	// gsync wrote nothing into the root: no home directory, no temp
	// files, no learned host keys.
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, rootEntries) {
		t.Errorf("root holds %q after the runs, want only %q", names, rootEntries)
	}
	if fi, err := os.Lstat(filepath.Join(root, "tmp")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("/tmp in the root was replaced: %v %v", fi, err)
	}
	if got := readFile(filepath.Join(root, "known_hosts")); got != knownHosts {
		t.Errorf("known_hosts changed:\n%s\nwant:\n%s", got, knownHosts)
	}
}

// liveChanges makes a few changes of every kind below src: new files in a
// new directory tree, a rewrite of the same size, a renamed directory, a
// deleted file, a new symlink.
func liveChanges(t *testing.T, src string) {
	t.Helper()
	var files []string
	filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() && len(files) < 2 {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 2 {
		t.Fatalf("source tree has %d files, want at least 2", len(files))
	}
	deep := filepath.Join(src, "live", "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return os.WriteFile(filepath.Join(deep, "deep.txt"), []byte("deep"), 0o644) },
		func() error { return os.WriteFile(filepath.Join(src, "new top.txt"), []byte("top"), 0o600) },
		func() error {
			b, err := os.ReadFile(files[0])
			if err != nil {
				return err
			}
			for i := range b {
				b[i] ^= 0x20 // same size, new content
			}
			return os.WriteFile(files[0], b, 0o644)
		},
		func() error { return os.Remove(files[1]) },
		func() error { return os.Rename(filepath.Join(src, "live", "a"), filepath.Join(src, "live", "renamed")) },
		func() error { return os.Symlink("renamed/b", filepath.Join(src, "live", "link")) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("live change %d: %v", i, err)
		}
	}
}
