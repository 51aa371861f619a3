package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// actionsConfig is a layer-1 config whose actions append a line per
// event to logf, in shell form: lsyncd hands the paths to /bin/sh as
// positional parameters, gsync too.
func actionsConfig(t *testing.T, src, logf string) string {
	return writeConfig(t, fmt.Sprintf(`settings { nodaemon = true }
sync {
  source = %[1]q, target = "/t/",
  onStartup = [[echo startup ^source >> %[2]s]],
  onCreate = [[echo create ^pathname ^targetPathname >> %[2]s]],
  onModify = [[echo modify ^pathname >> %[2]s]],
  onAttrib = [[echo attrib ^pathname >> %[2]s]],
  onMove = [[echo move ^o.pathname ^d.targetPath >> %[2]s]],
  onDelete = [[echo delete ^sourcePath >> %[2]s]],
}
`, src, logf))
}

// TestLsyncdActionsSideBySide runs one layer-1 config (onStartup,
// onCreate, onModify, onAttrib, onMove, onDelete as shell strings) under
// lsyncd 2.2.3 and under gsync, on the same source and the same events,
// each writing its own log: the two logs must be the same, line for
// line. The file names carry spaces, quotes, $(...), backquotes and ";":
// neither tool may run them (no PWNED file appears in either's working
// directory).
func TestLsyncdActionsSideBySide(t *testing.T) {
	t.Parallel()
	lsyncd, err := exec.LookPath("lsyncd")
	if err != nil {
		t.Skip("lsyncd not installed: no side-by-side comparison")
	}
	dir := t.TempDir()
	src, outside := filepath.Join(dir, "src"), filepath.Join(dir, "outside")
	cwdL, cwdG := filepath.Join(dir, "cwd-lsyncd"), filepath.Join(dir, "cwd-gsync")
	for _, d := range []string{src, outside, cwdL, cwdG} {
		testutil.MustMkdir(t, d)
	}
	logL, logG := filepath.Join(dir, "lsyncd.log"), filepath.Join(dir, "gsync.log")

	cmd := exec.Command(lsyncd, "-nodaemon", actionsConfig(t, src, logL))
	cmd.Dir = cwdL
	lout := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = lout, lout
	lp, err := startProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lp.stop()
		if t.Failed() {
			t.Logf("lsyncd output:\n%s", tail(lout.String(), 40))
		}
	})
	gcmd := exec.Command(gsyncBin, actionsConfig(t, src, logG))
	gcmd.Dir = cwdG
	g := startProc(t, gcmd)

	lines := func(p string) []string {
		b, _ := os.ReadFile(p)
		if len(b) == 0 {
			return nil
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	n := 0
	step := func(what string, add int, do func()) {
		t.Helper()
		do()
		n += add
		testutil.Eventually(t, what+": both logs have the lines", func() bool {
			return len(lines(logL)) >= n && len(lines(logG)) >= n
		})
	}
	evil := `a b'c"d $(touch PWNED);e` + "`touch PWNED2`;x"
	step("startup", 1, func() {})
	step("mkdir", 1, func() { testutil.MustMkdir(t, filepath.Join(src, "d")) })
	step("create", 1, func() {
		// Moved in from outside: one Create for both (lsyncd 2.2.3 does
		// not merge a Create and the Modify of its close-write).
		testutil.WriteFile(t, filepath.Join(outside, "f"), "one")
		testutil.Must(t, os.Rename(filepath.Join(outside, "f"), filepath.Join(src, "d", evil)))
	})
	step("modify", 1, func() {
		f, err := os.OpenFile(filepath.Join(src, "d", evil), os.O_WRONLY|os.O_TRUNC, 0)
		testutil.Must(t, err)
		_, err = f.WriteString("two")
		testutil.Must(t, err)
		testutil.Must(t, f.Close())
	})
	step("attrib", 1, func() { testutil.Must(t, os.Chmod(filepath.Join(src, "d", evil), 0o600)) })
	step("move", 1, func() {
		testutil.Must(t, os.Rename(filepath.Join(src, "d", evil), filepath.Join(src, "d", evil+" moved")))
	})
	step("delete", 2, func() {
		testutil.Must(t, os.Remove(filepath.Join(src, "d", evil+" moved")))
		testutil.Must(t, os.Remove(filepath.Join(src, "d")))
	})

	want := []string{
		"startup " + src + "/",
		// lsyncd's paths start with "/" (getPath): target .. path
		// doubles the slash, and gsync does the same.
		"create d /t//d",
		"create d/" + evil + " /t//d/" + evil,
		"modify d/" + evil,
		"attrib d/" + evil,
		"move d/" + evil + " /t//d/" + evil + " moved",
		"delete " + src + "//d/" + evil + " moved",
		"delete " + src + "//d/",
	}
	gotL, gotG := lines(logL), lines(logG)
	if strings.Join(gotL, "\n") != strings.Join(want, "\n") {
		t.Errorf("lsyncd's log:\n%s\nwant:\n%s", strings.Join(gotL, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(gotG, "\n") != strings.Join(gotL, "\n") {
		t.Errorf("gsync's log differs from lsyncd's:\ngsync:\n%s\nlsyncd:\n%s", strings.Join(gotG, "\n"), strings.Join(gotL, "\n"))
	}
	for _, d := range []string{cwdL, cwdG, src, outside, "/"} {
		for _, p := range []string{"PWNED", "PWNED2"} {
			if _, err := os.Stat(filepath.Join(d, p)); err == nil {
				t.Errorf("a file name ran as shell code: %s exists", filepath.Join(d, p))
			}
		}
	}
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("gsync exit code %d after SIGTERM, want 143", code)
	}
	testutil.Must(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-lp.done:
	case <-time.After(20 * time.Second):
		t.Error("lsyncd did not stop after SIGTERM")
	}
}

// lsyncdExample returns the path of one of lsyncd's own example configs
// as the lsyncd package installs them, or skips the test.
func lsyncdExample(t *testing.T, name string) string {
	p := filepath.Join("/usr/share/doc/lsyncd/examples", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("lsyncd's examples are not installed: %v", err)
	}
	return p
}

// TestLsyncdActionExamples runs lsyncd's lecho.lua unchanged (its source
// is "src" in the working directory): each event runs /bin/echo, whose
// output gsync logs. lsyncd's layer-2 examples (action = function) are
// refused with lsyncd's exit code and a message naming the key.
func TestLsyncdActionExamples(t *testing.T) {
	t.Parallel()
	t.Run("lecho", func(t *testing.T) {
		t.Parallel()
		conf := lsyncdExample(t, "lecho.lua")
		dir := t.TempDir()
		testutil.MustMkdir(t, filepath.Join(dir, "src"))
		cmd := exec.Command(gsyncBin, conf)
		cmd.Dir = dir
		g := startProc(t, cmd)
		testutil.Eventually(t, "onStartup ran", func() bool {
			return strings.Contains(g.out.String(), `output="telling about `+dir+`/src/"`)
		})
		testutil.WriteFile(t, filepath.Join(dir, "src", "hello world"), "x")
		testutil.Eventually(t, "onCreate ran", func() bool {
			return strings.Contains(g.out.String(), `output="create hello world"`)
		})
		testutil.Must(t, os.Rename(filepath.Join(dir, "src", "hello world"), filepath.Join(dir, "src", "bye")))
		testutil.Eventually(t, "onMove ran", func() bool {
			return strings.Contains(g.out.String(), `output="move hello world -> bye"`)
		})
		if code := g.stop(syscall.SIGTERM); code != 143 {
			t.Errorf("exit code %d after SIGTERM, want 143", code)
		}
	})
	for _, tc := range []struct{ file, want string }{
		{"limagemagic.lua", `"action" is an lsyncd layer-2/3 hook`},
		{"lpostcmd.lua", `"action" is an lsyncd layer-2/3 hook`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			conf := lsyncdExample(t, tc.file)
			code, out := runGsyncIn(t, t.TempDir(), nil, conf)
			if code != 255 || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, output %q; want 255 and %q", code, out, tc.want)
			}
		})
	}
}

// TestCrontabFullSync: lsyncd 2.3's crontab key and --full-sync-cron run
// full syncs on their schedule (here every second, six fields with
// seconds first as lsyncd 2.3 writes them): a file planted on the target
// behind gsync's back is deleted by the next one, which is logged.
func TestCrontabFullSync(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	for _, how := range []string{"config", "flag"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
			testutil.MustMkdir(t, src)
			testutil.WriteFile(t, filepath.Join(src, "a"), "a")
			var g *gsyncProc
			if how == "config" {
				g = startGsync(t, nil, writeConfig(t, fmt.Sprintf(`sync { default.direct, source = %q, target = %q, delay = 0,
  crontab = { "* * * * * *" } }`, src, dst)))
			} else {
				g = startGsync(t, nil, "--delay", "0", "--full-sync-cron", "* * * * * *", src, dst)
			}
			testutil.Eventually(t, "startup sync", func() bool { return testutil.Exists(filepath.Join(dst, "a")) })
			testutil.WriteFile(t, filepath.Join(dst, "planted"), "drift")
			testutil.Eventually(t, "the planted file deleted by a scheduled full sync", func() bool {
				return !testutil.Exists(filepath.Join(dst, "planted"))
			})
			if !strings.Contains(g.out.String(), "scheduled full sync (crontab)") {
				t.Errorf("no log line about the scheduled full sync")
			}
			if code := g.stop(syscall.SIGTERM); code != 143 {
				t.Errorf("exit code %d after SIGTERM, want 143", code)
			}
		})
	}
}
