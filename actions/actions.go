// Package actions runs an lsyncd sync's layer-1 actions (onCreate =
// "...", onModify, onDelete, onMove, onAttrib, onStartup; read by
// lsyncdconf), or hands its events to its layer-2/3 Lua functions
// (lsyncdconf.LuaActions) and runs what they spawn, as a
// transport.Target: the engine hands it its batches
// after lsyncd's delay and collapse rules (package delay), and Push runs
// each event's action in order, one at a time; FullSync (startup,
// overflow, SIGHUP, crontab) runs onStartup.
//
// Actions run as lsyncd 2.2.3 runs them (lsyncd.lua: functionWriter,
// spawn, spawnShell; default.lua: default.action, default.collect): a
// shell action through /bin/sh -c SCRIPT /bin/sh VALUES..., the event's
// paths as positional parameters ("$1"), never as shell text; a program
// action directly, its words filled in. A move without onMove runs
// onDelete for the old path and onCreate for the new one. An action that
// exits non-zero stops the sync, as lsyncd terminates on it.
package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/transport"
)

// DefaultShell is the shell lsyncd's spawnShell runs.
const DefaultShell = "/bin/sh"

// outputMax bounds the output of one action kept for the log.
const outputMax = 8 << 10

// stopWait is how long an action gets after SIGTERM (gsync stopping)
// before its process group is killed.
const stopWait = 10 * time.Second

// Config configures a Target.
type Config struct {
	// Source is the source directory; lsyncd's ^source is it made
	// absolute, symlinks resolved, with a trailing "/".
	Source string
	// Target is the sync's target as configured ("" when it has none).
	Target  string
	Actions lsyncdconf.Actions
	// Lua, when set, are the sync's layer-2/3 functions: every event
	// goes through them (and Actions' strings through their
	// default.action), what they spawn is run here.
	Lua *lsyncdconf.LuaActions
	// KeepMoves: the sync has onMove (a string, true or a function);
	// without it a move is its Delete and its Create.
	KeepMoves bool
	// ExitCodes is lsyncd's exitcodes table (nil: 0 is "ok", anything
	// else "die").
	ExitCodes map[int]string
	// Shell runs shell actions; "" is DefaultShell.
	Shell string
	// Env is the actions' environment (nil: gsync's).
	Env []string
	// DryRun logs the actions instead of running them.
	DryRun bool
	// Logger should already name the sync; nil is slog.Default().
	Logger *slog.Logger
}

// Target runs layer-1 actions; the engine uses it from one goroutine at
// a time, so one action runs at a time.
type Target struct {
	cfg    Config
	source string
	log    *slog.Logger
}

var _ transport.Target = (*Target)(nil)

// New checks cfg and returns its Target. A config with shell actions
// needs the shell: without it New fails, naming it.
func New(cfg Config) (*Target, error) {
	if cfg.Shell == "" {
		cfg.Shell = DefaultShell
	}
	if cfg.Actions.NeedsShell() || cfg.Lua != nil {
		if fi, err := os.Stat(cfg.Shell); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("run layer-1 shell actions: lsyncd runs them through %s, which is not an executable file here (%v)", cfg.Shell, err)
		}
	}
	abs, err := filepath.Abs(cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("resolve source %s: %w", cfg.Source, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("resolve source %s: %w", cfg.Source, err)
	}
	t := &Target{cfg: cfg, source: strings.TrimSuffix(real, "/") + "/", log: cfg.Logger}
	if t.log == nil {
		t.log = slog.Default()
	}
	return t, nil
}

// FullSync runs onStartup (lsyncd: default.init on the Init event), if
// the sync has one.
func (t *Target) FullSync(ctx context.Context) (transport.Stats, error) {
	if t.cfg.Lua != nil {
		return t.runLua(ctx, []lsyncdconf.LuaEvent{{Etype: lsyncdconf.EtypeInit}})
	}
	a := t.cfg.Actions[lsyncdconf.EtypeStartup]
	if a == nil {
		return transport.Stats{}, nil
	}
	ev := t.event("", false)
	if err := t.run(ctx, lsyncdconf.EtypeStartup, a, ev, lsyncdconf.Event{}); err != nil {
		return transport.Stats{}, err
	}
	return transport.Stats{Files: 1}, nil
}

