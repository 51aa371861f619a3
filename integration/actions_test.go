package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// actionsConfigs are configs whose actions append a line per event to
// a log: layer-1 shell strings (lsyncd hands the paths to /bin/sh as
// positional parameters, gsync too), and a layer-2 action function
// (spawnShell with event fields) next to a layer-1 onStartup.
var actionsConfigs = []struct {
	name string
	body string // %[1]q: the source, %[2]s: the log file
	want func(src, evil string) []string
}{
	{"layer1", `
  onStartup = [[echo startup ^source >> %[2]s]],
  onCreate = [[echo create ^pathname ^targetPathname >> %[2]s]],
  onModify = [[echo modify ^pathname >> %[2]s]],
  onAttrib = [[echo attrib ^pathname >> %[2]s]],
  onMove = [[echo move ^o.pathname ^d.targetPath >> %[2]s]],
  onDelete = [[echo delete ^sourcePath >> %[2]s]],`,
		func(src, evil string) []string {
			return []string{
				"startup " + src + "/",
				// lsyncd's paths start with "/" (getPath): target ..
				// path doubles the slash, and gsync does the same.
				"create d /t//d",
				"create d/" + evil + " /t//d/" + evil,
				"modify d/" + evil,
				"attrib d/" + evil,
				"move d/" + evil + " /t//d/" + evil + " moved",
				"delete " + src + "//d/" + evil + " moved",
				"delete " + src + "//d/",
			}
		}},
	{"layer2", `
  onStartup = [[echo startup ^source >> %[2]s]],
  onMove = true,
  action = function(inlet)
    local e, e2 = inlet.getEvent()
    if e.etype == "Move" then
      spawnShell(e, 'echo "$1" "$2" "$3" >> %[2]s', e.etype, e.pathname, e2.targetPathname)
      return
    end
    spawnShell(e, 'echo "$1" "$2" "$3" "$4" >> %[2]s', e.etype, e.path, e.sourcePathname, tostring(e.isdir))
  end,`,
		func(src, evil string) []string {
			return []string{
				"startup " + src + "/",
				"Create d/ " + src + "//d true",
				"Create d/" + evil + " " + src + "//d/" + evil + " false",
				"Modify d/" + evil + " " + src + "//d/" + evil + " false",
				"Attrib d/" + evil + " " + src + "//d/" + evil + " false",
				"Move d/" + evil + " /t//d/" + evil + " moved",
				"Delete d/" + evil + " moved " + src + "//d/" + evil + " moved false",
				"Delete d/ " + src + "//d true",
			}
		}},
}

// TestLsyncdActionsSideBySide runs each config of actionsConfigs under
// lsyncd 2.2.3 and under gsync, on the same source and the same events,
// each writing its own log: both logs must be what the config's actions
// say, line for line (lsyncd's own race on renames under load excepted
// for lsyncd, and logged). The file names carry spaces,
// quotes, $(...), backquotes and ";": neither tool may run them (no
// PWNED file appears in either's working directory).
func TestLsyncdActionsSideBySide(t *testing.T) {
	t.Parallel()
	lsyncd, err := exec.LookPath("lsyncd")
	if err != nil {
		t.Skip("lsyncd not installed: no side-by-side comparison")
	}
	for _, tc := range actionsConfigs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			actionsSideBySide(t, lsyncd, tc.body, tc.want)
		})
	}
}

