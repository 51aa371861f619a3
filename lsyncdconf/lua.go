package lsyncdconf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/gsync/gsync/internal/cronsched"
)

// loadTimeout bounds running a config file (a loop that never ends).
const loadTimeout = 10 * time.Second

// settingKeys are the keys settings{} accepts (lsyncd.lua: settingsCheckgauge).
var settingKeys = map[string]bool{
	"logfile": true, "pidfile": true, "statusFile": true, "statusInterval": true,
	"nodaemon": true, "insist": true, "inotifyMode": true, "maxDelays": true,
	"maxProcesses": true, "logfacility": true, "logident": true, "onepass": true,
}

// hookKeys are keys of lsyncd's own layers that gsync does not run. The
// layer-1 action strings (onCreate = "...") are read by setAction
// (actions.go); action and collect functions of a sync without a
// default.* prototype by setLua (layer2.go).
var hookKeys = map[string]bool{
	"action": true, "collect": true, "prepare": true,
	"checkgauge": true, "rsyncExitCodes": true, "sshExitCodes": true,
}

// notSupported are known lsyncd keys gsync refuses, with the reason.
var notSupported = map[string]string{
	"tunnel":         "ssh tunnels are not supported by gsync",
	"batchSizeLimit": "gsync runs one transfer per sync at a time",
	"monitor":        "", // accepted when "inotify"
}

// prototypes maps the default.* tables to their kind.
type loader struct {
	file   string
	protos map[*lua.LTable]string
	cfg    Config
	err    error // the first error raised by settings{} or sync{}
	// settingsFunc is the settings function; a config that replaced it
	// by a table wrote lsyncd 2.0's settings = {...}.
	settingsFunc lua.LValue
	// settingsRaw holds the values given to settings, for settings(key).
	settingsRaw map[string]lua.LValue
	// rt is the Lua state kept for layer-2/3 functions (layer2.go).
	rt *runtime
}

// LoadFile runs the lsyncd Lua config at path in a sandbox (no file,
// process or module access; 10 s at most) and returns its settings and
// syncs. Errors name the file, the line and the key.
func LoadFile(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Load(path, string(src))
}

// Load is LoadFile on config text; name is used in messages.
func Load(name, src string) (*Config, error) { return loadText(name, src, loadTimeout) }

