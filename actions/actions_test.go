package actions

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/transport"
)

// load reads a layer-1 sync from config text.
func load(t *testing.T, text string) lsyncdconf.Sync {
	t.Helper()
	cfg, err := lsyncdconf.Load("t.lua", text)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Syncs[0]
}

// TestPushRunsActionsInOrder runs each event's action, in order, with
// hostile file names that must stay data: positional parameters for the
// shell, words for a program.
func TestPushRunsActionsInOrder(t *testing.T) {
	if _, err := os.Stat(DefaultShell); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	src, logf := filepath.Join(dir, "src"), filepath.Join(dir, "log")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	s := load(t, `sync{ source = "`+src+`", target = "/t/",
  onStartup = [[echo startup ^source >> `+logf+`]],
  onCreate = [[echo create ^pathname ^targetPath >> `+logf+`]],
  onModify = [[printf 'modify %s\n' ^sourcePathname >> `+logf+`]],
  onDelete = [[echo "delete ^pathname" >> `+logf+`]],
  onMove = [[echo move ^o.pathname ^d.pathname >> `+logf+`]],
  onAttrib = "/bin/true ^pathname" }`)
	tgt, err := New(Config{Source: src, Target: s.Target, Actions: s.Actions, KeepMoves: s.WantsMoves()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := tgt.FullSync(ctx); err != nil {
		t.Fatal(err)
	}
	evil := `a b'c"d$(touch PWNED);e` + "`touch PWNED2`"
	st, err := tgt.Push(ctx, []transport.Change{
		{Op: change.Create, Path: "d/" + evil},
		{Op: change.Create, Path: "sub", IsDir: true},
		{Op: change.Modify, Path: evil},
		{Op: change.Attrib, Path: evil},
		{Op: change.Move, From: "x;y", Path: "z $HOME"},
		{Op: change.Delete, Path: "gone", IsDir: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 6 {
		t.Errorf("Files = %d, want 6", st.Files)
	}
	got, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	// lsyncd's paths start with "/" (its getPath): ^targetPath is
	// target .. "/d/...", so "/t//d/...", as lsyncd writes it.
	want := strings.Join([]string{
		"startup " + src + "/",
		"create d/" + evil + " /t//d/" + evil,
		"create sub /t//sub/",
		"modify " + src + "//" + evil,
		"move x;y z $HOME",
		// Inside the action's own double quotes lsyncd's "$1" closes
		// and reopens them: "delete "$1"" leaves $1 unquoted (split
		// and globbed, as under lsyncd, but never run).
		`delete gone`,
	}, "\n") + "\n"
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
	for _, p := range []string{"PWNED", "PWNED2"} {
		for _, d := range []string{"", src, dir} {
			if _, err := os.Stat(filepath.Join(d, p)); err == nil {
				t.Errorf("a file name ran as shell code: %s exists", filepath.Join(d, p))
			}
		}
	}
}

// TestMoveWithoutOnMove splits a move into onDelete and onCreate, as
// lsyncd does when onMove is not set.
func TestMoveWithoutOnMove(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "log")
	s := load(t, `sync{ source = "`+dir+`", onCreate = "echo c ^pathname >> `+logf+`", onDelete = "echo d ^pathname >> `+logf+`" }`)
	tgt, err := New(Config{Source: dir, Actions: s.Actions})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.Push(context.Background(), []transport.Change{{Op: change.Move, From: "a", Path: "b"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(logf); string(got) != "d a\nc b\n" {
		t.Errorf("log = %q", got)
	}
}

// TestFailingActionIsFatal: an action that exits non-zero ends the sync
// (lsyncd terminates on it); a missing shell is an error naming it.
func TestFailingActionIsFatal(t *testing.T) {
	dir := t.TempDir()
	s := load(t, `sync{ source = "`+dir+`", onCreate = "exit 3" }`)
	tgt, err := New(Config{Source: dir, Actions: s.Actions})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tgt.Push(context.Background(), []transport.Change{{Op: change.Create, Path: "f"}})
	if err == nil || transport.IsTransient(err) || !strings.Contains(err.Error(), "exited with 3") {
		t.Errorf("err = %v, want a fatal error with exit status 3", err)
	}
	_, err = New(Config{Source: dir, Actions: s.Actions, Shell: filepath.Join(dir, "no-sh")})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "no-sh")) {
		t.Errorf("missing shell: err = %v", err)
	}
}

// TestExitCodes: an exitcodes table decides what an exit means: "again"
// is a transient error (retried), "ok" done, an unlisted code "die".
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	s := load(t, `sync{ source = "`+dir+`", onCreate = [[exit "$(cat ^sourcePath)"]],
  exitcodes = { [0] = "ok", [1] = "again", [2] = "ok" } }`)
	tgt, err := New(Config{Source: dir, Actions: s.Actions, ExitCodes: s.ExitCodes})
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{"0": "ok", "1": "again", "2": "ok", "3": "die"} {
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := tgt.Push(context.Background(), []transport.Change{{Op: change.Create, Path: "f"}})
		got := "ok"
		switch {
		case err != nil && transport.IsTransient(err):
			got = "again"
		case err != nil:
			got = "die"
		}
		if got != want {
			t.Errorf("exit %s: %s (%v), want %s", code, got, err, want)
		}
	}
}

// TestLuaAction runs layer-2/3 functions: action(inlet) with getEvent,
// getEvents and discardEvent, spawn and spawnShell with event fields,
// collect with the exit code, a layer-3 onCreate function, and log.
func TestLuaAction(t *testing.T) {
	dir := t.TempDir()
	src, logf := filepath.Join(dir, "src"), filepath.Join(dir, "log")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := lsyncdconf.Load("t.lua", `
local logf = "`+logf+`"
local collected = {}
sync{ source = "`+src+`", target = "/t/",
  onStartup = function(event) spawnShell(event, 'echo startup "$1" >> '..logf, event.source) end,
  action = function(inlet)
    local event, event2 = inlet.getEvent()
    if event.etype == "Modify" then
      local list = inlet.getEvents(function(e) return e.etype == "Modify" end)
      local paths = list.getPaths(function(etype, p) return "m:"..p end)
      spawnShell(list, 'echo modify "$@" >> '..logf, unpack(paths))
      return
    end
    if event.etype == "Attrib" then
      inlet.discardEvent(event)
      return
    end
    if event.etype == "Move" then
      spawn(event, "/bin/sh", "-c", 'echo move "$1" "$2" >> '..logf, "sh", event.pathname, event2.targetPath)
      return
    end
    log("Normal", "spawning for ", event.etype, " ", event.pathname, " dir=", tostring(event.isdir))
    spawnShell(event, 'echo "$1" "$2" "$3" >> '..logf..'; exit 3', event.etype, event.sourcePathname, event.basename)
  end,
  collect = function(agent, exitcode)
    if not agent.isList and agent.etype == "Create" then
      return exitcode == 3 and "ok" or "die"
    end
    return exitcode == 0 and "ok" or "die"
  end,
  onMove = true,
}`)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Syncs[0]
	out := &strings.Builder{}
	log := slog.New(slog.NewTextHandler(out, nil))
	tgt, err := New(Config{Source: src, Target: s.Target, Actions: s.Actions, Lua: s.Lua, KeepMoves: s.WantsMoves(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := tgt.FullSync(ctx); err != nil {
		t.Fatal(err)
	}
	evil := `x $(touch PWNED);y`
	if _, err := tgt.Push(ctx, []transport.Change{
		{Op: change.Create, Path: "d", IsDir: true},
		{Op: change.Modify, Path: "a"},
		{Op: change.Attrib, Path: "a"},
		{Op: change.Modify, Path: "d/" + evil},
		{Op: change.Move, From: "a", Path: "b c"},
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(logf)
	want := "startup " + src + "/\n" +
		"Create " + src + "//d d\n" +
		"modify m:/a m:/d/" + evil + "\n" +
		"move a /t//b c\n"
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
	if !strings.Contains(out.String(), `msg="spawning for Create d dir=true"`) {
		t.Errorf("log() of the action not logged:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(src, "PWNED")); err == nil {
		t.Error("a file name ran as shell code")
	}
	// collect's "die" ends the sync.
	_, err = tgt.Push(ctx, []transport.Change{{Op: change.Delete, Path: "zz"}})
	if err == nil || transport.IsTransient(err) || !strings.Contains(err.Error(), `collect says "die"`) {
		t.Errorf("err = %v, want a fatal collect error", err)
	}
}
