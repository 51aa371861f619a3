package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// TestLsyncdActionsMaxProcesses: the processes of lsyncd action syncs
// under maxProcesses, side by side with lsyncd 2.2.3 where installed.
// Each onCreate marks that it started, then waits (at most 2 s) until
// the actions of both files a and b have started, and marks "both" if
// they did: only actions that run at the same time see each other.
//   - one sync, maxProcesses = 2: a and b, created together, are on
//     disjoint paths and run at once (lsyncd.lua: Sync.invokeActions):
//     both see both;
//   - two syncs, settings{ maxProcesses = 1 }: one cap over all syncs
//     (runner.cycle checks the global processCount), so the actions of
//     a (one sync) and b (the other) run one after the other: the first
//     waits in vain, the second sees both.
func TestLsyncdActionsMaxProcesses(t *testing.T) {
	t.Parallel()
	tools := []string{"gsync"}
	lsyncd, err := exec.LookPath("lsyncd")
	if err == nil {
		tools = append(tools, "lsyncd")
	} else {
		t.Log("lsyncd not installed: gsync alone")
	}
	for _, tt := range []struct {
		name     string
		settings string
		syncs    int
		perSync  int
		wantBoth int
	}{
		{"one sync of 2", "", 1, 2, 2},
		{"two syncs, settings 1", "maxProcesses = 1,", 2, 1, 1},
	} {
		for _, tool := range tools {
			t.Run(tt.name+"/"+tool, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				marks := filepath.Join(dir, "marks")
				testutil.MustMkdir(t, marks)
				mark := func(name string) string { return filepath.Join(marks, name) }
				action := fmt.Sprintf(`n=$(basename ^pathname); : > %[1]s/started-$n; i=0; `+
					`while [ $i -lt 40 ]; do if [ -e %[1]s/started-a ] && [ -e %[1]s/started-b ]; then : > %[1]s/both-$n; break; fi; `+
					`i=$((i+1)); sleep 0.05; done; : > %[1]s/done-$n`, marks)
				var conf strings.Builder
				fmt.Fprintf(&conf, "settings { nodaemon = true, %s }\n", tt.settings)
				fmt.Fprintf(&conf, "wait = { delay = 1, maxProcesses = %d, onStartup = [[: > %s/up-$(basename ^source)]], onCreate = [[%s]] }\n",
					tt.perSync, marks, action)
				var srcs []string
				for i := range tt.syncs {
					src := filepath.Join(dir, fmt.Sprintf("src%d", i))
					testutil.MustMkdir(t, src)
					srcs = append(srcs, src)
					fmt.Fprintf(&conf, "sync { wait, source = %q }\n", src)
				}
				stop := runActionTool(t, tool, lsyncd, writeConfig(t, conf.String()))
				testutil.Eventually(t, "the startup actions", func() bool {
					return testutil.Exists(mark("up-src0")) && testutil.Exists(mark(fmt.Sprintf("up-src%d", tt.syncs-1)))
				})
				testutil.WriteFile(t, filepath.Join(srcs[0], "a"), "a")
				testutil.WriteFile(t, filepath.Join(srcs[len(srcs)-1], "b"), "b")
				testutil.Eventually(t, "both actions done", func() bool {
					return testutil.Exists(mark("done-a")) && testutil.Exists(mark("done-b"))
				})
				both, _ := filepath.Glob(mark("both-*"))
				if len(both) != tt.wantBoth {
					t.Errorf("%s: %d actions saw the other one running (%q), want %d", tool, len(both), both, tt.wantBoth)
				}
				stop()
			})
		}
	}
}

// runActionTool starts gsync or lsyncd (the binary lsyncd) on the config
// conf; the returned func stops it and checks its exit.
func runActionTool(t *testing.T, tool, lsyncd, conf string) (stop func()) {
	t.Helper()
	if tool == "gsync" {
		g := startGsync(t, nil, conf)
		return func() {
			if code := g.stop(syscall.SIGTERM); code != 143 {
				t.Errorf("gsync exit code %d after SIGTERM, want 143", code)
			}
		}
	}
	startLsyncdCmd(t, exec.Command(lsyncd, conf))
	return func() {}
}
