package lsyncdconf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// callTimeout bounds one call into a config's Lua code at run time (an
// action that never returns).
const callTimeout = 10 * time.Second

// runtime is the Lua state of a config kept after it loaded, for its
// layer-2/3 functions (action = function(inlet), collect, onCreate =
// function(event)). One call into it at a time.
type runtime struct {
	mu sync.Mutex
	L  *lua.LState
	// run is set while a batch runs: spawn and log go to it.
	run *luaRun
}

// LuaActions are a sync's layer-2/3 actions: Lua functions of its
// config, run in the config's Lua state with lsyncd's inlet API
// (lsyncd.lua: InletFactory; default.lua: default.action,
// default.collect). They are called by package actions, which runs what
// they spawn.
type LuaActions struct {
	rt      *runtime
	action  *lua.LFunction            // nil: default.action
	collect *lua.LFunction            // nil: default.collect
	funcs   map[string]*lua.LFunction // layer-3 on* functions by event type
	strs    Actions                   // layer-1 strings of the same sync
	config  *lua.LTable               // what inlet.getConfig() returns
}

// EtypeInit is the event of a startup (lsyncd's Init): Run calls
// default.init for it, which calls onStartup.
const EtypeInit = "Init"

// LuaEvent is one event handed to Lua: lsyncd's event type and path
// (Event.Path's form); Path2 is a move's destination.
type LuaEvent struct {
	Etype       string
	Path, Path2 string
}

// Spawned is a program an action asked for (spawn, spawnShell): Run's
// caller runs it and reports its exit code.
type Spawned struct {
	Argv []string
}

// CollectError is an end of a spawned program that the config's collect
// (or default.collect) did not call "ok": RC is "again" or "die".
type CollectError struct {
	RC   string
	Argv []string
	Code int
}

func (e *CollectError) Error() string {
	return fmt.Sprintf("%s exited with %d: collect says %q", e.Argv[0], e.Code, e.RC)
}

// luaRun is the state of one Run: the events and who spawned what.
type luaRun struct {
	ctx     context.Context
	source  string
	target  string
	events  []*luaEv
	byTable map[*lua.LTable]*luaAgent
	spawns  []luaSpawn
	log     func(category, text string)
}

// luaEv is one event of a run; status is lsyncd's: wait, active, done.
type luaEv struct {
	LuaEvent
	status string
	tables []*lua.LTable // the event objects made for it
}

// luaAgent is what spawn was given: one event, or a list of them.
type luaAgent struct {
	table  *lua.LTable
	events []*luaEv
}

type luaSpawn struct {
	agent *luaAgent
	argv  []string
}

// Run runs the sync's action for the events of one batch, in order, as
// lsyncd does when their delays are due: action(inlet) is called while
// an event waits (getEvent returns the first waiting one, getEvents all
// of them); what it spawns is run by exec, one at a time, and handed to
// collect. An event that the action neither spawned for nor discarded
// is dropped. A "die" or "again" from collect ends the run with a
// CollectError.
func (la *LuaActions) Run(ctx context.Context, source, target string, events []LuaEvent,
	exec func(ctx context.Context, argv []string) (int, error), log func(category, text string)) error {
	la.rt.mu.Lock()
	defer la.rt.mu.Unlock()
	r := &luaRun{ctx: ctx, source: source, target: target, byTable: map[*lua.LTable]*luaAgent{}, log: log}
	for _, e := range events {
		r.events = append(r.events, &luaEv{LuaEvent: e, status: "wait"})
	}
	la.rt.run = r
	defer func() { la.rt.run = nil }()
	for n := 0; n <= len(r.events); n++ {
		first := r.firstWaiting()
		if first == nil {
			return nil
		}
		if err := la.callAction(r, first); err != nil {
			return err
		}
		if first.status == "wait" {
			first.status = "done" // default.action: not interested, dropped
		}
		spawns := r.spawns
		r.spawns = nil
		for _, sp := range spawns {
			code, err := exec(ctx, sp.argv)
			if err != nil {
				return err
			}
			if sp.agent.table == nil {
				sp.agent.table, _ = la.eventObjects(r, sp.agent.events[0])
			}
			rc, err := la.callCollect(r, sp.agent, code)
			if err != nil {
				return err
			}
			for _, e := range sp.agent.events {
				e.status = "done"
			}
			if rc == "again" || rc == "die" {
				return &CollectError{RC: rc, Argv: sp.argv, Code: code}
			}
		}
	}
	return errors.New("run layer-2 action: events left waiting")
}