// Push runs the action of each change, in order (default.action). A
// move without onMove is its Delete and its Create (lsyncd.lua:
// Sync.delay splits it).
func (t *Target) Push(ctx context.Context, changes []transport.Change) (transport.Stats, error) {
	var st transport.Stats
	if t.cfg.Lua != nil {
		var evs []lsyncdconf.LuaEvent
		for _, c := range t.split(changes) {
			e := lsyncdconf.LuaEvent{Etype: c.Op.String(), Path: t.event(c.Path, c.IsDir).Path}
			if c.Op == change.Move {
				e.Path, e.Path2 = t.event(c.From, c.IsDir).Path, e.Path
			}
			evs = append(evs, e)
		}
		return t.runLua(ctx, evs)
	}
	for _, c := range changes {
		if c.Recursive && c.IsDir {
			// A rolled-up queue, or a move split around a busy path.
			t.log.Debug("one action for a directory stands for the events below it (lsyncd runs one per event)",
				"path", c.Path, "event", c.Op.String())
		}
		if c.Op == change.Move && !t.cfg.KeepMoves {
			for _, half := range []transport.Change{{Op: change.Delete, Path: c.From, IsDir: c.IsDir}, {Op: change.Create, Path: c.Path, IsDir: c.IsDir}} {
				n, err := t.one(ctx, half)
				st.Files += n
				if err != nil {
					return st, err
				}
			}
			continue
		}
		n, err := t.one(ctx, c)
		st.Files += n
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// split turns each move into its Delete and its Create unless the sync
// takes moves (lsyncd.lua: Sync.delay).
func (t *Target) split(changes []transport.Change) []transport.Change {
	if t.cfg.KeepMoves {
		return changes
	}
	out := make([]transport.Change, 0, len(changes))
	for _, c := range changes {
		if c.Op == change.Move {
			out = append(out, transport.Change{Op: change.Delete, Path: c.From, IsDir: c.IsDir},
				transport.Change{Op: change.Create, Path: c.Path, IsDir: c.IsDir})
			continue
		}
		out = append(out, c)
	}
	return out
}

// runLua hands events to the sync's Lua functions and runs what they
// spawn (lsyncdconf.LuaActions.Run).
func (t *Target) runLua(ctx context.Context, evs []lsyncdconf.LuaEvent) (transport.Stats, error) {
	var st transport.Stats
	exec := func(ctx context.Context, argv []string) (int, error) {
		st.Files++
		return t.spawn(ctx, argv)
	}
	err := t.cfg.Lua.Run(ctx, t.source, t.cfg.Target, evs, exec, t.luaLog)
	var ce *lsyncdconf.CollectError
	switch {
	case err == nil:
		return st, nil
	case ctx.Err() != nil:
		return st, transport.Transient(fmt.Errorf("run layer-2 action: stopped: %w", ctx.Err()))
	case errors.As(err, &ce) && ce.RC == "again":
		return st, transport.Transient(fmt.Errorf("run layer-2 action: %w", err))
	}
	return st, transport.Fatal(fmt.Errorf("run layer-2 action: %w (lsyncd ends on it too)", err))
}

// spawn runs one program a Lua action spawned and returns its exit code.
func (t *Target) spawn(ctx context.Context, argv []string) (int, error) {
	if t.cfg.DryRun {
		t.log.Info("dry run: spawn not run", "argv", argv)
		return 0, nil
	}
	code, out, took, err := t.start(ctx, argv)
	if err != nil {
		return 0, err
	}
	attrs := []any{"argv", argv, "took", took.String(), "exit", code}
	if out != "" {
		attrs = append(attrs, "output", out)
	}
	t.log.Info("spawn ran", attrs...)
	return code, nil
}

// start runs argv to its end, in a process group of its own, and returns
// its exit code and (capped) output. A program that cannot be started
// exits 255, as lsyncd's child does when its exec fails; one killed by
// a signal -1. err is set only when ctx ended.
func (t *Target) start(ctx context.Context, argv []string) (code int, output string, took time.Duration, err error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = t.cfg.Env
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	ownGroup(cmd)
	cmd.WaitDelay = stopWait
	begin := time.Now()
	runErr := cmd.Run()
	took = time.Since(begin).Round(time.Millisecond)
	output = strings.TrimRight(out.String(), "\n")
	if ctx.Err() != nil {
		return 0, output, took, fmt.Errorf("run %s: stopped: %w", argv[0], ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case runErr == nil:
		return 0, output, took, nil
	case errors.As(runErr, &ee):
		return ee.ExitCode(), output, took, nil
	}
	t.log.Error("program could not be started", "argv", argv, "err", runErr)
	return 255, output, took, nil
}

// luaLog is log() called by an action: lsyncd's categories as levels.
func (t *Target) luaLog(category, text string) {
	switch category {
	case "Error":
		t.log.Error(text, "from", "config")
	case "Warn":
		t.log.Warn(text, "from", "config")
	case "Normal":
		t.log.Info(text, "from", "config")
	default:
		t.log.Debug(text, "from", "config", "category", category)
	}
}

// one runs the action of one change; n is 1 when one ran.
func (t *Target) one(ctx context.Context, c transport.Change) (n int, err error) {
	etype := c.Op.String()
	a := t.cfg.Actions[etype]
	if a == nil || a.None {
		return 0, nil // lsyncd: no function for the event type, discarded
	}
	ev, ev2 := t.event(c.Path, c.IsDir), lsyncdconf.Event{}
	if c.Op == change.Move {
		ev, ev2 = t.event(c.From, c.IsDir), ev
	}
	if err := t.run(ctx, etype, a, ev, ev2); err != nil {
		return 0, err
	}
	return 1, nil
}

// event is lsyncd's view of a path: a leading "/", a trailing "/" for a
// directory (lsyncd.lua: getPath); "" for the Init event.
func (t *Target) event(rel string, isDir bool) lsyncdconf.Event {
	p := ""
	switch {
	case rel == "":
	case rel == change.Root:
		p = "/"
	case isDir:
		p = "/" + rel + "/"
	default:
		p = "/" + rel
	}
	return lsyncdconf.Event{Path: p, Source: t.source, Target: t.cfg.Target}
}

// run runs one action and classifies its end as default.collect does
// without exitcodes: 0 is done, anything else ends the sync.
func (t *Target) run(ctx context.Context, etype string, a *lsyncdconf.Action, ev, ev2 lsyncdconf.Event) error {
	argv := a.Argv(t.cfg.Shell, ev, ev2)
	path := strings.TrimPrefix(ev.Path, "/")
	if ev2.Path != "" {
		path += " -> " + strings.TrimPrefix(ev2.Path, "/")
	}
	if t.cfg.DryRun {
		t.log.Info("dry run: action not run", "event", etype, "path", path, "action", a.Key, "argv", argv)
		return nil
	}
	code, out, took, err := t.start(ctx, argv)
	if err != nil {
		return transport.Transient(fmt.Errorf("run %s for %s %s: %w", a.Key, etype, path, err))
	}
	attrs := []any{"event", etype, "path", path, "action", a.Key, "took", took.String()}
	if code != 0 {
		attrs = append(attrs, "exit", code)
	}
	if out != "" {
		attrs = append(attrs, "output", out)
	}
	switch t.exitRC(code) {
	case "ok":
		t.log.Info("action ran", attrs...)
		return nil
	case "again":
		// Sync.collect: the event waits again (at least 1 s), which the
		// engine's retry backoff does.
		t.log.Warn("action failed; retrying it (exitcodes: again)", attrs...)
		return transport.Transient(fmt.Errorf("run %s for %s %s: %s exited with %d", a.Key, etype, path, argv[0], code))
	}
	// default.collect: "die" (or a code exitcodes does not list, 0 too);
	// Sync.collect then terminates lsyncd ("Critical exitcode.").
	t.log.Error("action failed", attrs...)
	return transport.Fatal(fmt.Errorf("run %s for %s %s: %s exited with %d (lsyncd ends on it too)", a.Key, etype, path, argv[0], code))
}

var _ transport.Checker = (*Target)(nil)

// Check (gsync check) checks that the programs of the actions can be
// run, without running them: the shell for shell actions, the named
// program for the others.
func (t *Target) Check(context.Context) (transport.CheckResult, error) {
	var res transport.CheckResult
	for _, etype := range []string{lsyncdconf.EtypeStartup, lsyncdconf.EtypeCreate, lsyncdconf.EtypeModify,
		lsyncdconf.EtypeAttrib, lsyncdconf.EtypeDelete, lsyncdconf.EtypeMove} {
		a := t.cfg.Actions[etype]
		if a == nil || a.None {
			continue
		}
		prog := t.cfg.Shell
		if !a.Shell {
			prog = a.Argv(t.cfg.Shell, lsyncdconf.Event{}, lsyncdconf.Event{})[0]
		}
		if fi, err := os.Stat(prog); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return res, fmt.Errorf("check %s: %s is not an executable file (%v)", a.Key, prog, err)
		}
		res.Checked = append(res.Checked, fmt.Sprintf("%s runs %s: %s", a.Key, prog, a.Text))
	}
	res.Unchecked = append(res.Unchecked, "what the actions do (they are not run by a check)")
	return res, nil
}

// exitRC is what an exit code means (default.collect): with an
// exitcodes table its word, a code it does not list being "die" (0 too,
// as in lsyncd); without one "ok" for 0 and "die" for the rest. A
// program killed by a signal (code -1) is "die".
func (t *Target) exitRC(code int) string {
	if t.cfg.ExitCodes == nil {
		if code == 0 {
			return "ok"
		}
		return "die"
	}
	if rc, ok := t.cfg.ExitCodes[code]; ok && code >= 0 {
		return rc
	}
	return "die"
}

// String names the target: its configured target, or the actions.
func (t *Target) String() string {
	if t.cfg.Target != "" {
		return t.cfg.Target
	}
	return "actions on " + t.source
}

// EventBased tells the engine that the target runs events, not states
// (mirror.EventTarget).
func (t *Target) EventBased() bool { return true }

// Close does nothing: no action outlives its Push.
func (t *Target) Close() error { return nil }

// capped keeps the first outputMax bytes written to it.
type capped struct{ b bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := outputMax - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *capped) String() string { return c.b.String() }

// Effects says, for gsync explain, what a change of rel runs (rel is
// relative to the source; a move's destination is shown as NEW-NAME).
func Effects(actions lsyncdconf.Actions, lua *lsyncdconf.LuaActions, keepMoves bool, source, target, delay string, rel string, isDir bool) []string {
	out := []string{"a change runs the sync's action for its event " + delay + " after it was seen (lsyncd's actions: no transfer)"}
	if lua != nil {
		out = append(out, "its events go to the config's Lua functions (action, collect, on* functions), which decide what runs")
	}
	for _, etype := range []string{lsyncdconf.EtypeCreate, lsyncdconf.EtypeModify, lsyncdconf.EtypeAttrib, lsyncdconf.EtypeDelete, lsyncdconf.EtypeMove} {
		a := actions[etype]
		switch {
		case a == nil && etype == lsyncdconf.EtypeMove && !keepMoves:
			out = append(out, "a move: no onMove, so onDelete for the old path and onCreate for the new one")
		case a == nil && lua == nil:
			out = append(out, etype+": nothing (no on"+etype+")")
		case a == nil:
		case a.None:
			out = append(out, etype+": nothing (on"+etype+" = true)")
		default:
			src := strings.TrimSuffix(source, "/") + "/"
			ev := lsyncdconf.Event{Path: "/" + rel, Source: src, Target: target}
			ev2 := lsyncdconf.Event{Path: "/NEW-NAME", Source: src, Target: target}
			if isDir {
				ev.Path += "/"
				ev2.Path += "/"
			}
			out = append(out, fmt.Sprintf("%s: %s runs %q", etype, a.Key, a.Argv(DefaultShell, ev, ev2)))
		}
	}
	return out
}