func loadText(name, src string, timeout time.Duration) (*Config, error) {
	ld := &loader{file: name, protos: map[*lua.LTable]string{}, settingsRaw: map[string]lua.LValue{},
		cfg: Config{Settings: Settings{StatusInterval: 10 * time.Second}}}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	ld.rt = &runtime{L: L}
	defer func() {
		// A config with layer-2/3 functions keeps its state for them.
		for _, s := range ld.cfg.Syncs {
			if s.Lua != nil {
				return
			}
		}
		L.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	L.SetContext(ctx)
	ld.openLibs(L)

	fn, err := L.Load(strings.NewReader(src), name)
	if err != nil {
		return nil, fmt.Errorf("parse config %s: %w", name, err)
	}
	L.Push(fn)
	if err := L.PCall(0, 0, nil); err != nil {
		if ld.err != nil {
			return nil, ld.err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("run config %s: still running after %v (an endless loop?)", name, timeout)
		}
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			return nil, fmt.Errorf("run config %s: %s", name, strings.TrimSpace(ae.Object.String()))
		}
		return nil, fmt.Errorf("run config %s: %w", name, err)
	}
	switch v := L.GetGlobal("settings").(type) {
	case *lua.LFunction:
		if v != ld.settingsFunc {
			return nil, fmt.Errorf("%s:%d: the config replaced the settings function; write settings{...}", name, assignLine(src, "settings"))
		}
	case *lua.LTable:
		// lsyncd 2.0/2.1 style; lsyncd 2.2 refuses it, gsync reads it.
		line := assignLine(src, "settings")
		if err := ld.applySettings(v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		ld.cfg.Warnings = append(ld.cfg.Warnings, fmt.Sprintf("%s:%d: settings = {...} is lsyncd 2.0 style (lsyncd 2.2 refuses it); gsync reads it, but write settings{...} without \"=\"", name, line))
	default:
		return nil, fmt.Errorf("%s:%d: settings must stay the settings function; write settings{...}", name, assignLine(src, "settings"))
	}
	if len(ld.cfg.Syncs) == 0 {
		return nil, fmt.Errorf("config %s: no sync{} block", name)
	}
	if m := ld.cfg.Settings.MaxDelays; m > 0 {
		for i := range ld.cfg.Syncs {
			ld.cfg.Syncs[i].MaxDelays = m
		}
	}
	return &ld.cfg, nil
}

// assignLine returns the line of the first "name =" assignment in src, or 0.
func assignLine(src, name string) int {
	re := regexp.MustCompile(`(?m)^[ \t]*` + regexp.QuoteMeta(name) + `\s*=[^=]`)
	loc := re.FindStringIndex(src)
	if loc == nil {
		return 0
	}
	return strings.Count(src[:loc[0]], "\n") + 1
}

// raise records err with the caller's file and line and aborts the config.
func (ld *loader) raise(L *lua.LState, err error) int {
	if ld.err == nil {
		ld.err = fmt.Errorf("%s:%d: %w", ld.file, ld.line(L), err)
	}
	L.RaiseError("%s", ld.err.Error())
	return 0
}

// line is the line of the Lua code that called the running Go function.
func (ld *loader) line(L *lua.LState) int {
	if dbg, ok := L.GetStack(1); ok {
		if _, err := L.GetInfo("l", dbg, lua.LNil); err == nil && dbg.CurrentLine > 0 {
			return dbg.CurrentLine
		}
	}
	return 0
}

// settingsFn implements lsyncd's settings: settings{ key = value, ... }
// (also settings{ "nodaemon" }: a listed name is set to true), and
// settings("key"), which returns the value set (lsyncd.lua: settings).
func (ld *loader) settingsFn(L *lua.LState) int {
	switch a := L.Get(1).(type) {
	case lua.LString:
		v, ok := ld.settingsRaw[string(a)]
		if !ok {
			v = lua.LNil
		}
		L.Push(v)
		return 1
	case *lua.LTable:
		if err := ld.applySettings(a); err != nil {
			return ld.raise(L, err)
		}
		return 0
	}
	return ld.raise(L, fmt.Errorf("settings: want settings{ key = value, ... } or settings(\"key\")"))
}

// applySettings applies the keys of a settings table.
func (ld *loader) applySettings(t *lua.LTable) error {
	s := &ld.cfg.Settings
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		var key string
		switch x := k.(type) {
		case lua.LString:
			key = string(x)
		case lua.LNumber:
			// settings{ "nodaemon" }: the listed name is set to true.
			name, ok := v.(lua.LString)
			if !ok {
				err = fmt.Errorf("settings{}: unexpected entry %v (want key = value)", v)
				return
			}
			key, v = string(name), lua.LTrue
		default:
			err = fmt.Errorf("settings{}: unexpected entry %v (want key = value)", v)
			return
		}
		if err = s.set(key, v); err == nil {
			ld.settingsRaw[key] = v
			if w := falseString(key, v); w != "" {
				ld.cfg.Warnings = append(ld.cfg.Warnings, w)
			}
		}
	})
	return err
}

func (s *Settings) set(key string, v lua.LValue) error {
	if !settingKeys[key] {
		return fmt.Errorf("settings{}: setting %q unknown (known: %s)", key, strings.Join(sortedKeys(settingKeys), ", "))
	}
	var err error
	switch key {
	case "logfile":
		s.LogFile, err = str(key, v)
	case "pidfile":
		s.PidFile, err = str(key, v)
	case "statusFile":
		s.StatusFile, err = str(key, v)
	case "statusInterval":
		var f float64
		if f, err = num(key, v); err == nil {
			s.StatusInterval = seconds(f)
		}
	case "nodaemon":
		s.NoDaemon, err = boolean(key, v)
	case "insist":
		s.Insist, err = boolean(key, v)
	case "onepass":
		s.OnePass, err = boolean(key, v)
	case "inotifyMode":
		if s.InotifyMode, err = str(key, v); err == nil {
			switch s.InotifyMode {
			case "CloseWrite", "Modify", "CloseWrite or Modify":
			default:
				err = fmt.Errorf("settings{}: inotifyMode %q: want \"CloseWrite\", \"Modify\" or \"CloseWrite or Modify\"", s.InotifyMode)
			}
		}
	case "maxDelays":
		s.MaxDelays, err = positiveInt(key, v)
	case "maxProcesses":
		s.MaxProcesses, err = positiveInt(key, v)
	case "logfacility":
		s.LogFacility = v.String() // a name or a number
	case "logident":
		s.LogIdent, err = str(key, v)
	}
	return err
}

