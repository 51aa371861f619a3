package hooks

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/internal/testutil"
)

// script returns the command running testdata/NAME with /bin/sh.
func script(t *testing.T, name string, args ...string) Command {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	testutil.Must(t, err)
	return Command{Argv: append([]string{"/bin/sh", p}, args...)}
}

// results collects the runs of a runner.
type results struct {
	mu  sync.Mutex
	all []Result
}

func (r *results) add(res Result) { r.mu.Lock(); r.all = append(r.all, res); r.mu.Unlock() }
func (r *results) get() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Result(nil), r.all...)
}

func closeRunner(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.Close(ctx)
}

func wait(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	testutil.Must(t, r.Wait(ctx))
}

func TestParse(t *testing.T) {
	c, err := Parse(`/usr/local/bin/purge --url 'http://cache/a b' "x;y" $(id)`)
	testutil.Must(t, err)
	want := []string{"/usr/local/bin/purge", "--url", "http://cache/a b", "x;y", "$(id)"}
	if diff := cmp.Diff(want, c.Argv); diff != "" {
		t.Errorf("Argv (-want +got):\n%s", diff)
	}
	if got := c.String(); got != `/usr/local/bin/purge --url "http://cache/a b" "x;y" "$(id)"` {
		t.Errorf("String() = %s", got)
	}
	for _, bad := range []string{"", "   ", "'open"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

// TestHookSeesBatch: the hook gets exactly the batch's paths on stdin
// (with type and size as they are at the source), the GSYNC_ variables,
// the source as its working directory and its arguments verbatim, never
// through a shell.
func TestHookSeesBatch(t *testing.T) {
	src := t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "a.txt"), "hello")
	testutil.MustMkdir(t, filepath.Join(src, "d"))
	testutil.Must(t, os.Symlink("a.txt", filepath.Join(src, "d", "l")))
	out := filepath.Join(t.TempDir(), "out")
	pwned := filepath.Join(t.TempDir(), "pwned")
	var got results
	r := Start(Config{Commands: []Command{script(t, "record.sh", out, "$(touch "+pwned+")", "a;b")},
		Done: got.add, Environ: []string{"PATH=/usr/bin:/bin"}})
	defer closeRunner(t, r)
	r.Add(Push{Kind: Batch, Sync: "web", Source: src, Target: "host::mod", Updated: 2, Deleted: 1, Bytes: 5,
		Changes: []Change{
			{Path: "a.txt", Change: "modify"},
			{Path: "d", Change: "create", Recursive: true},
			{Path: "d/l", Change: "create"},
			{Path: "gone", Change: "delete"},
			{Path: "new name", Change: "move", From: "old\"name"},
		}})
	wait(t, r)
	b, err := os.ReadFile(out)
	testutil.Must(t, err)
	real, _ := filepath.EvalSymlinks(src)
	want := `=== run
arg=$(touch ` + pwned + `)
arg=a;b
GSYNC_BYTES=5
GSYNC_DELETED=1
GSYNC_FILES=5
GSYNC_FILES_OMITTED=0
GSYNC_KIND=batch
GSYNC_MERGED=0
GSYNC_RENAMED=0
GSYNC_SOURCE=` + src + `
GSYNC_SYNC=web
GSYNC_TARGET=host::mod
GSYNC_UPDATED=2
pwd=` + real + `
--- stdin
{"path":"a.txt","change":"modify","size":5,"type":"file"}
{"path":"d","change":"create","size":0,"type":"dir","recursive":true}
{"path":"d/l","change":"create","size":0,"type":"symlink"}
{"path":"gone","change":"delete","size":0,"type":""}
{"path":"new name","change":"move","size":0,"type":"","from":"old\"name"}
`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("hook record (-want +got):\n%s", diff)
	}
	if testutil.Exists(pwned) {
		t.Errorf("an argument was run by a shell")
	}
	res := got.get()
	if len(res) != 1 || res[0].Err != nil || res[0].Files != 5 || res[0].Kind != Batch {
		t.Errorf("results = %+v, want one successful run of 5 files", res)
	}
}

// TestHookTimeoutKillsGroup: a hanging hook is killed at its timeout,
// with the children it started, and the next hook still runs.
func TestHookTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	out := filepath.Join(dir, "out")
	var got results
	r := Start(Config{Commands: []Command{script(t, "hang.sh", pidFile), script(t, "record.sh", out)},
		Timeout: 500 * time.Millisecond, Done: got.add})
	defer closeRunner(t, r)
	r.Add(Push{Kind: FullSync, Source: dir, Target: "/mnt/x", Updated: 3})
	wait(t, r)
	res := got.get()
	if len(res) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(res), res)
	}
	if !res[0].TimedOut || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "timeout of 500ms") {
		t.Errorf("hanging hook: %+v, want killed at the timeout", res[0])
	}
	if res[0].Output != "hanging" {
		t.Errorf("hanging hook output %q, want %q", res[0].Output, "hanging")
	}
	if res[1].Err != nil || !testutil.Exists(out) {
		t.Errorf("the hook after the hanging one: %+v", res[1])
	}
	b, err := os.ReadFile(pidFile)
	testutil.Must(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	testutil.Must(t, err)
	testutil.Eventually(t, "the hook's child killed", func() bool { return !alive(pid) })
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !os.IsNotExist(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) == 0 || f[0] != "Z"
}

