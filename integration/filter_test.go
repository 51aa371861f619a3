package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// filterTree writes the source tree of the filter tests.
func filterTree(t *testing.T, src string) {
	for _, f := range []string{"a.c", "a.o", "keep/k.o", "build/out", "build/sub/x.c", "logs/x.log", "docs/a.md", "docs/tmp/t",
		"docs/sub/n.txt", "docs/sub/m.txt"} {
		testutil.WriteRel(t, src, f)
	}
	testutil.WriteFile(t, filepath.Join(src, ".rsync-filter"), "- *.log\n")
	// A dir-merge rule in a per-directory file: docs/sub/.more counts.
	testutil.WriteFile(t, filepath.Join(src, "docs/.rsync-filter"), "- tmp/\n: .more\n")
	testutil.WriteFile(t, filepath.Join(src, "docs/sub/.more"), "- n.txt\n")
	testutil.WriteFile(t, filepath.Join(src, "build/.cvsignore"), "old out\n")
}

// filterTargetExtras writes what only the targets have: each rule set
// decides which of them a --delete keeps.
func filterTargetExtras(t *testing.T, dst string) {
	for _, f := range []string{"a.o", "gone.o", "gone.c", "keep/gone.o", "build/old", "logs/old.log", "docs/tmp/old", "x.log"} {
		testutil.WriteRel(t, dst, f)
	}
}

// TestFilterRulesMatchRsync pushes one tree with gsync and with C rsync,
// the same rsync filter options, into fresh targets holding the same
// extra files (an rsync daemon's modules, local directories, and sshd
// with rsync --server against C rsync's local push), and
// requires equal targets: what is sent, hidden, protected and deleted.
func TestFilterRulesMatchRsync(t *testing.T) {
	t.Parallel()
	rsync := lookBinary(t, "rsync")
	// localKeeps: the local target reads per-directory files at the
	// source, so what they exclude is kept on the first push too; C
	// rsync's receiver reads them at the target, where they do not
	// exist yet when it deletes, and deletes it (README: Filters).
	cases := []struct {
		name       string
		args       []string
		localKeeps []string
	}{
		{"exclude include", []string{"--include", "*/", "--include", "*.c", "--exclude", "*"}, nil},
		{"protect hide", []string{"--filter", "P /build/", "--filter", "H *.o", "--filter", "S /keep/***"}, nil},
		{"triple star", []string{"--filter", "+ /docs/***", "--filter", "- /*"}, nil},
		{"F", []string{"-F"}, []string{"docs/tmp", "logs/old.log", "x.log"}},
		{"FF and rules", []string{"-FF", "--exclude", "*.o", "--filter", "-r gone.c"}, []string{"docs/tmp", "logs/old.log", "x.log"}},
		{"C", []string{"-C"}, []string{"build/old"}},
		{"C rule and modifier", []string{"--filter", ":C", "--filter", "-C", "--filter", "+ *.o"}, []string{"build/old"}},
		{"delete-excluded", []string{"--delete-excluded", "-F", "-C", "--filter", "P /keep/***", "--exclude", "*.c", "--filter", "-r x.log"}, nil},
	}
	work := t.TempDir()
	var mods []Module
	for i := range cases {
		for _, who := range []string{"g", "r"} {
			dir := filepath.Join(work, who+itoa(i))
			testutil.MustMkdir(t, dir)
			filterTargetExtras(t, dir)
			mods = append(mods, Module{Name: who + itoa(i), Path: dir})
		}
	}
	d := StartRsyncDaemon(t, Config{Modules: mods})
	s := startSSHPeer(t)
	src := filepath.Join(work, "src")
	filterTree(t, src)
	opt := treediff.Options{MtimeGranularity: -1}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Daemon targets.
			g, r := filepath.Join(work, "g"+itoa(i)), filepath.Join(work, "r"+itoa(i))
			args := append(append([]string{"--once", "--delete", "true"}, tc.args...), src, d.URL("g"+itoa(i)))
			if code, out := runGsync(t, args...); code != 0 {
				t.Fatalf("gsync %q: exit %d\n%s", args, code, out)
			}
			rargs := append(append([]string{"-a", "--delete"}, tc.args...), src+"/", d.URL("r"+itoa(i))+"/")
			if out, err := exec.Command(rsync, rargs...).CombinedOutput(); err != nil {
				t.Fatalf("rsync %q: %v\n%s", rargs, err, out)
			}
			if diffs, err := treediff.Compare(r, g, opt); err != nil || len(diffs) > 0 {
				t.Errorf("daemon: gsync's target differs from rsync's (%v): %v", err, diffs)
			}
			// Local targets.
			lg, lr := filepath.Join(work, "lg"+itoa(i)), filepath.Join(work, "lr"+itoa(i))
			for _, dir := range []string{lg, lr} {
				testutil.MustMkdir(t, dir)
				filterTargetExtras(t, dir)
			}
			args = append(append([]string{"--once", "--delete", "true"}, tc.args...), src, lg)
			if code, out := runGsync(t, args...); code != 0 {
				t.Fatalf("gsync %q: exit %d\n%s", args, code, out)
			}
			rargs = append(append([]string{"-a", "--delete"}, tc.args...), src+"/", lr+"/")
			if out, err := exec.Command(rsync, rargs...).CombinedOutput(); err != nil {
				t.Fatalf("rsync %q: %v\n%s", rargs, err, out)
			}
			for _, p := range tc.localKeeps {
				if !testutil.Exists(filepath.Join(lg, p)) {
					t.Errorf("local: %s, excluded by a per-directory file, was deleted", p)
				}
				testutil.Must(t, os.RemoveAll(filepath.Join(lg, p)))
			}
			if diffs, err := treediff.Compare(lr, lg, opt); err != nil || len(diffs) > 0 {
				t.Errorf("local: gsync's target differs from rsync's (%v): %v", err, diffs)
			}
			// An ssh target: the remote rsync receiver deletes, with the
			// rules gsync sends, like C rsync's receiver of the local
			// push (lr, before the local target's differences).
			sg := filepath.Join(work, "sg"+itoa(i))
			testutil.MustMkdir(t, sg)
			filterTargetExtras(t, sg)
			args = append(append(append([]string{"--once", "--delete", "true"}, sshArgs(s)...), tc.args...), src, "127.0.0.1:"+sg)
			if code, out := runGsync(t, args...); code != 0 {
				t.Fatalf("gsync %q: exit %d\n%s", args, code, out)
			}
			if diffs, err := treediff.Compare(lr, sg, opt); err != nil || len(diffs) > 0 {
				t.Errorf("ssh: gsync's target differs from rsync's (%v): %v", err, diffs)
			}
		})
	}
}

