package mirror

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/hooks"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/transport"
)

// hookCmd runs testdata/hook.sh with args.
func hookCmd(t *testing.T, args ...string) hooks.Command {
	t.Helper()
	p, err := filepath.Abs("testdata/hook.sh")
	testutil.Must(t, err)
	return hooks.Command{Argv: append([]string{"/bin/sh", p}, args...)}
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// TestHooksAfterPushes: the hooks run after the startup full sync and
// after each batch that went through, with the batch's paths but the
// ones that failed; a failed push runs none; a hook still running does
// not hold back the next pushes (the loop never waits for a hook).
func TestHooksAfterPushes(t *testing.T) {
	out, gate := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "gate")
	f := &fakeTarget{name: "tgt", failPaths: map[string]error{"bad": errors.New("permission denied")}}
	e := newLoop(t, Config{Hooks: []hooks.Command{hookCmd(t, out, gate)}}, false, f)
	testutil.Eventually(t, "the full sync's hook", func() bool { return readString(t, out) == "fullsync 0 tgt\n" })
	testutil.WriteRel(t, e.src, "a")
	e.event(change.Create, "a")
	e.event(change.Create, "bad")
	testutil.Eventually(t, "a pushed", func() bool { return f.got("a") })
	// The first hook still waits for the gate: pushes go on meanwhile.
	e.event(change.Create, "c")
	testutil.Eventually(t, "c pushed while a hook runs", func() bool { return f.got("c") })
	f.set(func(f *fakeTarget) { f.pushErr = transport.Transient(errors.New("connection refused")) })
	e.event(change.Create, "lost")
	testutil.Eventually(t, "the failed push", func() bool { return e.status[0].Snapshot().Counters.Failures == 1 })
	testutil.WriteFile(t, gate, "")
	want := `fullsync 0 tgt
batch 1 tgt
{"path":"a","change":"create","size":1,"type":"file"}
batch 1 tgt
{"path":"c","change":"create","size":0,"type":""}
`
	testutil.Eventually(t, "the batches' hooks", func() bool { return e.status[0].Snapshot().Counters.HookRuns == 3 })
	if got := readString(t, out); got != want {
		t.Errorf("hook runs:\n%s\nwant:\n%s", got, want)
	}
	never(t, "a hook after the failed push", func() bool { return strings.Contains(readString(t, out), "lost") })
}

// TestHookFailureCounted: a failing or hanging hook is counted and shown
// in the status, and the mirror goes on.
func TestHookFailureCounted(t *testing.T) {
	f := &fakeTarget{name: "tgt"}
	out := filepath.Join(t.TempDir(), "out")
	fail := hooks.Command{Argv: []string{"/bin/sh", "-c", "exit 7"}}
	hang := hooks.Command{Argv: []string{"/bin/sleep", "30"}}
	e := newLoop(t, Config{Hooks: []hooks.Command{fail, hang, hookCmd(t, out)}, HookTimeout: 300 * time.Millisecond}, false, f)
	testutil.Eventually(t, "the full sync's hooks", func() bool { return e.status[0].Snapshot().Counters.HookRuns == 3 })
	s := e.status[0].Snapshot()
	if s.Counters.HookFailures != 2 || s.Counters.HookTimeouts != 1 {
		t.Errorf("hook failures %d, timeouts %d; want 2 and 1", s.Counters.HookFailures, s.Counters.HookTimeouts)
	}
	if !strings.Contains(s.LastHookErr, "/bin/sleep 30: run hook /bin/sleep: killed after the timeout of 300ms") {
		t.Errorf("last hook error %q", s.LastHookErr)
	}
	e.event(change.Create, "x")
	testutil.Eventually(t, "x pushed after the failed hooks", func() bool { return f.got("x") })
	if s.State == StateFailed || s.LastFailed {
		t.Errorf("a failed hook failed the target: %+v", s)
	}
}
