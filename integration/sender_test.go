package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// senderCase is one set of sender-side options: gsync --once FLAGS and
// rsync -r -a --delete FLAGS push the same tree, then the same changes,
// each into a fresh target of the kind.
type senderCase struct {
	name  string
	flags []string
	// first, when set, are the flags of the first push instead of flags.
	first []string
	// expect checks rsync's target after the second push, so that the
	// comparison proves what the option does.
	expect func(dir string) error
}

// senderMid is mid.txt's content before and after it is rewritten with
// the same size and mtime.
var senderMid = [2][]byte{bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 1000)}

var senderCases = []senderCase{
	{"quick-check", nil, nil, hasContent("mid.txt", senderMid[0])},
	{"checksum", []string{"-c"}, nil, hasContent("mid.txt", senderMid[1])},
	{"max-size", []string{"--max-size=1k"}, nil, all(absent("d/big2"), hasSize("small.txt", 10), hasSize("big.bin", 500))},
	{"min-size", []string{"--min-size=100"}, nil, all(absent("d/new.txt"), hasSize("small.txt", 2000), hasSize("big.bin", 500))},
	{"size-suffixes", []string{"--max-size=2.9kb", "--min-size=0.1KiB"}, nil, all(absent("d/big2"), absent("d/new.txt"), hasSize("small.txt", 2000))},
	{"safe-links", []string{"--safe-links"}, nil, all(absent("abs"), absent("dotdot"), present("ok"), present("d/up"))},
	{"whole-file", []string{"-W", "--bwlimit=50m"}, nil, all(hasContent("mid.txt", senderMid[0]), hasSize("big.bin", 500))},
	// Excluded files the target has from an earlier push: kept, or
	// deleted with --delete-excluded.
	{"excluded-kept", []string{"--exclude=*.bin", "--exclude=d/big2"}, []string{}, all(present("big.bin"), present("d/big2"))},
	{"delete-excluded", []string{"--delete-excluded", "--exclude=*.bin", "--exclude=d/big2"}, []string{},
		all(absent("big.bin"), absent("d/big2"), present("d/nested.txt"))},
	// Receiver-side rules still protect with --delete-excluded
	// (exclude.c: send_rules sends P, R and -r rules).
	{"delete-excluded-protect", []string{"--delete-excluded", "--exclude=*.bin", "--exclude=d/big2", "--exclude=mid.txt",
		"--filter=P big.bin", "--filter=-r mid.txt"}, []string{},
		all(hasSize("big.bin", 5000), hasContent("mid.txt", senderMid[0]), absent("d/big2"), present("d/nested.txt"))},
}

// senderKind is one kind of target for TestSenderOptions, with the
// extra arguments of both programs.
type senderKind struct {
	name              string
	start             func(t *testing.T, names []string) map[string]fidelityTarget
	gsyncArgs, rsArgs []string
	// cases, when set, are the only cases the kind runs (the suite must
	// stay fast: ssh sessions cost most).
	cases []string
}

// startRootDaemon starts one rsync daemon (bin) with a module per name,
// run as root: the start of the daemon kinds of the sender-side oracles.
func startRootDaemon(t *testing.T, bin string, names []string) map[string]fidelityTarget {
	return startFidelityDaemon(t, bin, "uid = root\n\tgid = root", false, names)
}

// rsyncd35Kind is the rsync 3.5.0 daemon kind, every case.
var rsyncd35Kind = senderKind{name: "rsyncd-3.5", start: func(t *testing.T, names []string) map[string]fidelityTarget {
	return startRootDaemon(t, "rsync", names)
}}