func actionsSideBySide(t *testing.T, lsyncd, body string, want func(src, evil string) []string) {
	dir := t.TempDir()
	src, outside := filepath.Join(dir, "src"), filepath.Join(dir, "outside")
	cwdL, cwdG := filepath.Join(dir, "cwd-lsyncd"), filepath.Join(dir, "cwd-gsync")
	for _, d := range []string{src, outside, cwdL, cwdG} {
		testutil.MustMkdir(t, d)
	}
	logL, logG := filepath.Join(dir, "lsyncd.log"), filepath.Join(dir, "gsync.log")
	config := func(logf string) string {
		return writeConfig(t, fmt.Sprintf("settings { nodaemon = true }\nsync { source = %[1]q, target = \"/t/\","+body+"\n}\n", src, logf))
	}

	cmd := exec.Command(lsyncd, "-nodaemon", config(logL))
	cmd.Dir = cwdL
	lp, _ := startLsyncdCmd(t, cmd)
	gcmd := exec.Command(gsyncBin, config(logG))
	gcmd.Dir = cwdG
	g := startProc(t, gcmd)

	lines := func(p string) []string {
		b, _ := os.ReadFile(p)
		if len(b) == 0 {
			return nil
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	evil := `a b'c"d $(touch PWNED);e` + "`touch PWNED2`;x"
	wantLines := want(src, evil)
	n, batches := 0, 0
	// Each step waits for its lines in both logs, and for gsync's batch
	// to end, which keeps the events of two steps from meeting in one
	// queue (gsync splits a move of a path whose event is still in
	// flight into its Delete and Create; lsyncd waits and keeps it).
	step := func(what string, add int, do func()) {
		t.Helper()
		do()
		n += add
		if what != "startup" {
			batches++
		}
		testutil.Eventually(t, what+": both logs have the lines", func() bool {
			return len(lines(logL)) >= n && len(lines(logG)) >= n &&
				strings.Count(g.out.String(), `msg="batch done"`) >= batches
		})
	}
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
	// One delete at a time: queued together, gsync runs one onDelete for
	// the directory, lsyncd one for each (README, lsyncd actions).
	step("delete file", 1, func() { testutil.Must(t, os.Remove(filepath.Join(src, "d", evil+" moved"))) })
	step("delete dir", 1, func() { testutil.Must(t, os.Remove(filepath.Join(src, "d"))) })
	// When lsyncd split the move (below), its log ran a line ahead of
	// the count the steps waited for: wait for its last line too.
	testutil.Eventually(t, "lsyncd's log ends with the last step's line", func() bool {
		l := lines(logL)
		return len(l) > 0 && l[len(l)-1] == wantLines[len(wantLines)-1]
	})

	gotL, gotG := lines(logL), lines(logG)
	join := func(l []string) string { return strings.Join(l, "\n") }
	if join(gotL) != join(wantLines) {
		// lsyncd is the reference, not under test: under load it can
		// read a rename's two halves apart and run it as a delete and a
		// create (its own race); that is logged, anything else fails.
		mv := slices.IndexFunc(wantLines, func(l string) bool { return strings.HasPrefix(strings.ToLower(l), "move") })
		split := len(gotL) == len(wantLines)+1 && mv > 0 &&
			join(gotL[:mv]) == join(wantLines[:mv]) && join(gotL[mv+2:]) == join(wantLines[mv+1:])
		if split {
			t.Logf("lsyncd ran the move as a delete and a create (its race between the halves of a rename):\n%s", join(gotL[mv:mv+2]))
		} else {
			t.Errorf("lsyncd's log:\n%s\nwant:\n%s", join(gotL), join(wantLines))
		}
	}
	// gsync must do what lsyncd does when lsyncd does not trip over its
	// own race: the same lines, in the same order.
	if join(gotG) != join(wantLines) {
		t.Errorf("gsync's log differs from lsyncd's behaviour:\ngsync:\n%s\nwant (lsyncd's, without its race):\n%s\nlsyncd's this time:\n%s", join(gotG), join(wantLines), join(gotL))
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
// output gsync logs. lsyncd's layer-2 examples that 2.2.3 itself refuses
// (limagemagic.lua) or that reach into its rsync internals (lpostcmd.lua)
// are refused with lsyncd's exit code and a message naming the key.
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
		// lsyncd 2.2.3 refuses it too: 'Parameter "collapse" unknown'.
		{"limagemagic.lua", `limagemagic.lua:118: sync{}: unknown key "collapse"`},
		// It hands events on to default.rsync.action and makes blanket
		// events: lsyncd's rsync internals.
		{"lpostcmd.lua", `"action" on default.rsync: gsync runs action and collect functions in a sync without default.rsync`},
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
			// Planted after the startup sync ended: its own delete pass
			// would remove the file too.
			testutil.Eventually(t, "startup sync", func() bool { return strings.Contains(g.out.String(), `msg="full sync done"`) })
			testutil.WriteFile(t, filepath.Join(dst, "planted"), "drift")
			testutil.Eventually(t, "the planted file deleted by a scheduled full sync", func() bool {
				return !testutil.Exists(filepath.Join(dst, "planted"))
			})
			// The line is logged before that sync runs, but reaches the
			// buffer through gsync's stderr pipe: wait for it, too.
			testutil.Eventually(t, "a log line about the scheduled full sync", func() bool {
				return strings.Contains(g.out.String(), "scheduled full sync (crontab)")
			})
			if code := g.stop(syscall.SIGTERM); code != 143 {
				t.Errorf("exit code %d after SIGTERM, want 143", code)
			}
		})
	}
}

