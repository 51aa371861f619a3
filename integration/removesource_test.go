package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// TestRemoveSourceFiles is the C rsync oracle of --remove-source-files:
// gsync and rsync push copies of one tree (then new files, and a file
// the target already has) into fresh targets of each kind (local, rsync
// 3.5.0 daemon, sshd); the targets must be equal, and so must what is
// left of the two sources (directories stay; files and symlinks the
// receiver confirmed go).
func TestRemoveSourceFiles(t *testing.T) {
	t.Parallel()
	rsync := lookBinary(t, "rsync")
	if os.Geteuid() != 0 {
		t.Skip("needs root: the daemon modules run as root")
	}
	for _, k := range []senderKind{
		{name: "local", start: startFidelityLocal},
		rsyncd35Kind,
		{name: "ssh", start: startFidelitySSH},
	} {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			tg := k.start(t, []string{"gsync", "rsync"})
			g, r := tg["gsync"], tg["rsync"]
			base := t.TempDir()
			gsrc, rsrc := filepath.Join(base, "gsrc"), filepath.Join(base, "rsrc")
			for _, src := range []string{gsrc, rsrc} {
				testutil.MustMkdir(t, src)
				writeSenderTree(t, src)
				testutil.Must(t, os.Chtimes(filepath.Join(src, "d"), senderMtime, senderMtime))
				testutil.Must(t, os.Chtimes(src, senderMtime, senderMtime))
			}
			gargs := append(append([]string{}, g.gsyncArgs...), "--once", "--remove-source-files", gsrc, g.gsyncTarget)
			rargs := append(append([]string{}, r.rsyncArgs...), "-r", "-a", "--delete", "--remove-source-files", rsrc+"/", r.rsyncTarget)
			for step := range 2 {
				if step == 1 {
					for _, src := range []string{gsrc, rsrc} {
						writeAt(t, filepath.Join(src, "d", "new.txt"), []byte("new"))
						// The target has it already, same size and mtime:
						// confirmed without data, removed too.
						writeAt(t, filepath.Join(src, "big.bin"), bytes.Repeat([]byte("B"), 5000))
						testutil.Must(t, os.Chtimes(filepath.Join(src, "d"), senderMtime, senderMtime))
						testutil.Must(t, os.Chtimes(src, senderMtime, senderMtime))
					}
				}
				if code, out := runGsync(t, gargs...); code != 0 {
					t.Fatalf("step %d: gsync %q exit %d:\n%s", step, gargs, code, tail(out, 20))
				}
				if code, out := runFidelityRsync(t, rsync, rargs...); code != 0 {
					t.Fatalf("step %d: rsync %q exit %d:\n%s", step, rargs, code, tail(out, 20))
				}
				opt := treediff.Options{CompareOwner: true, IgnoreRootMtime: true, SkipSymlinkMtimes: true, SkipDirMtimes: true}
				fidelityEqual(t, r.dir, g.dir, opt, fmt.Sprintf("rsync %q (targets)", rargs), fmt.Sprintf("gsync %q", gargs))
				fidelityEqual(t, rsrc, gsrc, opt, fmt.Sprintf("rsync %q (sources)", rargs), fmt.Sprintf("gsync %q", gargs))
			}
			if err := all(absent("big.bin"), absent("d/new.txt"), absent("ok"), present("d"))(rsrc); err != nil {
				t.Errorf("rsync's source: %v: the comparison proves less than it should", err)
			}
			if err := all(present("big.bin"), present("d/new.txt"))(r.dir); err != nil {
				t.Errorf("rsync's target: %v", err)
			}
		})
	}
}

// TestRemoveSourceFilesLive: a live mirror with --remove-source-files
// moves each new file to the target, and the delete event of its own
// removal does not delete it there (--delete running: real deletions
// still go through). One daemon, and a local target.
func TestRemoveSourceFilesLive(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	base := t.TempDir()
	mod := filepath.Join(base, "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: mod, Extra: "\tuid = root\n\tgid = root"}}})
	s := startSSHPeer(t)
	sshDir := filepath.Join(base, "ssh")
	testutil.MustMkdir(t, sshDir)
	for _, tc := range []struct {
		name, target, dir string
		args              []string
	}{
		{"daemon", d.URL("m"), mod, nil},
		{"local", filepath.Join(base, "local"), filepath.Join(base, "local"), nil},
		{"ssh", "127.0.0.1:" + sshDir, sshDir, sshArgs(s)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "src")
			testutil.MustMkdir(t, src)
			args := append(append([]string{}, tc.args...), "--delay=0", "--delete=running", "--remove-source-files", src, tc.target)
			g := startGsync(t, nil, args...)
			for i, name := range []string{"a.txt", "sub/b.txt", "c.txt"} {
				p := filepath.Join(src, filepath.FromSlash(name))
				testutil.Must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				testutil.WriteFile(t, p, fmt.Sprintf("file %d\n", i))
				testutil.Eventually(t, name+" moved to the target", func() bool {
					return testutil.Exists(filepath.Join(tc.dir, filepath.FromSlash(name))) && !testutil.Exists(p)
				})
			}
			// c.txt arrived after the removal of a.txt and sub/b.txt was
			// seen (inotify keeps the order): their deletions were
			// handled, and must not have reached the target.
			for _, name := range []string{"a.txt", "sub/b.txt"} {
				if !testutil.Exists(filepath.Join(tc.dir, filepath.FromSlash(name))) {
					t.Errorf("%s was deleted on the target after gsync removed it from the source", name)
				}
			}
			if !testutil.Exists(filepath.Join(src, "sub")) {
				t.Error("the directory sub was removed from the source: only files are")
			}
			if code := g.stop(syscall.SIGTERM); code != 143 && code != 0 {
				t.Errorf("gsync exit %d", code)
			}
		})
	}
}

// TestRemoveSourceFilesRefused: the combinations that would lose data
// stop gsync at startup, naming the option.
func TestRemoveSourceFilesRefused(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	for _, args := range [][]string{
		{"--remove-source-files", src, dst},                                // live, --delete true
		{"--remove-source-files", "--delete=false", src, dst, t.TempDir()}, // two targets
	} {
		code, out := runGsync(t, args...)
		if code != 2 || !bytes.Contains([]byte(out), []byte("--remove-source-files")) {
			t.Errorf("gsync %q: exit %d, want 2 and a message naming --remove-source-files:\n%s", args, code, tail(out, 5))
		}
	}
}
