package lsyncdconf

import (
	"fmt"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// KindActions is a sync without a default.* prototype whose events run
// lsyncd layer-1 actions: onCreate = "...", onModify, onDelete, onMove,
// onAttrib and onStartup given as strings (lsyncd's "layer 3" in its
// manual's numbering of the config layers, "layer 1" in the issue's).
const KindActions = "actions"

// Event types of lsyncd's layer-1 actions (default.lua: default.action
// calls config["on"..event.etype]); Startup is onStartup (default.init).
const (
	EtypeAttrib  = "Attrib"
	EtypeCreate  = "Create"
	EtypeModify  = "Modify"
	EtypeDelete  = "Delete"
	EtypeMove    = "Move"
	EtypeStartup = "Startup"
)

// actionKeys are the sync{} keys that hold a layer-1 action, in the order
// lsyncd.lua translates them (ufuncs in lsyncd.lua's runner initialize).
var actionKeys = []string{"onAttrib", "onCreate", "onDelete", "onModify", "onMove", "onStartup"}

// Action is one layer-1 action string, translated the way lsyncd 2.2.3
// translates it into a Lua function (lsyncd.lua: functionWriter.translate):
// a string starting with "/" runs that program directly with its
// space-separated words as arguments (translateBinary); any other string
// (a leading "^" forces this) is a /bin/sh script whose variables
// (^pathname, ^sourcePath, ^o.targetPath, ...) become positional
// parameters "$1", "$2", ... handed to the shell as separate arguments
// (translateShell), so a file name is never read as shell syntax.
type Action struct {
	// Key is the config key (onCreate, ...); Text the string as given,
	// trimmed.
	Key, Text string
	// Shell: run Script through the shell with Vars' values as $1...
	Shell  bool
	Script string
	Vars   []string
	// Args are the program and its arguments (Shell false): each word is
	// a list of pieces, literal text or a variable.
	Args [][]Piece
	// None is onMove = true: moves are wanted (not split into Delete and
	// Create) but run nothing.
	None bool
}

// Piece is a literal piece of a program argument (Var == "") or a
// variable (Var, e.g. "pathname" or "d.targetPath").
type Piece struct{ Lit, Var string }

// transVars are the variables of layer-1 strings, in the order lsyncd.lua
// substitutes them (functionWriter's transVars): the order decides which
// of two overlapping names wins (^pathname before ^path). A "d." variable
// reads the destination of a move.
var transVars = []string{
	"pathname", "pathdir", "path",
	"sourcePathname", "sourcePathdir", "sourcePath", "source",
	"targetPathname", "targetPathdir", "targetPath", "target",
	"o.pathname", "o.path", "o.sourcePathname", "o.sourcePathdir", "o.sourcePath",
	"o.targetPathname", "o.targetPathdir", "o.targetPath",
	"d.pathname", "d.path", "d.sourcePathname", "d.sourcePathdir", "d.sourcePath",
	"d.targetPathname", "d.targetPathdir", "d.targetPath",
}

// translateAction translates one action string (functionWriter.translate).
func translateAction(key, text string) (*Action, error) {
	text = strings.TrimSpace(text)
	a := &Action{Key: key, Text: text}
	switch {
	case strings.HasPrefix(text, "/"):
		if err := a.translateBinary(text); err != nil {
			return nil, err
		}
	case strings.HasPrefix(text, "^"):
		a.translateShell(text[1:])
	default:
		a.translateShell(text)
	}
	for _, v := range a.vars() {
		if strings.HasPrefix(v, "d.") && key != "onMove" {
			return nil, fmt.Errorf("sync{}: %s: ^%s names the destination of a move; only onMove has one", key, v)
		}
	}
	return a, nil
}

// translateShell is lsyncd.lua's translateShell: every occurrence of each
// variable becomes "$N" (double-quoted), N counting the variables used.
func (a *Action) translateShell(s string) {
	a.Shell = true
	for _, v := range transVars {
		pat := "^" + v
		if !strings.Contains(s, pat) {
			continue
		}
		a.Vars = append(a.Vars, v)
		s = strings.ReplaceAll(s, pat, fmt.Sprintf(`"$%d"`, len(a.Vars)))
	}
	a.Script = s
}

// translateBinary is lsyncd.lua's translateBinary: the string split at
// spaces outside double quotes (splitStr; the quotes stay in the
// argument), then in each word every variable is cut out, the last
// occurrence first, as lsyncd's '(.*)^var(.*)' match does. lsyncd puts
// the literal pieces into Lua string literals, so Lua escapes in them
// (\t, \\, \065) are decoded; gsync decodes them the same way.
func (a *Action) translateBinary(s string) error {
	for _, word := range splitStr(s) {
		pieces := []piece{{lit: true, s: word}}
		for _, v := range transVars {
			pat := "^" + v
			for i := 0; i < len(pieces); i++ {
				p := pieces[i]
				if !p.lit {
					continue
				}
				at := strings.LastIndex(p.s, pat)
				if at < 0 {
					continue
				}
				pre, post := p.s[:at], p.s[at+len(pat):]
				var repl []piece
				if pre != "" {
					repl = append(repl, piece{lit: true, s: pre})
				}
				repl = append(repl, piece{s: v})
				if post != "" {
					repl = append(repl, piece{lit: true, s: post})
				}
				pieces = append(pieces[:i], append(repl, pieces[i+1:]...)...)
				// lsyncd goes on after the variable: pre is not searched
				// again for this variable, post is.
				if pre != "" {
					i++
				}
			}
		}
		var arg []Piece
		for _, p := range pieces {
			if !p.lit {
				arg = append(arg, Piece{Var: p.s})
				continue
			}
			lit, err := luaString(p.s)
			if err != nil {
				return fmt.Errorf("sync{}: %s: %q: %w", a.Key, word, err)
			}
			arg = append(arg, Piece{Lit: lit})
		}
		a.Args = append(a.Args, arg)
	}
	return nil
}

type piece struct {
	lit bool
	s   string
}

// splitStr is lsyncd.lua's splitStr: words end at a space outside double
// quotes; the quotes are kept; spaces around words are trimmed.
func splitStr(s string) []string {
	var out []string
	for s != "" {
		bp := len(s)
		in := false
		for i := 0; i < len(s); i++ {
			if s[i] == '"' {
				in = !in
			} else if s[i] == ' ' && !in {
				bp = i
				break
			}
		}
		out = append(out, s[:bp])
		s = strings.TrimSpace(s[bp:])
	}
	return out
}

// luaString decodes s as the body of a Lua double-quoted string literal
// (a '"' in it is taken literally, as lsyncd escapes it), by Lua itself.
func luaString(s string) (string, error) {
	if !strings.ContainsRune(s, '\\') {
		return s, nil
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	if err := L.DoString(`return "` + strings.ReplaceAll(s, `"`, `\"`) + `"`); err != nil {
		return "", fmt.Errorf("not a Lua string (lsyncd reads the words of a program action as Lua strings): %w", err)
	}
	return L.Get(-1).String(), nil
}

// vars lists the variables the action uses.
func (a *Action) vars() []string {
	if a.Shell {
		return a.Vars
	}
	var out []string
	for _, arg := range a.Args {
		for _, p := range arg {
			if p.Var != "" {
				out = append(out, p.Var)
			}
		}
	}
	return out
}

// UsesTarget reports whether the action reads the sync's target.
func (a *Action) UsesTarget() bool {
	for _, v := range a.vars() {
		if strings.Contains(strings.ToLower(v), "target") {
			return true
		}
	}
	return false
}

// Event is what an action sees of one event: lsyncd's event fields
// (lsyncd.lua: InletFactory's eventFields) are computed from these.
type Event struct {
	// Path is lsyncd's path of the event (getPath): relative to the
	// source but with a leading "/" (splitPath keeps the root's slash),
	// a trailing "/" for a directory; "" for onStartup's Init event.
	Path string
	// Source is the source directory, absolute, symlinks resolved, with
	// a trailing "/" (lsyncd's sync.source).
	Source string
	// Target is the sync's target as configured ("" when it has none).
	Target string
}

// Field returns one of lsyncd's event fields (eventFields in lsyncd.lua).
// As there, the relative fields (path, pathdir, pathname) drop the
// leading "/", and the others append the path with it to the source or
// target: "^sourcePath" of "d/f" is "/src/" + "/d/f", "/src//d/f".
func (e Event) Field(name string) string {
	raw := e.Path
	rel := strings.TrimPrefix(raw, "/")
	switch name {
	case "path":
		return rel
	case "pathdir":
		return dirOf(rel)
	case "pathname":
		return strings.TrimSuffix(rel, "/")
	case "source":
		return e.Source
	case "sourcePath":
		return e.Source + raw
	case "sourcePathdir":
		return e.Source + dirOf(raw)
	case "sourcePathname":
		return e.Source + strings.TrimSuffix(raw, "/")
	case "target":
		return e.Target
	case "targetPath":
		return e.Target + raw
	case "targetPathdir":
		return e.Target + dirOf(raw)
	case "targetPathname":
		return e.Target + strings.TrimSuffix(raw, "/")
	}
	return ""
}

// dirOf is lsyncd's match(p, '^(.*/)[^/]+/?') or ”: the part of p up to
// the last "/" before its last name.
func dirOf(p string) string {
	cut := strings.TrimSuffix(p, "/")
	i := strings.LastIndexByte(cut, '/')
	if i < 0 || i == len(cut)-1 {
		return ""
	}
	return cut[:i+1]
}

// value is a variable's value: "o." and plain names read ev, "d." names
// read ev2 (a move's destination).
func value(v string, ev, ev2 Event) string {
	if rest, ok := strings.CutPrefix(v, "d."); ok {
		return ev2.Field(rest)
	}
	return ev.Field(strings.TrimPrefix(v, "o."))
}

// Argv returns the command line for one event (ev2 is a move's
// destination): for a shell action shell, "-c", the script, shell (as
// $0) and the variables' values as $1..., as lsyncd's spawnShell runs
// it; for a program the words with the variables' values put in.
func (a *Action) Argv(shell string, ev, ev2 Event) []string {
	if a.Shell {
		argv := []string{shell, "-c", a.Script, shell}
		for _, v := range a.Vars {
			argv = append(argv, value(v, ev, ev2))
		}
		return argv
	}
	argv := make([]string, 0, len(a.Args))
	for _, arg := range a.Args {
		var b strings.Builder
		for _, p := range arg {
			if p.Var != "" {
				b.WriteString(value(p.Var, ev, ev2))
			} else {
				b.WriteString(p.Lit)
			}
		}
		argv = append(argv, b.String())
	}
	return argv
}

// Actions are a layer-1 sync's actions by event type (EtypeCreate, ...);
// a missing type runs nothing.
type Actions map[string]*Action

// NeedsShell reports whether an action runs through /bin/sh.
func (as Actions) NeedsShell() bool {
	for _, a := range as {
		if a != nil && a.Shell {
			return true
		}
	}
	return false
}

// setAction records one on* key of a sync{} table.
func (s *Sync) setAction(key string, v lua.LValue) error {
	etype := strings.TrimPrefix(key, "on")
	switch x := v.(type) {
	case lua.LString:
		a, err := translateAction(key, string(x))
		if err != nil {
			return err
		}
		if s.Actions == nil {
			s.Actions = Actions{}
		}
		s.Actions[etype] = a
		return nil
	case lua.LBool:
		if key == "onMove" && bool(x) {
			// lsyncd: "layer 1 scripts which want moves events have to
			// set onMove simply to 'true'" (Sync.delay).
			if s.Actions == nil {
				s.Actions = Actions{}
			}
			s.Actions[etype] = &Action{Key: key, None: true}
			return nil
		}
		if !bool(x) {
			return nil // false: as if not given
		}
	case *lua.LFunction:
		return s.setLua(key, v)
	}
	return fmt.Errorf("sync{}: %s must be a string (a layer-1 action), got %s", key, v.Type())
}

// finishActions checks a layer-1 sync: it has an action, and actions that
// read the target have one.
func (s *Sync) finishActions() error {
	if s.lua == nil && (len(s.Actions) == 0 || (len(s.Actions) == 1 && s.Actions[EtypeMove] != nil && s.Actions[EtypeMove].None)) {
		// lsyncd.lua Syncs.add: "no actions specified."
		return fmt.Errorf("sync{}: no actions specified (give default.rsync, default.rsyncssh, default.direct, or onCreate/onModify/onDelete/onMove/onAttrib strings)")
	}
	if s.Target == "" {
		types := make([]string, 0, len(s.Actions))
		for t := range s.Actions {
			types = append(types, t)
		}
		sort.Strings(types)
		for _, t := range types {
			if a := s.Actions[t]; a.UsesTarget() {
				return fmt.Errorf("sync{}: %s uses ^target..., but the sync has no target", a.Key)
			}
		}
	}
	if s.Delay == nil {
		// default.lua has no delay: lsyncd runs a layer-1 sync's events
		// at once (Sync.delay: "alarm = now()" without config.delay).
		var none time.Duration
		s.Delay = &none
	}
	return nil
}

// exitCodes reads an exitcodes table: { [exit code] = "ok" | "again" |
// "die" } (default.collect reads config.exitcodes[exitcode]).
func exitCodes(v lua.LValue) (map[int]string, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("sync{}: exitcodes must be a table { [code] = 'ok'|'again'|'die' }, got %s", v.Type())
	}
	out := map[int]string{}
	var err error
	t.ForEach(func(k, val lua.LValue) {
		if err != nil {
			return
		}
		n, ok := k.(lua.LNumber)
		if !ok || float64(n) != float64(int(n)) || n < 0 || n > 255 {
			err = fmt.Errorf("sync{}: exitcodes: key %s is not an exit code 0-255", k.String())
			return
		}
		switch rc := val.String(); rc {
		case "ok", "again", "die":
			out[int(n)] = rc
		default:
			err = fmt.Errorf("sync{}: exitcodes[%d] = %q: want 'ok', 'again' or 'die'", int(n), rc)
		}
	})
	return out, err
}
