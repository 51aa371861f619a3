package lsyncdconf

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Version is the lsyncd version a config sees in lsyncd_version: the
// version whose behaviour gsync follows.
const Version = "2.2.3"

// Message is one log() call a config made while it loaded.
type Message struct {
	// Category is log()'s first argument: "Normal", "Error", "Warn" or a
	// debug category such as "Exec".
	Category string
	Text     string
}

// TerminateError is returned when a config called terminate(code) while
// it loaded: lsyncd exits with that code.
type TerminateError struct{ Code int }

func (e *TerminateError) Error() string {
	return fmt.Sprintf("the config called terminate(%d)", e.Code)
}

// notProvided are globals (and library functions) that lsyncd (or plain
// Lua) gives a config and gsync does not, with the reason given when a
// config calls one.
var notProvided = map[string]string{
	"spawn":        "it runs a program from an lsyncd layer-2/3 action (action = function(inlet)), not while the config loads",
	"spawnShell":   "it runs a shell command from an lsyncd layer-2/3 action (action = function(inlet)), not while the config loads",
	"alarm":        "an lsyncd layer 2-3 function (Lua code run at a time); for periodic full syncs use crontab = {...} or --full-sync-cron",
	"observefd":    "an lsyncd layer 1 function (Lua code run on a file descriptor)",
	"nonobservefd": "an lsyncd layer 1 function (Lua code run on a file descriptor)",
	"dofile":       "gsync configs do not load other Lua files; put everything in one config",
	"loadfile":     "gsync configs do not load other Lua files; put everything in one config",
	"require":      "gsync configs do not load Lua modules",
	"module":       "gsync configs do not load Lua modules",
	"os.execute":   "a config must not run programs",
	"os.exit":      "use terminate(code) to end lsyncd from a config",
	"os.remove":    "a config must not change files",
	"os.rename":    "a config must not change files",
	"os.tmpname":   "a config must not create files",
	"os.setlocale": "a config must not change the process locale",
	"io.popen":     "a config must not run programs",
	"io.tmpfile":   "a config must not create files",
	"io.input":     "open files with io.open(path) (read-only in gsync)",
	"io.output":    "a config must not write files",
	"io.read":      "a config cannot read standard input under gsync",
}

// openLibs builds the environment lsyncd 2.2.3 gives a config (the
// globals lsyncd.lua defines before it loads the config, and Lua's
// standard libraries) with the parts a config must never reach left out:
// running programs, writing files, loading code from other files.
// Calling one of those is an error that names it (notProvided).
func (ld *loader) openLibs(L *lua.LState) {
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath},
		{lua.OsLibName, lua.OpenOs}, {lua.IoLibName, lua.OpenIo},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range sortedKeys(notProvided) {
		tbl, fn, ok := strings.Cut(name, ".")
		stub := ld.refuse(L, name)
		if !ok {
			L.SetGlobal(name, stub)
			continue
		}
		if t, isTable := L.GetGlobal(tbl).(*lua.LTable); isTable {
			t.RawSetString(fn, stub)
		}
	}
	L.SetGlobal("package", lua.LNil)
	if io, ok := L.GetGlobal("io").(*lua.LTable); ok {
		open := io.RawGetString("open")
		io.RawSetString("open", L.NewFunction(func(L *lua.LState) int {
			// io.open(path [, mode]): reading only.
			if m := L.OptString(2, "r"); m != "r" && m != "rb" {
				return ld.raise(L, fmt.Errorf("io.open(%q, %q): a config may only read files (mode \"r\")", L.CheckString(1), m))
			}
			return ld.callThrough(L, open)
		}))
		lines := io.RawGetString("lines")
		io.RawSetString("lines", L.NewFunction(func(L *lua.LState) int {
			if L.GetTop() == 0 {
				return ld.raise(L, fmt.Errorf("io.lines() without a file name reads standard input, which a config cannot do under gsync"))
			}
			return ld.callThrough(L, lines)
		}))
	}
	if s, ok := L.GetGlobal("string").(*lua.LTable); ok {
		// lsyncd.lua: string.starts and string.ends, "comfort routines
		// also for the user".
		s.RawSetString("starts", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LBool(strings.HasPrefix(L.CheckString(1), L.CheckString(2))))
			return 1
		}))
		s.RawSetString("ends", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LBool(strings.HasSuffix(L.CheckString(1), L.CheckString(2))))
			return 1
		}))
	}
	dbg := L.NewTable()
	dbg.RawSetString("getinfo", L.NewFunction(ld.getinfo))
	dbg.RawSetString("traceback", L.NewFunction(func(L *lua.LState) int {
		// The message alone: a config uses it in error handlers.
		L.Push(lua.LString(L.OptString(1, "")))
		return 1
	}))
	L.SetGlobal("debug", dbg)

	// spawn and spawnShell work while a layer-2/3 action runs (layer2.go);
	// while the config loads they are refused like the rest.
	for name, fn := range map[string]lua.LGFunction{"spawn": ld.rt.spawnFn, "spawnShell": ld.rt.spawnShellFn} {
		L.SetGlobal(name, L.NewFunction(func(L *lua.LState) int {
			if ld.rt.run == nil {
				return ld.raise(L, fmt.Errorf("%s() is not available under gsync: %s", name, notProvided[name]))
			}
			return fn(L)
		}))
	}
	L.SetGlobal("lsyncd_version", lua.LString(Version))
	L.SetGlobal("log", L.NewFunction(ld.logFn))
	L.SetGlobal("terminate", L.NewFunction(func(L *lua.LState) int {
		code := L.OptInt(1, 0)
		ld.err = &TerminateError{Code: code}
		L.RaiseError("terminate(%d)", code)
		return 0
	}))
	L.SetGlobal("now", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(float64(time.Now().UnixNano()) / 1e9))
		return 1
	}))
	L.SetGlobal("readdir", L.NewFunction(readdirFn))

	def := L.NewTable()
	def.RawSetString("maxDelays", lua.LNumber(1000))
	def.RawSetString("maxProcesses", lua.LNumber(1))
	def.RawSetString("statusInterval", lua.LNumber(10))
	for _, kind := range []string{KindRsync, KindRsyncSSH, KindDirect} {
		t := L.NewTable()
		ld.protos[t] = kind
		def.RawSetString(kind, t)
	}
	L.SetGlobal("default", def)
	L.SetGlobal("settings", L.NewFunction(ld.settingsFn))
	ld.settingsFunc = L.GetGlobal("settings")
	L.SetGlobal("sync", L.NewFunction(ld.syncFn))

	// Reading one of lsyncd's own globals that gsync does not have is
	// an error naming it; any other missing global is nil, as in Lua.
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(2)
		if why, ok := lsyncdInternals[name]; ok {
			return ld.raise(L, fmt.Errorf("%s is not available under gsync: %s", name, why))
		}
		L.Push(lua.LNil)
		return 1
	}))
	L.SetMetatable(L.Get(lua.GlobalsIndex), mt)
}

