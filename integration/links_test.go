package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// linkCase is one symlink option: gsync --once FLAGS and rsync -r -a
// --delete FLAGS push the link tree (writeLinkTree), then again after a
// referent outside SRC changed, each into a fresh target of the kind.
type linkCase struct {
	name  string
	flags []string
	// seed prepares both targets before the first push.
	seed func(t *testing.T, dir string)
	// partial: a link must be followed and points nowhere: rsync exits
	// 23 (partial transfer), gsync --once 1.
	partial bool
	// skipDirMtimes: a directory's mtime is the time of the push (-K:
	// the kept link's referent keeps its own, which the push changed).
	skipDirMtimes bool
	// expect checks rsync's target after the second push, so that the
	// comparison proves what the option does.
	expect func(dir string) error
}

var linkCases = []linkCase{
	{name: "copy-links", flags: []string{"-L"}, partial: true, expect: all(isFile("safe"), isFile("abs"), isFile("up"),
		isDir("safedir"), isFile("safedir/g"), isDir("absdir"), isFile("absdir/x"), isFile("absdir/inner"),
		isDir("updir"), isFile("d/upsafe"), absent("dangling"), absent("dangabs"), hasContent("abs", []byte("changed outside")))},
	{name: "copy-unsafe-links", flags: []string{"--copy-unsafe-links"}, partial: true, expect: all(isLink("safe"), isLink("safedir"),
		isLink("d/upsafe"), isFile("abs"), isFile("up"), isDir("absdir"), isLink("absdir/inner"), isDir("updir"),
		isLink("dangling"), absent("dangabs"), hasContent("up", []byte("changed outside")))},
	{name: "copy-dirlinks", flags: []string{"-k"}, expect: all(isLink("safe"), isDir("safedir"), isFile("safedir/g"),
		isLink("abs"), isDir("absdir"), isLink("absdir/inner"), isDir("updir"), isLink("dangling"), isLink("dangabs"))},
	// -K: the targets hold d as a symlink to store (excluded, so neither
	// sent nor deleted): d's files go into store, and what store has
	// that d has not is deleted.
	{name: "keep-dirlinks", flags: []string{"-K", "--exclude=/store"}, seed: func(t *testing.T, dir string) {
		testutil.MustMkdir(t, filepath.Join(dir, "store"))
		writeAt(t, filepath.Join(dir, "store", "old"), []byte("old"))
		testutil.Must(t, os.Symlink("store", filepath.Join(dir, "d")))
	}, skipDirMtimes: true, expect: all(isLink("d"), isFile("store/g"), isFile("store/h"), absent("store/old"), notMtime("store", senderMtime))},
}

// TestSymlinkOptions is the C rsync oracle of the options that follow
// symlinks (-L, --copy-unsafe-links, -k) and of -K: for each case and
// kind of target (local, rsync 3.5.0 daemon, rsync 3.2.7 daemon at
// protocol 30, sshd), gsync and rsync push a tree with safe and unsafe
// links (absolute and ../ out of SRC, to a file and to a directory
// outside it), links to directories and links to nothing, then push it
// again after a referent outside SRC changed, to two fresh targets,
// which must be equal. One daemon and one sshd serve every case.
func TestSymlinkOptions(t *testing.T) {
	t.Parallel()
	rsync := lookBinary(t, "rsync")
	if os.Geteuid() != 0 {
		t.Skip("needs root: the daemon modules run as root (symlinks arrive verbatim with chroot)")
	}
	kinds := []senderKind{
		{name: "local", start: startFidelityLocal},
		rsyncd35Kind,
		{name: "rsyncd-3.2.7-protocol-30", gsyncArgs: []string{"--protocol=30"}, rsArgs: []string{"--protocol=30"},
			cases: []string{"copy-links", "keep-dirlinks"},
			start: func(t *testing.T, names []string) map[string]fidelityTarget {
				return startRootDaemon(t, rsync327(t), names)
			}},
		// ssh sessions cost most; -K reaches the same C rsync receiver
		// through the daemons.
		{name: "ssh", start: startFidelitySSH, cases: []string{"copy-unsafe-links"}},
	}
	runSenderKinds(t, kinds, linkCases, func(c linkCase) string { return c.name },
		func(t *testing.T, k senderKind, c linkCase, g, r fidelityTarget) { runLinkCase(t, rsync, k, c, g, r) })
}

// writeLinkTree makes SRC (base/src) and what lies outside it
// (base/out):
//
//	src/f, src/d/{g,h}, src/safe -> f, src/safedir -> d, src/d/upsafe -> ../f,
//	src/abs -> base/out/of, src/absdir -> base/out/od, src/up -> ../out/of,
//	src/updir -> ../out/od, src/dangling -> nope, src/dangabs -> base/out/nope;
//	out/of, out/od/x, out/od/inner -> ../of
func writeLinkTree(t *testing.T, base string) (src string) {
	src, out := filepath.Join(base, "src"), filepath.Join(base, "out")
	testutil.MustMkdir(t, filepath.Join(src, "d"))
	testutil.MustMkdir(t, filepath.Join(out, "od"))
	for rel, data := range map[string]string{"src/f": "f", "src/d/g": "g", "src/d/h": "h", "out/of": "outside", "out/od/x": "x"} {
		writeAt(t, filepath.Join(base, rel), []byte(data))
	}
	for _, l := range [][2]string{{"src/safe", "f"}, {"src/safedir", "d"}, {"src/d/upsafe", "../f"},
		{"src/abs", filepath.Join(out, "of")}, {"src/absdir", filepath.Join(out, "od")}, {"src/up", "../out/of"},
		{"src/updir", "../out/od"}, {"src/dangling", "nope"}, {"src/dangabs", filepath.Join(out, "nope")},
		{"out/od/inner", "../of"}} {
		testutil.Must(t, os.Symlink(l[1], filepath.Join(base, l[0])))
	}
	for _, d := range []string{"src/d", "src", "out/od", "out"} {
		testutil.Must(t, os.Chtimes(filepath.Join(base, d), senderMtime, senderMtime))
	}
	return src
}