// TestHookFailure: a failing hook is reported with its exit status and
// output, and neither stops the hooks after it nor later pushes.
func TestHookFailure(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	var got results
	r := Start(Config{Commands: []Command{script(t, "fail.sh", "3"), script(t, "record.sh", out),
		{Argv: []string{filepath.Join(dir, "no-such-program")}}}, Done: got.add})
	defer closeRunner(t, r)
	r.Add(Push{Kind: Batch, Source: dir, Changes: []Change{{Path: "x", Change: "delete"}}})
	r.Add(Push{Kind: Batch, Source: dir, Changes: []Change{{Path: "y", Change: "delete"}}})
	wait(t, r)
	res := got.get()
	if len(res) != 6 {
		t.Fatalf("%d results, want 6: %+v", len(res), res)
	}
	for i := 0; i < 6; i += 3 {
		if res[i].Err == nil || !strings.Contains(res[i].Err.Error(), "exit status 3") || res[i].TimedOut {
			t.Errorf("run %d: err %v, want exit status 3", i, res[i].Err)
		}
		if res[i].Output != "to stdout\nto stderr" {
			t.Errorf("run %d: output %q", i, res[i].Output)
		}
		if res[i+1].Err != nil {
			t.Errorf("run %d: %v", i+1, res[i+1].Err)
		}
		if res[i+2].Err == nil {
			t.Errorf("run %d of a missing program: no error", i+2)
		}
	}
	b, err := os.ReadFile(out)
	testutil.Must(t, err)
	if n := strings.Count(string(b), "=== run"); n != 2 {
		t.Errorf("record ran %d times, want 2", n)
	}
}

// TestHooksInOrder: the hooks of one runner run one at a time, in the
// order given, push after push.
func TestHooksInOrder(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := Start(Config{Commands: []Command{script(t, "order.sh", out, "A"), script(t, "order.sh", out, "B")}})
	defer closeRunner(t, r)
	for i := range 3 {
		ch := make([]Change, i+1)
		for j := range ch {
			ch[j] = Change{Path: strconv.Itoa(j), Change: "modify"}
		}
		r.Add(Push{Kind: Batch, Source: dir, Changes: ch})
	}
	wait(t, r)
	b, err := os.ReadFile(out)
	testutil.Must(t, err)
	want := "start A 1\nend A\nstart B 1\nend B\nstart A 2\nend A\nstart B 2\nend B\nstart A 3\nend A\nstart B 3\nend B\n"
	if string(b) != want {
		t.Errorf("runs:\n%s\nwant:\n%s", b, want)
	}
}

// TestQueueFullMerges: while a hook runs, pushes beyond the queue's
// capacity are merged into the newest waiting one; Add never blocks.
func TestQueueFullMerges(t *testing.T) {
	dir := t.TempDir()
	out, gate := filepath.Join(dir, "out"), filepath.Join(dir, "gate")
	r := Start(Config{Commands: []Command{script(t, "gate.sh", out, gate)}, MaxQueue: 1})
	defer closeRunner(t, r)
	r.Add(Push{Kind: Batch, Source: dir, Changes: []Change{{Path: "p1", Change: "modify"}}})
	testutil.Eventually(t, "first hook running", func() bool { return testutil.Exists(out) })
	if !r.Add(Push{Kind: Batch, Source: dir, Changes: []Change{{Path: "p2", Change: "modify"}}}) {
		t.Errorf("second push merged, want queued")
	}
	for _, p := range []string{"p3", "p4"} {
		if r.Add(Push{Kind: Batch, Source: dir, Changes: []Change{{Path: p, Change: "delete"}}}) {
			t.Errorf("push %s queued, want merged (queue full)", p)
		}
	}
	testutil.WriteFile(t, gate, "")
	wait(t, r)
	b, err := os.ReadFile(out)
	testutil.Must(t, err)
	want := `merged=0 files=1
{"path":"p1","change":"modify","size":0,"type":""}
merged=2 files=3
{"path":"p2","change":"modify","size":0,"type":""}
{"path":"p3","change":"delete","size":0,"type":""}
{"path":"p4","change":"delete","size":0,"type":""}
`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

// TestMergeFullSync: a full sync absorbs batches (nothing listed).
func TestMergeFullSync(t *testing.T) {
	q := Push{Kind: Batch, Changes: []Change{{Path: "a"}}, Updated: 1}
	merge(&q, Push{Kind: FullSync, Updated: 10, Bytes: 7})
	merge(&q, Push{Kind: Batch, Changes: []Change{{Path: "b"}}, Deleted: 1})
	want := Push{Kind: FullSync, Updated: 11, Deleted: 1, Bytes: 7, Merged: 2}
	if diff := cmp.Diff(want, q); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
}

// TestCloseKillsRunningHook: Close with an expired context kills the
// running hook and drops what waits.
func TestCloseKillsRunningHook(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	var got results
	r := Start(Config{Commands: []Command{script(t, "hang.sh", pidFile)}, Timeout: time.Hour, Done: got.add})
	r.Add(Push{Kind: FullSync, Source: dir})
	r.Add(Push{Kind: FullSync, Source: dir})
	testutil.Eventually(t, "hook running", func() bool { return testutil.Exists(pidFile) })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	testutil.Must(t, testutil.Within(t, "Close", 20*time.Second, func() error { r.Close(ctx); return nil }))
	res := got.get()
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "stopping") {
		t.Errorf("results %+v, want one run killed because gsync stops", res)
	}
	if r.Add(Push{Kind: Batch, Source: dir}) {
		t.Errorf("Add after Close queued a push")
	}
}

func TestCommandCheck(t *testing.T) {
	if err := (Command{Argv: []string{"sh", "-c", "true"}}).Check(); err != nil {
		t.Errorf("sh: %v", err)
	}
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	testutil.WriteFile(t, notExec, "#!/bin/sh\n")
	for _, bad := range []string{filepath.Join(dir, "missing"), notExec, "no-such-program-gsync"} {
		if err := (Command{Argv: []string{bad}}).Check(); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