// lsyncdInternals are globals lsyncd.lua leaves visible to a config that
// belong to its runner (or to lsyncd 2.3's), which gsync does not have.
var lsyncdInternals = map[string]string{
	"Queue":        "an lsyncd runner internal (layer 1 code)",
	"Monitors":     "an lsyncd runner internal (gsync watches with inotify)",
	"settingsSafe": "an lsyncd runner internal; use settings",
	"dump":         "an lsyncd 2.3 debugging helper",
}

// refuse returns a function that fails naming the global name.
func (ld *loader) refuse(L *lua.LState, name string) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		return ld.raise(L, fmt.Errorf("%s() is not available under gsync: %s", name, notProvided[name]))
	})
}

// callThrough calls fn with the arguments of the running Go function and
// returns its results.
func (ld *loader) callThrough(L *lua.LState, fn lua.LValue) int {
	n := L.GetTop()
	args := make([]lua.LValue, n)
	for i := range args {
		args[i] = L.Get(i + 1)
	}
	top := L.GetTop()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	L.Call(n, lua.MultRet)
	return L.GetTop() - top
}

// logFn is lsyncd's log(category, ...): the messages are joined as
// lsyncd's core does (l_log: nil as "(nil)", booleans as "(true)").
func (ld *loader) logFn(L *lua.LState) int {
	cat := L.CheckString(1)
	var b strings.Builder
	for i := 2; i <= L.GetTop(); i++ {
		switch v := L.Get(i).(type) {
		case *lua.LNilType:
			b.WriteString("(nil)")
		case lua.LBool:
			fmt.Fprintf(&b, "(%v)", bool(v))
		case lua.LString, lua.LNumber:
			b.WriteString(v.String())
		default:
			fmt.Fprintf(&b, "(%s)", v.Type())
		}
	}
	if r := ld.rt.run; r != nil {
		r.log(cat, b.String()) // a layer-2/3 action logging at run time
		return 0
	}
	ld.cfg.Messages = append(ld.cfg.Messages, Message{Category: cat, Text: b.String()})
	return 0
}

// getinfo is debug.getinfo(level | function [, what]) for what a config
// asks of it: where it comes from. source is "@" and the config's path
// (so the common debug.getinfo(1).source:match("^@(.*/)") finds the
// config's directory), short_src the path, currentline and linedefined
// the lines.
func (ld *loader) getinfo(L *lua.LState) int {
	dbg := &lua.Debug{}
	var err error
	switch v := L.Get(1).(type) {
	case *lua.LFunction:
		_, err = L.GetInfo(">Sl", dbg, v)
	case lua.LNumber:
		d, ok := L.GetStack(int(v))
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		dbg = d
		_, err = L.GetInfo("Sl", dbg, lua.LNil)
	default:
		L.ArgError(1, "function or level expected")
	}
	if err != nil {
		L.Push(lua.LNil)
		return 1
	}
	t := L.NewTable()
	src := dbg.Source
	if src == ld.file {
		src = "@" + src
	}
	t.RawSetString("source", lua.LString(src))
	t.RawSetString("short_src", lua.LString(strings.TrimPrefix(src, "@")))
	t.RawSetString("what", lua.LString(dbg.What))
	t.RawSetString("currentline", lua.LNumber(dbg.CurrentLine))
	t.RawSetString("linedefined", lua.LNumber(dbg.LineDefined))
	t.RawSetString("lastlinedefined", lua.LNumber(dbg.LastLineDefined))
	L.Push(t)
	return 1
}

// readdirFn is lsyncd's readdir(path): a table of the entries of the
// directory, name = true for directories, false for the rest; nil when
// it cannot be read.
func readdirFn(L *lua.LState) int {
	entries, err := os.ReadDir(L.CheckString(1))
	if err != nil {
		L.Push(lua.LNil)
		return 1
	}
	t := L.NewTable()
	names := make([]string, 0, len(entries))
	dirs := map[string]bool{}
	for _, e := range entries {
		names = append(names, e.Name())
		dirs[e.Name()] = e.IsDir()
	}
	sort.Strings(names)
	for _, n := range names {
		t.RawSetString(n, lua.LBool(dirs[n]))
	}
	L.Push(t)
	return 1
}