// runSenderKinds runs, for each kind, the cases it names (all when it
// names none) as parallel subtests, each against a pair of fresh
// targets (NAME-gsync, NAME-rsync) of one set of peers the kind starts
// for all of them.
func runSenderKinds[C any](t *testing.T, kinds []senderKind, all []C, name func(C) string, run func(t *testing.T, k senderKind, c C, g, r fidelityTarget)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			var names []string
			var cases []C
			for _, c := range all {
				if k.cases == nil || slices.Contains(k.cases, name(c)) {
					cases = append(cases, c)
					names = append(names, name(c)+"-gsync", name(c)+"-rsync")
				}
			}
			targets := k.start(t, names)
			for _, c := range cases {
				t.Run(name(c), func(t *testing.T) {
					t.Parallel()
					run(t, k, c, targets[name(c)+"-gsync"], targets[name(c)+"-rsync"])
				})
			}
		})
	}
}

// TestSenderOptions is the C rsync oracle of the sender-side options
// (-c, --max-size, --min-size, --safe-links, -W, --bwlimit): for each
// case and kind of target (local, rsync 3.5.0 daemon, rsync 3.2.7
// daemon at protocol 30, sshd), gsync and rsync push the same tree, then
// the same changes (a same-size same-mtime rewrite, files crossing the
// size bounds, a new small file) to two fresh targets, which must be
// equal. One daemon and one sshd serve every case.
func TestSenderOptions(t *testing.T) {
	t.Parallel()
	rsync := lookBinary(t, "rsync")
	kinds := []senderKind{
		{name: "local", start: startFidelityLocal},
		rsyncd35Kind,
		{name: "rsyncd-3.2.7-protocol-30", gsyncArgs: []string{"--protocol=30"}, rsArgs: []string{"--protocol=30"},
			cases: []string{"checksum", "max-size", "min-size", "whole-file", "delete-excluded", "delete-excluded-protect"},
			start: func(t *testing.T, names []string) map[string]fidelityTarget {
				return startRootDaemon(t, rsync327(t), names)
			}},
		{name: "ssh", start: startFidelitySSH, cases: []string{"checksum", "max-size", "safe-links", "delete-excluded"}},
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the daemon modules run as root (symlinks arrive verbatim with chroot)")
	}
	runSenderKinds(t, kinds, senderCases, func(c senderCase) string { return c.name },
		func(t *testing.T, k senderKind, c senderCase, g, r fidelityTarget) {
			runSenderCase(t, rsync, k, c, g, r)
		})
}

// senderMtime is the mtime of every file of the tree (in the past: the
// quick check then sees no file as just written).
var senderMtime = time.Unix(1704164645, 0)

// writeSenderTree makes the tree of TestSenderOptions in src.
func writeSenderTree(t *testing.T, src string) {
	testutil.MustMkdir(t, filepath.Join(src, "d"))
	for _, f := range []struct {
		rel  string
		data []byte
	}{
		{"small.txt", bytes.Repeat([]byte("s"), 10)},
		{"mid.txt", senderMid[0]},
		{"big.bin", bytes.Repeat([]byte("B"), 5000)},
		{"d/nested.txt", bytes.Repeat([]byte("n"), 200)},
		{"d/big2", bytes.Repeat([]byte("2"), 3000)},
	} {
		writeAt(t, filepath.Join(src, f.rel), f.data)
	}
	for _, l := range [][2]string{{"ok", "small.txt"}, {"dotdot", "../outside"}, {"abs", "/etc/hostname"}, {"d/up", "../small.txt"}} {
		testutil.Must(t, os.Symlink(l[1], filepath.Join(src, l[0])))
	}
}

// changeSenderTree makes the changes between the two pushes.
func changeSenderTree(t *testing.T, src string) {
	writeAt(t, filepath.Join(src, "mid.txt"), senderMid[1])                       // same size, same mtime
	writeAt(t, filepath.Join(src, "small.txt"), bytes.Repeat([]byte("S"), 2000))  // grows past 1k
	writeAt(t, filepath.Join(src, "big.bin"), bytes.Repeat([]byte("b"), 500))     // shrinks below 1k
	writeAt(t, filepath.Join(src, "d", "new.txt"), bytes.Repeat([]byte("N"), 50)) // new, small
}