// syncFn implements sync{...}.
func (ld *loader) syncFn(L *lua.LState) int {
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		return ld.raise(L, fmt.Errorf("sync: want sync{ default.rsync, source = ..., ... }"))
	}
	s, err := ld.parseSync(t)
	if err != nil {
		return ld.raise(L, err)
	}
	s.File, s.Line = ld.file, ld.line(L)
	ld.cfg.Syncs = append(ld.cfg.Syncs, s)
	return 0
}

// layers lists t and the tables it inherits from (its integer-keyed
// table entries, recursively, in order), the first with the highest
// priority, like lsyncd.lua's Syncs.inherit. kind is the first default.*
// prototype found.
func (ld *loader) layers(t *lua.LTable, out []*lua.LTable, kind *string, depth int) ([]*lua.LTable, error) {
	if depth > 20 {
		return nil, fmt.Errorf("sync{}: prototypes nested too deeply (a table that contains itself?)")
	}
	if k, ok := ld.protos[t]; ok {
		if *kind == "" {
			*kind = k
		}
		// Keys a config set on a prototype (default.rsync.delay = 5)
		// apply to every sync built on it; default.rsyncssh inherits
		// default.rsync (default-rsyncssh.lua: rsyncssh = { default.rsync }).
		out = append(out, t)
		if k == KindRsyncSSH {
			for p, pk := range ld.protos {
				if pk == KindRsync {
					out = append(out, p)
				}
			}
		}
		return out, nil
	}
	out = append(out, t)
	for i := 1; i <= t.MaxN(); i++ {
		switch v := t.RawGetInt(i).(type) {
		case *lua.LTable:
			var err error
			if out, err = ld.layers(v, out, kind, depth+1); err != nil {
				return nil, err
			}
		case *lua.LNilType:
		default:
			return nil, fmt.Errorf("sync{}: unexpected positional value %s (only prototypes such as default.rsync go without a key)", v.String())
		}
	}
	return out, nil
}