func (r *luaRun) firstWaiting() *luaEv {
	for _, e := range r.events {
		if e.status == "wait" {
			return e
		}
	}
	return nil
}

// call calls fn with args under the call timeout; errors name the key.
func (la *LuaActions) call(r *luaRun, key string, fn *lua.LFunction, nret int, args ...lua.LValue) ([]lua.LValue, error) {
	L := la.rt.L
	ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
	defer cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	top := L.GetTop()
	if err := L.CallByParam(lua.P{Fn: fn, NRet: nret, Protect: true}, args...); err != nil {
		L.SetTop(top)
		if ctx.Err() != nil && r.ctx.Err() == nil {
			return nil, fmt.Errorf("run %s: still running after %v", key, callTimeout)
		}
		return nil, fmt.Errorf("run %s: %w", key, err)
	}
	out := make([]lua.LValue, 0, nret)
	for i := 1; i <= nret; i++ {
		out = append(out, L.Get(top+i))
	}
	L.SetTop(top)
	return out, nil
}

// callAction runs action(inlet), or default.action for e.
func (la *LuaActions) callAction(r *luaRun, e *luaEv) error {
	etype := e.Etype
	if etype == EtypeInit {
		// default.init: onStartup(event), never the custom action.
		etype = EtypeStartup
	} else if la.action != nil {
		_, err := la.call(r, "action", la.action, 0, la.inlet(r))
		return err
	}
	// default.action: config["on"..etype](event, event2); a string was
	// translated into a function that spawns it (functionWriter).
	if fn := la.funcs[etype]; fn != nil {
		ev, ev2 := la.eventObjects(r, e)
		_, err := la.call(r, "on"+etype, fn, 0, ev, ev2)
		return err
	}
	if a := la.strs[etype]; a != nil && !a.None {
		ev := Event{Path: e.Path, Source: r.source, Target: r.target}
		ev2 := Event{Path: e.Path2, Source: r.source, Target: r.target}
		agent := &luaAgent{events: []*luaEv{e}}
		e.status = "active"
		r.spawns = append(r.spawns, luaSpawn{agent: agent, argv: a.Argv("/bin/sh", ev, ev2)})
	}
	return nil
}

// callCollect is collect(agent, exitcode), or default.collect.
func (la *LuaActions) callCollect(r *luaRun, a *luaAgent, code int) (string, error) {
	if la.collect == nil {
		if code == 0 {
			return "ok", nil
		}
		return "die", nil
	}
	out, err := la.call(r, "collect", la.collect, 1, a.table, lua.LNumber(code))
	if err != nil {
		return "", err
	}
	switch rc := out[0].(type) {
	case *lua.LNilType:
		return "ok", nil // Sync.collect: anything but "die" and "again" is done
	default:
		return rc.String(), nil
	}
}

// inlet builds the inlet of a run (lsyncd.lua: InletFactory's inlet).
func (la *LuaActions) inlet(r *luaRun) *lua.LTable {
	L := la.rt.L
	in := L.NewTable()
	in.RawSetString("getEvent", L.NewFunction(func(L *lua.LState) int {
		e := r.firstWaiting()
		if e == nil {
			L.RaiseError("inlet.getEvent(): no event waiting")
			return 0
		}
		ev, ev2 := la.eventObjects(r, e)
		L.Push(ev)
		L.Push(ev2)
		return 2
	}))
	in.RawSetString("getEvents", L.NewFunction(func(L *lua.LState) int {
		test, _ := L.Get(1).(*lua.LFunction)
		var evs []*luaEv
		for _, e := range r.events {
			if e.status != "wait" {
				continue
			}
			if test != nil {
				ev, _ := la.eventObjects(r, e)
				if err := L.CallByParam(lua.P{Fn: test, NRet: 1, Protect: false}, ev); err == nil {
					ok := lua.LVAsBool(L.Get(-1))
					L.Pop(1)
					if !ok {
						continue
					}
				}
			}
			evs = append(evs, e)
		}
		L.Push(la.eventList(r, evs))
		return 1
	}))
	in.RawSetString("discardEvent", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		a := r.byTable[t]
		if a == nil {
			L.ArgError(1, "not an event of this inlet")
		}
		for _, e := range a.events {
			e.status = "done"
		}
		return 0
	}))
	in.RawSetString("getConfig", L.NewFunction(func(L *lua.LState) int {
		L.Push(la.config)
		return 1
	}))
	for _, name := range []string{"createBlanketEvent", "addExclude", "rmExclude", "getExcludes", "getFilters", "getStatus", "getSync"} {
		in.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			L.RaiseError("inlet.%s() is not available under gsync (an lsyncd runner internal)", name)
			return 0
		}))
	}
	return in
}