// writeAt writes p with data and gives it senderMtime.
func writeAt(t *testing.T, p string, data []byte) {
	testutil.Must(t, os.WriteFile(p, data, 0o644))
	testutil.Must(t, os.Chtimes(p, senderMtime, senderMtime))
}

func runSenderCase(t *testing.T, rsync string, k senderKind, c senderCase, g, r fidelityTarget) {
	src := filepath.Join(t.TempDir(), "src")
	testutil.MustMkdir(t, src)
	writeSenderTree(t, src)
	testutil.Must(t, os.Chtimes(filepath.Join(src, "d"), senderMtime, senderMtime))
	testutil.Must(t, os.Chtimes(src, senderMtime, senderMtime))
	var gargs, rargs []string
	for step := range 2 {
		flags := c.flags
		if step == 0 && c.first != nil {
			flags = c.first
		}
		gargs = append(append(append(append([]string{}, g.gsyncArgs...), k.gsyncArgs...), "--once"), flags...)
		gargs = append(gargs, src, g.gsyncTarget)
		rargs = append(append(append(append([]string{}, r.rsyncArgs...), k.rsArgs...), "-r", "-a", "--delete"), flags...)
		rargs = append(rargs, src+"/", r.rsyncTarget)
		if step == 1 {
			changeSenderTree(t, src)
			testutil.Must(t, os.Chtimes(filepath.Join(src, "d"), senderMtime, senderMtime))
		}
		if code, out := runGsync(t, gargs...); code != 0 {
			t.Fatalf("step %d: gsync %q exit %d:\n%s", step, gargs, code, tail(out, 20))
		}
		if code, out := runFidelityRsync(t, rsync, rargs...); code != 0 {
			t.Fatalf("step %d: rsync %q exit %d:\n%s", step, rargs, code, tail(out, 20))
		}
		// Symlink mtimes: rsync leaves one alone when it matches the
		// source's to the second (see fidelityLiveOptions).
		if !fidelityEqual(t, r.dir, g.dir, treediff.Options{CompareOwner: true, IgnoreRootMtime: true, SkipSymlinkMtimes: true},
			fmt.Sprintf("rsync %q", rargs), fmt.Sprintf("gsync %q", gargs)) {
			return
		}
	}
	if err := c.expect(r.dir); err != nil {
		t.Errorf("rsync's target: %v: the comparison proves less than it should", err)
	}
}

func hasContent(rel string, want []byte) func(string) error {
	return func(dir string) error {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(b, want) {
			return fmt.Errorf("%s holds %.20q..., want %.20q...", rel, b, want)
		}
		return nil
	}
}