// parseSync turns one sync{} table into a Sync.
func (ld *loader) parseSync(t *lua.LTable) (Sync, error) {
	var kind string
	layers, err := ld.layers(t, nil, &kind, 0)
	if err != nil {
		return Sync{}, err
	}
	if kind == "" {
		// No prototype: a layer-1 sync, whose on* strings are its actions.
		kind = KindActions
	}
	// Merge the layers: a key's first value wins; rsync and ssh tables
	// merge key by key.
	vals := map[string]lua.LValue{}
	subs := map[string][]*lua.LTable{}
	for _, l := range layers {
		var err error
		l.ForEach(func(k, v lua.LValue) {
			if err != nil {
				return
			}
			if _, isNum := k.(lua.LNumber); isNum {
				return
			}
			key, ok := k.(lua.LString)
			if !ok {
				err = fmt.Errorf("sync{}: unexpected key %s", k.String())
				return
			}
			name := string(key)
			if name == "rsync" || name == "ssh" {
				st, ok := v.(*lua.LTable)
				if !ok {
					err = fmt.Errorf("sync{}: %s must be a table, got %s", name, v.Type())
					return
				}
				subs[name] = append(subs[name], st)
				return
			}
			if _, seen := vals[name]; !seen {
				vals[name] = v
			}
		})
		if err != nil {
			return Sync{}, err
		}
	}
	if kind == KindActions && len(subs["rsync"])+len(subs["ssh"]) > 0 {
		return Sync{}, fmt.Errorf("sync{}: rsync = {...} and ssh = {...} belong to default.rsync, default.rsyncssh or default.direct; a sync with layer-1 actions (onCreate = \"...\") runs no rsync")
	}
	s := newSync(kind)
	for _, key := range sortedKeys(vals) {
		if err := s.set(key, vals[key]); err != nil {
			return Sync{}, err
		}
	}
	if len(subs["ssh"]) > 0 && kind != KindRsyncSSH {
		return Sync{}, fmt.Errorf("sync{}: ssh = {...} belongs to default.rsyncssh (for default.%s use rsync = { rsh = \"ssh ...\" })", kind)
	}
	if err := mergeSub(subs["rsync"], func(k string, v lua.LValue) error { return s.setRsync(k, v) }); err != nil {
		return Sync{}, err
	}
	if err := mergeSub(subs["ssh"], s.setSSH); err != nil {
		return Sync{}, err
	}
	sort.Slice(s.SSH.Options, func(i, j int) bool { return s.SSH.Options[i][0] < s.SSH.Options[j][0] })
	if err := s.finish(); err != nil {
		return Sync{}, err
	}
	if s.lua != nil {
		s.Lua = ld.luaActions(&s, vals)
	}
	return s, nil
}

// mergeSub applies the keys of several rsync or ssh tables, the first
// table's value of a key winning.
func mergeSub(tables []*lua.LTable, set func(string, lua.LValue) error) error {
	seen := map[string]bool{}
	for _, t := range tables {
		var keys []string
		vals := map[string]lua.LValue{}
		var err error
		t.ForEach(func(k, v lua.LValue) {
			key, ok := k.(lua.LString)
			if !ok {
				if err == nil {
					err = fmt.Errorf("unexpected entry %s in an rsync or ssh table (want key = value)", v.String())
				}
				return
			}
			keys = append(keys, string(key))
			vals[string(key)] = v
		})
		if err != nil {
			return fmt.Errorf("sync{}: %w", err)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if seen[k] {
				continue
			}
			seen[k] = true
			if err := set(k, vals[k]); err != nil {
				return fmt.Errorf("sync{}: %w", err)
			}
		}
	}
	return nil
}