// TestRsyncFilterFileLive edits a .rsync-filter file while gsync runs
// with -F, pushing to a local directory and to an rsync daemon: what
// became included is pushed, what became excluded stays on the target
// (the daemon's receiver reads its copy of the file when it deletes, so
// the file must arrive before the directory is pushed again) and is no
// longer updated.
func TestRsyncFilterFileLive(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	src := filepath.Join(work, "src")
	// rsync -F would read this one too (above the transfer root): gsync
	// says it does not.
	testutil.WriteFile(t, filepath.Join(work, ".rsync-filter"), "- *.txt\n")
	out := filterFileLive(t, work, ".rsync-filter", "- *.log\n", "- *.txt\n", func(dst, url string) *gsyncProc {
		return startGsync(t, nil, "--delay", "0", "-F", src, dst, url)
	})
	if !strings.Contains(out, "per-directory filter file above the source left out") ||
		!strings.Contains(out, filepath.Join(work, ".rsync-filter")) {
		t.Errorf("no warning about %s:\n%s", filepath.Join(work, ".rsync-filter"), out)
	}
}

// TestCVSIgnoreLive: with -C, a directory's .cvsignore excludes its
// words there (rsync's ":C" rule); when it changes while gsync runs, its
// directory is read and pushed again, as for .rsync-filter: what became
// included arrives, what became excluded stays on the target as it was.
// A local and a daemon target.
func TestCVSIgnoreLive(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	src := filepath.Join(work, "src")
	testutil.WriteFile(t, filepath.Join(src, "d/e/c.log"), "not ignored below d")
	filterFileLive(t, work, ".cvsignore", "*.log\n", "notes *.txt\n", func(dst, url string) *gsyncProc {
		g := startGsync(t, []string{"HOME=" + work, "CVSIGNORE="}, "--delay", "0", "-C", src, dst, url)
		for _, root := range []string{dst, filepath.Join(work, "mod")} {
			testutil.Eventually(t, "d/e/c.log pushed to "+root, func() bool { return testutil.Exists(filepath.Join(root, "d/e/c.log")) })
		}
		return g
	})
}

// filterFileLive runs the live edit of a per-directory filter file: in
// work/src, d/NAME holds logRule (which excludes *.log) beside d/a.log
// and d/b.txt; start runs gsync pushing src to work/dst and to a daemon
// module (work/mod, at url). Once b.txt has arrived without a.log, d/NAME
// becomes txtRule (which excludes *.txt instead): a.log must arrive, and
// after b.txt changes and d/new.log appears, new.log must arrive while
// b.txt stays as it was on both targets. It stops gsync and returns its
// output.
func filterFileLive(t *testing.T, work, name, logRule, txtRule string, start func(dst, url string) *gsyncProc) string {
	t.Helper()
	src, dst, mod := filepath.Join(work, "src"), filepath.Join(work, "dst"), filepath.Join(work, "mod")
	testutil.MustMkdir(t, dst)
	testutil.MustMkdir(t, mod)
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: mod}}})
	testutil.WriteFile(t, filepath.Join(src, "d", name), logRule)
	testutil.WriteFile(t, filepath.Join(src, "d/a.log"), "log")
	testutil.WriteFile(t, filepath.Join(src, "d/b.txt"), "txt")
	g := start(dst, d.URL("m"))
	for _, root := range []string{dst, mod} {
		testutil.Eventually(t, "d/b.txt pushed to "+root, func() bool { return testutil.Exists(filepath.Join(root, "d/b.txt")) })
		if testutil.Exists(filepath.Join(root, "d/a.log")) {
			t.Fatalf("%s: d/a.log pushed although excluded by d/%s", root, name)
		}
	}
	// Include *.log, exclude *.txt.
	testutil.WriteFile(t, filepath.Join(src, "d", name), txtRule)
	for _, root := range []string{dst, mod} {
		testutil.Eventually(t, "d/a.log pushed to "+root+" after d/"+name+" changed", func() bool {
			return testutil.Exists(filepath.Join(root, "d/a.log"))
		})
	}
	testutil.WriteFile(t, filepath.Join(src, "d/b.txt"), "changed")
	testutil.WriteFile(t, filepath.Join(src, "d/new.log"), "new")
	for _, root := range []string{dst, mod} {
		testutil.Eventually(t, "d/new.log pushed to "+root, func() bool { return testutil.Exists(filepath.Join(root, "d/new.log")) })
		if got, err := os.ReadFile(filepath.Join(root, "d/b.txt")); err != nil || string(got) != "txt" {
			t.Errorf("%s: d/b.txt, now excluded: %q, %v; want it kept unchanged (\"txt\")", root, got, err)
		}
	}
	if code := g.stop(15); code != 143 && code != 0 {
		t.Errorf("gsync exit %d", code)
	}
	return g.out.String()
}