func hasSize(rel string, want int64) func(string) error {
	return func(dir string) error {
		fi, err := os.Lstat(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		if fi.Size() != want {
			return fmt.Errorf("%s has %d bytes, want %d", rel, fi.Size(), want)
		}
		return nil
	}
}

func absent(rel string) func(string) error {
	return func(dir string) error {
		if _, err := os.Lstat(filepath.Join(dir, rel)); err == nil {
			return fmt.Errorf("%s exists", rel)
		}
		return nil
	}
}

func present(rel string) func(string) error {
	return func(dir string) error {
		_, err := os.Lstat(filepath.Join(dir, rel))
		return err
	}
}

func all(checks ...func(string) error) func(string) error {
	return func(dir string) error {
		for _, c := range checks {
			if err := c(dir); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestCVSExclude: gsync -C and rsync -C push the same tree (objects,
// backups, a .git directory, names from ~/.cvsignore and $CVSIGNORE,
// per-directory .cvsignore files) into fresh targets that already hold
// some of those names: the targets must be equal (excluded names
// neither sent nor deleted, except inside a directory the push deletes:
// the default list's rules are perishable). Local target and one rsync
// 3.5.0 daemon.
func TestCVSExclude(t *testing.T) {
	t.Parallel()
	rsync := lookBinary(t, "rsync")
	kinds := []senderKind{
		{name: "local", start: startFidelityLocal},
		rsyncd35Kind,
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the daemon modules run as root")
	}
	home := t.TempDir()
	testutil.WriteFile(t, filepath.Join(home, ".cvsignore"), "*.tmp\n")
	env := []string{"HOME=" + home, "CVSIGNORE=*.junk secret"}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			tg := k.start(t, []string{"gsync", "rsync"})
			g, r := tg["gsync"], tg["rsync"]
			src := filepath.Join(t.TempDir(), "src")
			for _, rel := range []string{"main.c", "main.o", "notes.txt~", "lib/x.so", "lib/keep.h", ".git/HEAD",
				"core", "sub/core/inside", "a.junk", "secret", "sub/#tmp#", "Makefile", "x.tmp",
				"gen/out.c", "gen/in.c", "gen/deeper/out.c", "gen/deeper/keep.c"} {
				p := filepath.Join(src, filepath.FromSlash(rel))
				testutil.Must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				writeAt(t, p, []byte(rel))
			}
			// Words, at any white space; in gen only, not below it.
			cvsignore := []byte("out.c\tnotes  in.c\n")
			writeAt(t, filepath.Join(src, "gen", ".cvsignore"), cvsignore)
			writeAt(t, filepath.Join(src, "gen", "deeper", ".cvsignore"), []byte("keep.c\n"))
			for _, dir := range []string{g.dir, r.dir} {
				// Names the excludes protect on the target.
				testutil.Must(t, os.MkdirAll(filepath.Join(dir, "lib"), 0o755))
				writeAt(t, filepath.Join(dir, "old.bak"), []byte("target's own"))
				writeAt(t, filepath.Join(dir, "lib", "y.o"), []byte("target's own"))
				// Directories the source lacks: deleted whole, the
				// default list's perishable rules keep nothing in them.
				testutil.Must(t, os.MkdirAll(filepath.Join(dir, "gone"), 0o755))
				writeAt(t, filepath.Join(dir, "gone", "core"), []byte("target's own"))
				writeAt(t, filepath.Join(dir, "gone", "z.o"), []byte("target's own"))
				testutil.Must(t, os.MkdirAll(filepath.Join(dir, "gone2"), 0o755))
				writeAt(t, filepath.Join(dir, "gone2", "core"), []byte("target's own"))
				// Kept by gen/.cvsignore, which the receiver reads in
				// the target (rsync's own, the daemon's); gsync's local
				// target reads the source's.
				testutil.Must(t, os.MkdirAll(filepath.Join(dir, "gen"), 0o755))
				writeAt(t, filepath.Join(dir, "gen", ".cvsignore"), cvsignore)
				writeAt(t, filepath.Join(dir, "gen", "notes"), []byte("target's own"))
				writeAt(t, filepath.Join(dir, "gen", "other"), []byte("target's own"))
			}
			gargs := append(append([]string{}, g.gsyncArgs...), "--once", "-C", src, g.gsyncTarget)
			if code, out := runGsyncEnv(t, env, gargs...); code != 0 {
				t.Fatalf("gsync %q exit %d:\n%s", gargs, code, tail(out, 20))
			}
			rargs := append(append([]string{}, r.rsyncArgs...), "-r", "-a", "--delete", "-C", src+"/", r.rsyncTarget)
			cmd := exec.Command(rsync, rargs...)
			cmd.Env = append(os.Environ(), env...)
			if code, out := startProc(t, cmd).wait(60 * time.Second); code != 0 {
				t.Fatalf("rsync %q exit %d:\n%s", rargs, code, tail(out, 20))
			}
			opt := treediff.Options{CompareOwner: true, IgnoreRootMtime: true, SkipDirMtimes: true}
			fidelityEqual(t, r.dir, g.dir, opt, fmt.Sprintf("rsync %q", rargs), fmt.Sprintf("gsync %q", gargs))
			if err := all(present("main.c"), present("Makefile"), present("lib/keep.h"), absent("main.o"), absent(".git"),
				absent("a.junk"), absent("secret"), absent("sub/core"), present("old.bak"), present("lib/y.o"), absent("x.tmp"),
				absent("gen/out.c"), absent("gen/in.c"), present("gen/deeper/out.c"), absent("gen/deeper/keep.c"),
				present("gen/notes"), absent("gen/other"), absent("gone"), absent("gone2"))(r.dir); err != nil {
				t.Errorf("rsync's target: %v: the comparison proves less than it should", err)
			}
		})
	}
}

// TestSenderOptionsLive: event batches keep the sender options: with
// --max-size a big new file never lands (a file written after it
// does), and with -c a rewrite with the same size and mtime arrives
// (the batch's --ignore-times and the receiver's checksum agree). One
// daemon, and a local target.
func TestSenderOptionsLive(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	base := t.TempDir()
	mod := filepath.Join(base, "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: mod, Extra: "\tuid = root\n\tgid = root"}}})
	for _, tc := range []struct{ name, target, dir string }{
		{"daemon", d.URL("m"), mod},
		{"local", filepath.Join(base, "local"), filepath.Join(base, "local")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "src")
			testutil.MustMkdir(t, src)
			g := startGsync(t, nil, "--delay=0", "--max-size=1k", "-c", src, tc.target)
			arrived := func(rel string, want []byte) func() bool {
				return func() bool {
					b, err := os.ReadFile(filepath.Join(tc.dir, rel))
					return err == nil && bytes.Equal(b, want)
				}
			}
			writeAt(t, filepath.Join(src, "small"), senderMid[0][:500])
			testutil.Eventually(t, "small arrives", arrived("small", senderMid[0][:500]))
			// Written beside SRC and moved in whole: written in place, its
			// first, empty state could be pushed (under --max-size) before
			// the data lands, as rsync would push it too.
			tmp := filepath.Join(filepath.Dir(src), "big")
			writeAt(t, tmp, bytes.Repeat([]byte("B"), 2000))
			testutil.Must(t, os.Rename(tmp, filepath.Join(src, "big")))
			writeAt(t, filepath.Join(src, "after"), []byte("after"))
			testutil.Eventually(t, "after arrives", arrived("after", []byte("after")))
			if testutil.Exists(filepath.Join(tc.dir, "big")) {
				t.Error("big (2000 bytes) arrived despite --max-size=1k")
			}
			writeAt(t, filepath.Join(src, "small"), senderMid[1][:500]) // same size, same mtime
			testutil.Eventually(t, "the rewrite of small arrives", arrived("small", senderMid[1][:500]))
			if code := g.stop(syscall.SIGTERM); code != 143 && code != 0 {
				t.Errorf("gsync exit %d", code)
			}
		})
	}
}

// TestFilesFromLive: a live mirror with --files-from pushes changes to
// the listed paths only (a new file in a listed directory arrives, one
// written before it elsewhere never does).
func TestFilesFromLive(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	testutil.MustMkdir(t, filepath.Join(src, "keep"))
	testutil.MustMkdir(t, filepath.Join(src, "other"))
	list := filepath.Join(base, "list")
	testutil.WriteFile(t, list, "keep\n")
	g := startGsync(t, nil, "--delay=0", "--files-from", list, src, dst)
	testutil.WriteFile(t, filepath.Join(src, "keep", "a"), "a")
	testutil.Eventually(t, "keep/a arrives", func() bool { return testutil.Exists(filepath.Join(dst, "keep", "a")) })
	testutil.WriteFile(t, filepath.Join(src, "other", "b"), "b")
	testutil.WriteFile(t, filepath.Join(src, "top"), "top")
	testutil.WriteFile(t, filepath.Join(src, "keep", "c"), "c")
	testutil.Eventually(t, "keep/c arrives", func() bool { return testutil.Exists(filepath.Join(dst, "keep", "c")) })
	for _, rel := range []string{"other", "top"} {
		if testutil.Exists(filepath.Join(dst, rel)) {
			t.Errorf("%s arrived, but only keep is listed", rel)
		}
	}
	if code := g.stop(syscall.SIGTERM); code != 143 && code != 0 {
		t.Errorf("gsync exit %d", code)
	}
}

// TestFilesFrom: gsync --files-from and rsync -r --files-from push the
// listed paths (a file deep down, a directory with all below it, a path
// written with a leading slash; comments and blank lines skipped) into
// targets that hold other entries, with --delete and an exclude that
// applies inside a listed directory: the targets must be equal.
func TestFilesFrom(t *testing.T) {
	t.Parallel()
	rsync := lookBinary(t, "rsync")
	if os.Geteuid() != 0 {
		t.Skip("needs root: the daemon modules run as root")
	}
	kinds := []senderKind{
		{name: "local", start: startFidelityLocal},
		rsyncd35Kind,
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			tg := k.start(t, []string{"gsync", "rsync"})
			g, r := tg["gsync"], tg["rsync"]
			base := t.TempDir()
			src := filepath.Join(base, "src")
			for _, rel := range []string{"a/b/f1", "a/b/f2", "a/c/g", "top.txt", "other.txt", "d/x", "d/e/y", "d/skip.tmp"} {
				p := filepath.Join(src, filepath.FromSlash(rel))
				testutil.Must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				writeAt(t, p, []byte(rel))
			}
			for _, dir := range []string{"a/b", "a/c", "a", "d/e", "d", "."} {
				testutil.Must(t, os.Chtimes(filepath.Join(src, dir), senderMtime, senderMtime))
			}
			list := filepath.Join(base, "list")
			testutil.WriteFile(t, list, "# the paths\na/b/f1\n\nd\n;another comment\n/top.txt\n")
			for _, dir := range []string{g.dir, r.dir} {
				for _, rel := range []string{"a/b/extra", "d/extra", "zzz", "d/keep.tmp"} {
					p := filepath.Join(dir, filepath.FromSlash(rel))
					testutil.Must(t, os.MkdirAll(filepath.Dir(p), 0o755))
					writeAt(t, p, []byte("target's own"))
				}
			}
			gargs := append(append([]string{}, g.gsyncArgs...), "--once", "--files-from", list, "--exclude=*.tmp", src, g.gsyncTarget)
			if code, out := runGsync(t, gargs...); code != 0 {
				t.Fatalf("gsync %q exit %d:\n%s", gargs, code, tail(out, 20))
			}
			rargs := append(append([]string{}, r.rsyncArgs...), "-r", "-a", "--delete", "--files-from="+list, "--exclude=*.tmp", src+"/", r.rsyncTarget)
			if code, out := runFidelityRsync(t, rsync, rargs...); code != 0 {
				t.Fatalf("rsync %q exit %d:\n%s", rargs, code, tail(out, 20))
			}
			opt := treediff.Options{CompareOwner: true, IgnoreRootMtime: true}
			fidelityEqual(t, r.dir, g.dir, opt, fmt.Sprintf("rsync %q", rargs), fmt.Sprintf("gsync %q", gargs))
			if err := all(present("a/b/f1"), absent("a/b/f2"), absent("a/c"), present("top.txt"), absent("other.txt"),
				present("d/e/y"), absent("d/extra"), present("a/b/extra"), present("zzz"), present("d/keep.tmp"), absent("d/skip.tmp"))(r.dir); err != nil {
				t.Errorf("rsync's target: %v: the comparison proves less than it should", err)
			}
		})
	}
}