// TestActionsCheckExplain: gsync check says which program each action
// runs (without running it), and gsync explain what a change of a path
// runs, with the path filled in; a missing program is the check's error.
func TestActionsCheckExplain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	testutil.MustMkdir(t, src)
	conf := writeConfig(t, fmt.Sprintf(`sync { source = %q, target = "/t/",
  onCreate = [[touch %s/RAN; echo ^pathname]], onMove = "/bin/mv ^o.targetPath ^d.targetPath" }
sync { source = %q, onDelete = "/no/such/program ^pathname" }
sync { default.direct, source = %q, target = %q, crontab = { "@hourly" } }`, src, dir, src, src, filepath.Join(dir, "copy")))
	code, out := runGsync(t, "check", "--config", conf)
	if code == 0 || !strings.Contains(out, "checked: onCreate runs /bin/sh") || !strings.Contains(out, "/no/such/program is not an executable file") {
		t.Errorf("check: exit %d, output:\n%s", code, out)
	}
	if testutil.Exists(filepath.Join(dir, "RAN")) {
		t.Error("check ran an action")
	}
	code, out = runGsync(t, "explain", "--config", conf, "a b")
	for _, want := range []string{
		`Create: onCreate runs ["/bin/sh" "-c" "touch ` + dir + `/RAN; echo \"$1\"" "/bin/sh" "a b"]`,
		`Move: onMove runs ["/bin/mv" "/t//a b" "/t//NEW-NAME"]`,
		`Delete: onDelete runs ["/no/such/program" "a b"]`,
		`a full sync also runs at the times of ["@hourly"] (crontab, --full-sync-cron)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain: no %q in (exit %d):\n%s", want, code, out)
		}
	}
}

// TestLsyncdBashExampleSideBySide runs lsyncd's own layer-1 example,
// lbash.lua (cp, rm and mv through /bin/sh on every event), under
// lsyncd 2.2.3 and under gsync, unchanged but for its paths (its source,
// its target, its log and status files) and its misspelt
// "statusIntervall", which both refuse as it is: the same events on one
// source leave the two targets equal to the source and to each other
// (names, types, contents; cp -r keeps neither modes nor mtimes).
func TestLsyncdBashExampleSideBySide(t *testing.T) {
	t.Parallel()
	lsyncd, err := exec.LookPath("lsyncd")
	if err != nil {
		t.Skip("lsyncd not installed: no side-by-side comparison")
	}
	text, err := os.ReadFile(lsyncdExample(t, "lbash.lua"))
	testutil.Must(t, err)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	testutil.MustMkdir(t, src)
	testutil.WriteFile(t, filepath.Join(src, "before"), "there at startup")
	type run struct {
		name, dst string
		p         *gsyncProc
	}
	var runs []*run
	for _, tool := range []string{"lsyncd", "gsync"} {
		r := &run{name: tool, dst: filepath.Join(dir, "dst-"+tool)}
		testutil.MustMkdir(t, r.dst)
		conf := string(text)
		for old, repl := range map[string]string{
			`source="src"`:           fmt.Sprintf("source=%q", src),
			`target="/path/to/trg/"`: fmt.Sprintf("target=%q", r.dst+"/"),
			`"/tmp/lsyncd.log"`:      fmt.Sprintf("%q", filepath.Join(dir, tool+".log")),
			`"/tmp/lsyncd.stat"`:     fmt.Sprintf("%q", filepath.Join(dir, tool+".stat")),
		} {
			if !strings.Contains(conf, old) {
				t.Fatalf("lbash.lua has no %s: the example changed", old)
			}
			conf = strings.ReplaceAll(conf, old, repl)
		}
		bin, pre := gsyncBin, []string{}
		if tool == "lsyncd" {
			bin, pre = lsyncd, []string{"-nodaemon"}
		}
		// As shipped, both refuse the example, naming the setting.
		out, err := exec.Command(bin, append(pre, writeConfig(t, conf))...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), `"statusIntervall" unknown`) {
			t.Errorf("%s took lbash.lua's statusIntervall (%v):\n%s", tool, err, out)
		}
		conf = strings.Replace(conf, "statusIntervall", "statusInterval", 1)
		cmd := exec.Command(bin, append(pre, writeConfig(t, conf))...)
		cmd.Dir = dir
		r.p = startProc(t, cmd)
		runs = append(runs, r)
	}
	opts := treediff.Options{MtimeGranularity: -1, SkipModes: true, IgnoreRootMode: true}
	// lsyncd may still hold events when its target already equals the
	// source: when it takes a directory move as a delete and a create,
	// the create's cp -r copies the whole directory and the creates its
	// scan of the new directory raised for every entry (inotify.lua,
	// addWatch) run after it, one at a time (maxProcesses = 1). A next
	// step deleting those entries then fails their cp, and lsyncd exits
	// on that "critical exitcode" (failed once here). So lsyncd has
	// converged only when every command it spawned has ended and its
	// output did not move while the trees were compared (it spawns the
	// next queued command right after logging the last one's end).
	idle := func(out string) bool {
		return strings.Count(out, " spawns shell ") == strings.Count(out, " Finished ")+
			strings.Count(out, " Failure with ")+strings.Count(out, " Startup of ")
	}
	converged := func(what string) {
		t.Helper()
		for _, r := range runs {
			testutil.Eventually(t, what+": "+r.name+"'s target equals the source", func() bool {
				before := r.p.out.String()
				if r.name == "lsyncd" && !idle(before) {
					return false
				}
				same, err := treediff.Same(src, r.dst, opts)
				return err == nil && same && (r.name != "lsyncd" || r.p.out.String() == before)
			})
		}
	}
	converged("startup")
	testutil.MustMkdir(t, filepath.Join(src, "dir", "sub"))
	testutil.WriteFile(t, filepath.Join(src, "dir", "sub", "new file"), "new")
	testutil.WriteFile(t, filepath.Join(src, "top"), "top")
	converged("creates")
	testutil.WriteFile(t, filepath.Join(src, "top"), "top, rewritten")
	testutil.Must(t, os.Rename(filepath.Join(src, "before"), filepath.Join(src, "dir", "after")))
	converged("modify and move")
	testutil.Must(t, os.Rename(filepath.Join(src, "dir"), filepath.Join(src, "dir moved")))
	converged("directory move")
	testutil.Must(t, os.RemoveAll(filepath.Join(src, "dir moved", "sub")))
	testutil.Must(t, os.Remove(filepath.Join(src, "top")))
	converged("deletes")
	if d, err := treediff.Compare(runs[0].dst, runs[1].dst, opts); err != nil || len(d) > 0 {
		t.Errorf("lsyncd's and gsync's targets differ: %v %v", d, err)
	}
	for _, r := range runs {
		if code := r.p.stop(syscall.SIGTERM); r.name == "gsync" && code != 143 {
			t.Errorf("gsync exit code %d after SIGTERM, want 143", code)
		}
	}
}