// eventObjects returns the event object(s) of e: for a move the origin
// (move = "Fr") and the destination (move = "To"), else e and nil.
func (la *LuaActions) eventObjects(r *luaRun, e *luaEv) (*lua.LTable, lua.LValue) {
	a := &luaAgent{events: []*luaEv{e}}
	ev := la.eventObject(r, e, e.Path, a)
	if e.Etype != EtypeMove {
		return ev, lua.LNil
	}
	ev.RawSetString("move", lua.LString("Fr"))
	ev2 := la.eventObject(r, e, e.Path2, &luaAgent{events: []*luaEv{e}})
	ev2.RawSetString("move", lua.LString("To"))
	return ev, ev2
}

// eventObject is lsyncd's event: its fields (eventFields) computed once
// from path, status read when asked.
func (la *LuaActions) eventObject(r *luaRun, e *luaEv, path string, a *luaAgent) *lua.LTable {
	L := la.rt.L
	t := L.NewTable()
	if a.table == nil {
		a.table = t
	}
	r.byTable[t] = a
	e.tables = append(e.tables, t)
	ev := Event{Path: path, Source: r.source, Target: r.target}
	for _, f := range []string{"path", "pathdir", "pathname", "source", "sourcePath", "sourcePathdir", "sourcePathname"} {
		t.RawSetString(f, lua.LString(ev.Field(f)))
	}
	if r.target != "" {
		for _, f := range []string{"target", "targetPath", "targetPathdir", "targetPathname"} {
			t.RawSetString(f, lua.LString(ev.Field(f)))
		}
	}
	rel := strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/")
	name := rel[strings.LastIndexByte(rel, '/')+1:]
	isDir := strings.HasSuffix(path, "/")
	t.RawSetString("etype", lua.LString(e.Etype))
	t.RawSetString("isdir", lua.LBool(isDir))
	t.RawSetString("basename", lua.LString(name))
	if isDir {
		name += "/"
	}
	t.RawSetString("name", lua.LString(name))
	t.RawSetString("isList", lua.LFalse)
	t.RawSetString("config", la.config)
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		switch L.CheckString(2) {
		case "status":
			L.Push(lua.LString(e.status))
		case "inlet":
			L.Push(la.inlet(r))
		case "move":
			L.Push(lua.LNil)
		default:
			L.RaiseError("event does not have field %q", L.CheckString(2))
			return 0
		}
		return 1
	}))
	L.SetMetatable(t, mt)
	return t
}

// eventList is lsyncd's event list (getEvents): isList, config and
// getPaths(mutator) (lsyncd.lua: eventListFuncs, eventListMeta).
func (la *LuaActions) eventList(r *luaRun, evs []*luaEv) *lua.LTable {
	L := la.rt.L
	t := L.NewTable()
	r.byTable[t] = &luaAgent{table: t, events: evs}
	t.RawSetString("isList", lua.LTrue)
	t.RawSetString("config", la.config)
	t.RawSetString("getPaths", L.NewFunction(func(L *lua.LState) int {
		mutator, _ := L.Get(1).(*lua.LFunction)
		out := L.NewTable()
		for _, e := range evs {
			p1, p2 := lua.LValue(lua.LString(e.Path)), lua.LValue(lua.LNil)
			if e.Path2 != "" {
				p2 = lua.LString(e.Path2)
			}
			if mutator != nil {
				L.Push(mutator)
				L.Push(lua.LString(e.Etype))
				L.Push(p1)
				L.Push(p2)
				L.Call(3, 2)
				p1, p2 = L.Get(-2), L.Get(-1)
				L.Pop(2)
			}
			if p1 != lua.LNil {
				out.Append(p1)
			}
			if p2 != lua.LNil {
				out.Append(p2)
			}
		}
		L.Push(out)
		return 1
	}))
	return t
}