// set applies one key of a sync{} table.
func (s *Sync) set(key string, v lua.LValue) error {
	if (key == "action" || key == "collect") && s.Kind == KindActions {
		return s.setLua(key, v)
	}
	if (key == "action" || key == "collect") && hookKeys[key] {
		return fmt.Errorf("sync{}: %q on default.%s: gsync runs action and collect functions in a sync without default.rsync, default.rsyncssh or default.direct (it has no Lua default.%s.action to hand events on to); for a command after each transfer use --on-push", key, s.Kind, s.Kind)
	}
	if hookKeys[key] {
		return fmt.Errorf("sync{}: %q is an lsyncd hook into its runner (prepare, checkgauge, rsyncExitCodes, sshExitCodes), which gsync does not run; action, collect and on* functions and strings are run", key)
	}
	if strings.HasPrefix(key, "on") && slices.Contains(actionKeys, key) {
		if s.Kind != KindActions {
			if _, ok := v.(lua.LBool); ok && key == "onMove" {
				return nil // default.rsync's own onMove = true
			}
			return fmt.Errorf("sync{}: %s is a layer-1 action, which default.%s does not run (lsyncd: parameter unknown); use a sync{} without default.%s, or gsync's --on-push hooks", key, s.Kind, s.Kind)
		}
		return s.setAction(key, v)
	}
	if s.Kind == KindActions {
		switch key {
		case "rsync", "ssh", "host", "targetdir", "delete":
			return fmt.Errorf("sync{}: %s belongs to default.rsync, default.rsyncssh or default.direct; a sync with layer-1 actions (onCreate = \"...\") runs no rsync", key)
		}
	}
	if why, ok := notSupported[key]; ok && key != "monitor" {
		return fmt.Errorf("sync{}: %q: %s", key, why)
	}
	var err error
	switch key {
	case "source":
		s.Source, err = str(key, v)
	case "target":
		s.Target, err = str(key, v)
	case "host":
		if s.Kind != KindRsyncSSH {
			return fmt.Errorf("sync{}: host belongs to default.rsyncssh")
		}
		s.Host, err = str(key, v)
	case "targetdir":
		if s.Kind != KindRsyncSSH {
			return fmt.Errorf("sync{}: targetdir belongs to default.rsyncssh")
		}
		s.TargetDir, err = str(key, v)
	case "delay":
		var f float64
		if f, err = num(key, v); err == nil {
			d := seconds(f)
			s.Delay = &d
		}
	case "maxDelays":
		s.MaxDelays, err = positiveInt(key, v)
	case "maxProcesses":
		s.MaxProcesses, err = positiveInt(key, v)
		if err == nil && s.Kind == KindRsyncSSH && s.MaxProcesses != 1 {
			err = fmt.Errorf("sync{}: default.rsyncssh must have maxProcesses set to 1")
		}
	case "exclude":
		s.Exclude, err = strList(key, v)
	case "filter":
		s.Filter, err = strList(key, v)
	case "excludeFrom":
		s.ExcludeFrom, err = str(key, v)
	case "filterFrom":
		s.FilterFrom, err = str(key, v)
	case "delete":
		switch x := v.(type) {
		case lua.LBool:
			s.Delete = fmt.Sprint(bool(x))
		case lua.LString:
			if x != "startup" && x != "running" {
				return fmt.Errorf("sync{}: delete = %q: want true, false, 'startup' or 'running'", string(x))
			}
			s.Delete = string(x)
		default:
			return fmt.Errorf("sync{}: delete must be true, false, 'startup' or 'running', got %s", v.Type())
		}
	case "init":
		if _, ok := v.(*lua.LFunction); ok {
			return fmt.Errorf("sync{}: init = function is an lsyncd layer 1 hook; gsync takes only init = false")
		}
		s.Init = lua.LVAsBool(v) // Lua's truth, as lsyncd.lua's "if s.config.init"
	case "exitcodes":
		if s.Kind != KindActions {
			return fmt.Errorf("sync{}: exitcodes belongs to a sync with layer-1 actions (default.%s has its own)", s.Kind)
		}
		s.ExitCodes, err = exitCodes(v)
	case "crontab":
		if s.Kind == KindActions {
			// lsyncd 2.3 queues a "Full" event, which default.action hands
			// to config.onFull: no layer-1 sync has one.
			return fmt.Errorf("sync{}: crontab repeats the full sync of default.rsync, default.rsyncssh or default.direct; a sync with actions has none (lsyncd 2.3 hands it an event no action takes)")
		}
		if s.Crontab, err = strList(key, v); err == nil {
			_, err = cronsched.Parse(s.Crontab)
			if err != nil {
				err = fmt.Errorf("sync{}: crontab: %w", err)
			}
		}
	case "monitor":
		if v.String() != "inotify" {
			return fmt.Errorf("sync{}: monitor = %q: gsync uses inotify", v.String())
		}
	default:
		return fmt.Errorf("sync{}: unknown key %q", key)
	}
	return err
}

// setRsync applies one key of rsync={...}.
func (s *Sync) setRsync(key string, v lua.LValue) error {
	var x any
	if rsyncKeyKind(key) == "bool" {
		// default-rsync.lua tests each flag with "if crsync[k]": any
		// value but false and nil sets it.
		return s.Rsync.set(key, lua.LVAsBool(v))
	}
	switch v := v.(type) {
	case lua.LBool:
		x = bool(v)
	case lua.LNumber:
		x = float64(v)
	case lua.LString:
		x = string(v)
	case *lua.LTable:
		list, err := strList("rsync."+key, v)
		if err != nil {
			return err
		}
		x = list
	default:
		x = v.String()
	}
	return s.Rsync.set(key, x)
}

