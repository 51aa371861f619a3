package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/internal/testutil"
)

// hookScript is the --on-push hook of these tests: it appends a record of
// each run (kind, GSYNC_FILES, target) and its stdin to OUT.
const hookScript = `out=$1
{ echo "=== $GSYNC_KIND $GSYNC_FILES $GSYNC_TARGET"; cat; } >>"$out"
`

// hookRecord is one run of hookScript.
type hookRecord struct {
	kind, target string
	files        int
	lines        []map[string]any
}

// readHookRecords parses the records hookScript wrote to out.
func readHookRecords(t *testing.T, out string) []hookRecord {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var recs []hookRecord
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case l == "":
		case strings.HasPrefix(l, "=== "):
			var r hookRecord
			if _, err := fmt.Sscanf(l, "=== %s %d %s", &r.kind, &r.files, &r.target); err != nil {
				t.Fatalf("record %q: %v", l, err)
			}
			recs = append(recs, r)
		case len(recs) > 0:
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("stdin line %q: %v", l, err)
			}
			recs[len(recs)-1].lines = append(recs[len(recs)-1].lines, m)
		}
	}
	return recs
}

// TestHooksRealPeers: on a local, an rsync 3.5.0 daemon and an sshd
// target, an --on-push hook runs after the startup full sync and after
// every batch, and sees exactly the paths that were pushed (with their
// change and size), and the status counts its runs; a second hook that
// hangs is killed at --on-push-timeout, counted as failed, and the
// mirror goes on.
func TestHooksRealPeers(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	type peer struct {
		name   string
		target func(t *testing.T) (dst string, args []string)
	}
	peers := []peer{
		{"local", func(t *testing.T) (string, []string) {
			dst := filepath.Join(t.TempDir(), "dst")
			return dst, []string{dst}
		}},
		{"daemon", func(t *testing.T) (string, []string) {
			dir := filepath.Join(t.TempDir(), "module")
			d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir}}})
			return dir, []string{d.URL("m")}
		}},
		{"ssh", func(t *testing.T) (string, []string) {
			s := startSSHPeer(t)
			dst := filepath.Join(t.TempDir(), "dst")
			return dst, append(sshArgs(s), "127.0.0.1:"+dst)
		}},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			dst, targetArgs := p.target(t)
			src, work := t.TempDir(), t.TempDir()
			testutil.WriteFile(t, filepath.Join(src, "first"), "1")
			script, out := filepath.Join(work, "hook.sh"), filepath.Join(work, "out")
			testutil.WriteFile(t, script, hookScript)
			hangPid := filepath.Join(work, "hang.pid")
			hang := fmt.Sprintf(`/bin/sh -c 'echo $$ >%s; exec sleep 60'`, hangPid)
			sock := filepath.Join(work, "gsync.sock")
			maddr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
			args := append([]string{"--delay", "0.2", "--control-socket", sock, "--metrics-addr", maddr,
				"--on-push", "/bin/sh " + script + " " + out, "--on-push", hang, "--on-push-timeout", "1s", src}, targetArgs...)
			g := startGsync(t, nil, args...)
			sshWaitEqual(t, src, dst, 60*time.Second)
			testutil.Eventually(t, "the full sync's hook", func() bool { return len(readHookRecords(t, out)) == 1 })
			if r := readHookRecords(t, out)[0]; r.kind != "fullsync" || r.files != 0 || len(r.lines) != 0 {
				t.Errorf("full sync record %+v", r)
			}

			// One batch: two new files, a new directory with a file, a changed file.
			testutil.WriteFile(t, filepath.Join(src, "a.txt"), "hello")
			testutil.MustMkdir(t, filepath.Join(src, "dir"))
			testutil.WriteFile(t, filepath.Join(src, "dir", "b"), "0123456789")
			testutil.WriteFile(t, filepath.Join(src, "first"), "22")
			sshWaitEqual(t, src, dst, 60*time.Second)
			testutil.Must(t, os.Remove(filepath.Join(src, "a.txt")))
			sshWaitEqual(t, src, dst, 60*time.Second)
			st := waitStatus(t, sock, 30*time.Second, "the hooks of every push", func(s control.Status) bool {
				tg := s.Targets[0]
				return tg.HookRuns >= 6 && tg.HookRuns == 2*int64(len(readHookRecords(t, out))) && tg.Queue == 0 && tg.InFlight == 0
			})
			recs := readHookRecords(t, out)
			pushed := map[string]map[string]any{}
			var deleted []string
			for _, r := range recs[1:] {
				if r.kind != "batch" || r.files != len(r.lines) || r.target != targetArgs[len(targetArgs)-1] {
					t.Errorf("batch record %+v", r)
				}
				for _, l := range r.lines {
					if l["change"] == "delete" {
						deleted = append(deleted, l["path"].(string))
						continue
					}
					pushed[l["path"].(string)] = l
				}
			}
			var names []string
			for n := range pushed {
				names = append(names, n)
			}
			slices.Sort(names)
			if want := []string{"a.txt", "dir", "dir/b", "first"}; !slices.Equal(names, want) {
				t.Errorf("the hooks saw pushes of %q, want %q (records %+v)", names, want, recs)
			}
			if l := pushed["dir/b"]; l != nil && (l["size"] != 10.0 || l["type"] != "file") {
				t.Errorf("dir/b line %v, want size 10, type file", l)
			}
			if !slices.Equal(deleted, []string{"a.txt"}) {
				t.Errorf("the hooks saw deletes of %q, want a.txt", deleted)
			}
			tg := st.Targets[0]
			if tg.HookFailures*2 != tg.HookRuns || !strings.Contains(tg.LastHookError, "killed after the timeout of 1s") {
				t.Errorf("hook status: %d runs, %d failures, last %q; want every run of the hanging hook failed at its timeout", tg.HookRuns, tg.HookFailures, tg.LastHookError)
			}
			b, err := os.ReadFile(hangPid)
			testutil.Must(t, err)
			var pid int
			fmt.Sscan(string(b), &pid)
			if pid <= 0 || syscall.Kill(pid, 0) == nil && !strings.Contains(readFile(fmt.Sprintf("/proc/%d/stat", pid)), ") Z") {
				t.Errorf("the hanging hook (pid %d) still runs", pid)
			}
			fams := scrape(t, maddr)
			for result, want := range map[string]float64{"ok": float64(tg.HookRuns / 2), "timeout": float64(tg.HookRuns / 2), "failed": 0} {
				if v, ok := metricValue(fams, "gsync_hook_runs_total", map[string]string{"result": result}); !ok || v != want {
					t.Errorf("gsync_hook_runs_total{result=%s} = %v (present %v), want %v", result, v, ok, want)
				}
			}
			code, text := runGsync(t, "status", "--socket", sock)
			if code != 0 || !strings.Contains(text, "hooks: ") || !strings.Contains(text, "failed; last failure") {
				t.Errorf("gsync status: exit %d\n%s", code, text)
			}
			if code := g.stop(syscall.SIGTERM); code != 143 {
				t.Errorf("exit %d after SIGTERM, want 143", code)
			}
		})
	}
}