// spawnFn is lsyncd's spawn(agent, binary, ...) at run time: the program
// is run after the action returns, then collect hears of it.
func (rt *runtime) spawnFn(L *lua.LState) int {
	r := rt.run
	if r == nil {
		L.RaiseError("spawn() is only available while an action runs")
		return 0
	}
	t := L.CheckTable(1)
	a := r.byTable[t]
	if a == nil {
		L.ArgError(1, "spawn: the agent is not an event or event list of this action")
	}
	for _, e := range a.events {
		if e.status != "wait" {
			L.RaiseError("spawn() called on a non-waiting event")
			return 0
		}
	}
	argv := []string{L.CheckString(2)}
	for i := 3; i <= L.GetTop(); i++ {
		argv = append(argv, L.CheckString(i))
	}
	for _, e := range a.events {
		e.status = "active"
	}
	r.spawns = append(r.spawns, luaSpawn{agent: a, argv: argv})
	return 0
}

// spawnShellFn is lsyncd's spawnShell(agent, command, ...): spawn(agent,
// "/bin/sh", "-c", command, "/bin/sh", ...).
func (rt *runtime) spawnShellFn(L *lua.LState) int {
	args := []lua.LValue{L.Get(1), lua.LString("/bin/sh"), lua.LString("-c"), lua.LString(L.CheckString(2)), lua.LString("/bin/sh")}
	for i := 3; i <= L.GetTop(); i++ {
		args = append(args, L.Get(i))
	}
	L.SetTop(0)
	for _, a := range args {
		L.Push(a)
	}
	return rt.spawnFn(L)
}

// luaFuncs are the Lua functions of a sync{} table, kept until the sync
// is complete.
type luaFuncs struct {
	action, collect *lua.LFunction
	on              map[string]*lua.LFunction
}

// setLua records action, collect or an on* key given as a function.
func (s *Sync) setLua(key string, v lua.LValue) error {
	fn, ok := v.(*lua.LFunction)
	if !ok {
		return fmt.Errorf("sync{}: %s must be a function, got %s", key, v.Type())
	}
	if s.lua == nil {
		s.lua = &luaFuncs{on: map[string]*lua.LFunction{}}
	}
	switch key {
	case "action":
		s.lua.action = fn
	case "collect":
		s.lua.collect = fn
	default:
		s.lua.on[strings.TrimPrefix(key, "on")] = fn
	}
	return nil
}

// WantsMoves reports whether the sync takes moves as moves (lsyncd:
// "config.onMove" set); without it a move is a Delete and a Create.
func (s *Sync) WantsMoves() bool {
	return s.Actions[EtypeMove] != nil || (s.lua != nil && s.lua.on[EtypeMove] != nil)
}

// luaActions builds the sync's LuaActions; vals are its keys.
func (ld *loader) luaActions(s *Sync, vals map[string]lua.LValue) *LuaActions {
	L := ld.rt.L
	cfg := L.NewTable()
	for k, v := range vals {
		cfg.RawSetString(k, v)
	}
	cfg.RawSetString("source", lua.LString(s.Source))
	if s.Target != "" {
		cfg.RawSetString("target", lua.LString(s.Target))
	}
	cfg.RawSetString("delay", lua.LNumber(s.Delay.Seconds()))
	cfg.RawSetString("maxDelays", lua.LNumber(s.MaxDelays))
	cfg.RawSetString("maxProcesses", lua.LNumber(s.MaxProcesses))
	return &LuaActions{rt: ld.rt, action: s.lua.action, collect: s.lua.collect, funcs: s.lua.on, strs: s.Actions, config: cfg}
}