// setSSH applies one key of ssh={...}.
func (s *Sync) setSSH(key string, v lua.LValue) error {
	var err error
	switch key {
	case "binary":
		s.SSH.Binary, err = str("ssh.binary", v)
	case "identityFile":
		s.SSH.IdentityFile, err = str("ssh.identityFile", v)
	case "port":
		s.SSH.Port, err = positiveInt("ssh.port", v)
		if err == nil && s.SSH.Port > 65535 {
			err = fmt.Errorf("ssh.port %d: want 1 to 65535", s.SSH.Port)
		}
	case "_extra":
		s.SSH.Extra, err = strList("ssh._extra", v)
	case "options":
		t, ok := v.(*lua.LTable)
		if !ok {
			return fmt.Errorf("ssh.options must be a table of KEY = VALUE, got %s", v.Type())
		}
		t.ForEach(func(k, val lua.LValue) {
			if err != nil {
				return
			}
			if _, ok := k.(lua.LString); !ok {
				err = fmt.Errorf("ssh.options must be a table of KEY = VALUE")
				return
			}
			s.SSH.Options = append(s.SSH.Options, [2]string{k.String(), val.String()})
		})
	default:
		return fmt.Errorf("ssh.%s: unknown key (known: binary, identityFile, options, port, _extra)", key)
	}
	return err
}

func str(key string, v lua.LValue) (string, error) {
	switch x := v.(type) {
	case lua.LString:
		return string(x), nil
	case lua.LNumber:
		return formatNumber(float64(x)), nil
	}
	return "", fmt.Errorf("%s must be a string, got %s", key, v.Type())
}

func num(key string, v lua.LValue) (float64, error) {
	x, ok := v.(lua.LNumber)
	if !ok || math.IsNaN(float64(x)) || float64(x) < 0 || math.IsInf(float64(x), 0) {
		return 0, fmt.Errorf("%s must be a number >= 0, got %s", key, v.String())
	}
	return float64(x), nil
}

func positiveInt(key string, v lua.LValue) (int, error) {
	f, err := num(key, v)
	if err != nil || f < 1 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, fmt.Errorf("%s must be a whole number >= 1, got %s", key, v.String())
	}
	return int(f), nil
}

// boolean reads a boolean setting as lsyncd does: any value but nil and
// false is true (Lua's truth), so nodaemon = "true" and nodaemon = 1 are
// true.
func boolean(_ string, v lua.LValue) (bool, error) {
	return lua.LVAsBool(v), nil
}

// falseString returns a warning for a boolean setting given as a string
// that reads as false to a person but is true to Lua (and lsyncd), or "".
func falseString(key string, v lua.LValue) string {
	s, ok := v.(lua.LString)
	if !ok {
		return ""
	}
	switch strings.ToLower(string(s)) {
	case "false", "no", "off", "0":
		if k := boolKeys[key]; k {
			return fmt.Sprintf("settings{}: %s = %q is true, as in lsyncd (every value but false and nil is); write %s = false", key, string(s), key)
		}
	}
	return ""
}

// boolKeys are the boolean settings.
var boolKeys = map[string]bool{"nodaemon": true, "insist": true, "onepass": true}

// strList accepts a string or a list of strings (lsyncd's exclude).
func strList(key string, v lua.LValue) ([]string, error) {
	switch x := v.(type) {
	case lua.LString:
		return []string{string(x)}, nil
	case *lua.LTable:
		var out []string
		var err error
		n := x.MaxN()
		x.ForEach(func(k, e lua.LValue) {
			if err != nil {
				return
			}
			if i, ok := k.(lua.LNumber); !ok || int(i) < 1 || int(i) > n {
				err = fmt.Errorf("%s must be a list of strings, has key %s", key, k.String())
			}
		})
		for i := 1; i <= n && err == nil; i++ {
			s, e := str(key, x.RawGetInt(i))
			if e != nil {
				return nil, fmt.Errorf("%s[%d]: %w", key, i, e)
			}
			out = append(out, s)
		}
		return out, err
	}
	return nil, fmt.Errorf("%s must be a string or a list of strings, got %s", key, v.Type())
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