func runLinkCase(t *testing.T, rsync string, k senderKind, c linkCase, g, r fidelityTarget) {
	base := t.TempDir()
	src := writeLinkTree(t, base)
	if c.seed != nil {
		for _, dir := range []string{g.dir, r.dir} {
			testutil.MustMkdir(t, dir)
			c.seed(t, dir)
		}
	}
	for step := range 2 {
		if step == 1 {
			// A referent outside SRC changes: the next push carries it.
			of := filepath.Join(base, "out", "of")
			testutil.Must(t, os.WriteFile(of, []byte("changed outside"), 0o644))
		}
		gargs := append(append(append([]string{}, g.gsyncArgs...), k.gsyncArgs...), "--once")
		gargs = append(append(gargs, c.flags...), src, g.gsyncTarget)
		rargs := append(append(append([]string{}, r.rsyncArgs...), k.rsArgs...), "-r", "-a", "--delete")
		rargs = append(append(rargs, c.flags...), src+"/", r.rsyncTarget)
		gcode, rcode := 0, 0
		if c.partial {
			gcode, rcode = 1, 23
		}
		if code, out := runGsync(t, gargs...); code != gcode {
			t.Fatalf("step %d: gsync %q exit %d, want %d:\n%s", step, gargs, code, gcode, tail(out, 20))
		}
		if code, out := runFidelityRsync(t, rsync, rargs...); code != rcode {
			t.Fatalf("step %d: rsync %q exit %d, want %d:\n%s", step, rargs, code, rcode, tail(out, 20))
		}
		opt := treediff.Options{CompareOwner: true, IgnoreRootMtime: true, SkipSymlinkMtimes: true, SkipDirMtimes: c.skipDirMtimes}
		if !fidelityEqual(t, r.dir, g.dir, opt,
			fmt.Sprintf("rsync %q", rargs), fmt.Sprintf("gsync %q", gargs)) {
			return
		}
	}
	if err := c.expect(r.dir); err != nil {
		t.Errorf("rsync's target: %v: the comparison proves less than it should", err)
	}
	if err := c.expect(g.dir); err != nil {
		t.Errorf("gsync's target: %v", err)
	}
}

func notMtime(rel string, not time.Time) func(string) error {
	return func(dir string) error {
		fi, err := os.Lstat(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		if fi.ModTime().Equal(not) {
			return fmt.Errorf("%s has mtime %v", rel, not)
		}
		return nil
	}
}

func isFile(rel string) func(string) error {
	return isType(rel, "a regular file", os.FileMode.IsRegular)
}
func isDir(rel string) func(string) error { return isType(rel, "a directory", os.FileMode.IsDir) }
func isLink(rel string) func(string) error {
	return isType(rel, "a symlink", func(m os.FileMode) bool { return m&os.ModeSymlink != 0 })
}

func isType(rel, what string, ok func(os.FileMode) bool) func(string) error {
	return func(dir string) error {
		fi, err := os.Lstat(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		if !ok(fi.Mode()) {
			return fmt.Errorf("%s is %v, want %s", rel, fi.Mode().Type(), what)
		}
		return nil
	}
}

// TestSymlinkOptionsLive: with -L, a link made in SRC while gsync runs,
// to a directory outside SRC, arrives as that directory with its files
// (the batch walks a followed link's directory), and one to a file as
// that file. Local target and one rsync daemon.
func TestSymlinkOptionsLive(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	if os.Geteuid() != 0 {
		t.Skip("needs root: the daemon module runs as root")
	}
	base := t.TempDir()
	mod := filepath.Join(base, "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: mod, Extra: "\tuid = root\n\tgid = root"}}})
	for _, tc := range []struct{ name, target, dir string }{
		{"daemon", d.URL("m"), mod},
		{"local", filepath.Join(base, "local"), filepath.Join(base, "local")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			top := t.TempDir()
			src, out := filepath.Join(top, "src"), filepath.Join(top, "out")
			testutil.MustMkdir(t, src)
			testutil.MustMkdir(t, filepath.Join(out, "od", "sub"))
			writeAt(t, filepath.Join(out, "od", "sub", "x"), []byte("x"))
			writeAt(t, filepath.Join(out, "of"), []byte("of"))
			g := startGsync(t, nil, "--delay=0", "-L", src, tc.target)
			writeAt(t, filepath.Join(src, "first"), []byte("first"))
			testutil.Eventually(t, "first arrives", func() bool { return testutil.Exists(filepath.Join(tc.dir, "first")) })
			testutil.Must(t, os.Symlink(filepath.Join(out, "od"), filepath.Join(src, "dirlink")))
			testutil.Must(t, os.Symlink("../out/of", filepath.Join(src, "filelink")))
			testutil.Eventually(t, "dirlink/sub/x and filelink arrive as their referents", func() bool {
				return all(isDir("dirlink"), isFile("dirlink/sub/x"), isFile("filelink"))(tc.dir) == nil
			})
			if code := g.stop(syscall.SIGTERM); code != 143 && code != 0 {
				t.Errorf("gsync exit %d", code)
			}
		})
	}
}