// TestHooksOnce: with --once the hooks of the startup full sync run
// before gsync exits, and a failing hook does not change the exit code.
func TestHooksOnce(t *testing.T) {
	t.Parallel()
	src, dst, work := t.TempDir(), filepath.Join(t.TempDir(), "dst"), t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "f"), "x")
	script, out := filepath.Join(work, "hook.sh"), filepath.Join(work, "out")
	testutil.WriteFile(t, script, hookScript)
	code, text := runGsync(t, "--once", "--control-socket", "none", "--on-push", "/bin/sh "+script+" "+out,
		"--on-push", "/bin/sh -c 'exit 4'", src, dst)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, text)
	}
	recs := readHookRecords(t, out)
	if len(recs) != 1 || recs[0].kind != "fullsync" || recs[0].target != dst {
		t.Errorf("hook records %+v, want one fullsync run", recs)
	}
	if !strings.Contains(text, "hook failed; the mirror goes on") || !strings.Contains(text, "exit status 4") {
		t.Errorf("the failing hook was not logged:\n%s", text)
	}
}

// TestHooksConfig: gsync --config FILE --on-push CMD runs the hook for
// every sync of an lsyncd config, each with its own target.
func TestHooksConfig(t *testing.T) {
	t.Parallel()
	src, work := t.TempDir(), t.TempDir()
	dst1, dst2 := filepath.Join(work, "one"), filepath.Join(work, "two")
	testutil.WriteFile(t, filepath.Join(src, "f"), "x")
	script, out := filepath.Join(work, "hook.sh"), filepath.Join(work, "out")
	testutil.WriteFile(t, script, hookScript)
	conf := filepath.Join(work, "lsyncd.conf.lua")
	testutil.WriteFile(t, conf, `settings { nodaemon = true }
sync { default.direct, source = "`+src+`", target = "`+dst1+`" }
sync { default.direct, source = "`+src+`", target = "`+dst2+`", delete = false }
`)
	code, text := runGsync(t, "--config", conf, "--once", "--control-socket", "none", "--on-push", "/bin/sh "+script+" "+out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, text)
	}
	targets := map[string]bool{}
	for _, r := range readHookRecords(t, out) {
		if r.kind != "fullsync" {
			t.Errorf("record %+v", r)
		}
		targets[r.target] = true
	}
	if !targets[dst1] || !targets[dst2] || len(targets) != 2 {
		t.Errorf("the hook ran for %v, want %s and %s", targets, dst1, dst2)
	}
}
