// Package lsyncdconf reads lsyncd's command lines and layer-4 Lua
// configuration files (sync{default.rsync|rsyncssh|direct, ...}) into plain
// Go values, so that gsync can run them unchanged.
//
// Accepted: settings{} and sync{} blocks built on default.rsync,
// default.rsyncssh and default.direct (layer 4), and sync{} blocks whose
// actions are layer-1 strings (onCreate = "cp ^sourcePath ^targetPath",
// actions.go) or layer-2/3 Lua functions (action = function(inlet),
// layer2.go), which package actions runs. Hooks into lsyncd's runner
// (prepare, checkgauge, createBlanketEvent, ...) are refused with an
// error naming the key and the config line. The Lua runs with the globals lsyncd 2.2.3
// gives a config (log, settings, readdir, debug.getinfo, ...; env.go) in a
// sandbox that only reads files: running programs, writing files and
// loading code from other files are errors naming the call.
package lsyncdconf

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gsync/gsync/filter"
)

// Kinds of sync (lsyncd's default.* prototypes).
const (
	KindRsync    = "rsync"
	KindRsyncSSH = "rsyncssh"
	KindDirect   = "direct"
)

// Config is a whole lsyncd configuration: global settings and the syncs.
type Config struct {
	Settings Settings
	Syncs    []Sync
	// Messages are the log() calls the config made while it loaded, in
	// order; the caller logs them.
	Messages []Message
	// Warnings are things the config does that work but deserve a word
	// (lsyncd 2.0's settings = {...}, nodaemon = "false"), for the
	// caller to log.
	Warnings []string
}

// Settings are lsyncd's settings{} plus the global command-line options.
type Settings struct {
	LogFile        string
	PidFile        string
	StatusFile     string
	StatusInterval time.Duration // default 10 s
	NoDaemon       bool
	Insist         bool
	OnePass        bool
	InotifyMode    string // CloseWrite (default), Modify, "CloseWrite or Modify"
	MaxDelays      int    // 0: unset; else overrides every sync's maxDelays
	MaxProcesses   int    // 0: unset (gsync runs one batch per sync at a time)
	LogFacility    string
	LogIdent       string

	// Command line only.

	// Log holds the -log arguments: "all", "scarce" or category names.
	Log []string
	// Delay is -delay; it has already been applied to every sync.
	Delay *time.Duration
	// Version and Help are -version and -help.
	Version, Help bool
}

// Sync is one sync{} block (or one -rsync/-rsyncssh/-direct option).
type Sync struct {
	Kind      string // KindRsync, KindRsyncSSH, KindDirect or KindActions
	Source    string
	Target    string // rsync and direct; for rsyncssh it is set to HOST:TARGETDIR
	Host      string // rsyncssh
	TargetDir string // rsyncssh
	// Delay is the effective delay: the sync's own, else the kind's default
	// (15 s for rsync and rsyncssh, 1 s for direct), overridden by -delay.
	Delay        *time.Duration
	MaxDelays    int // default 1000
	MaxProcesses int // default 1; recorded only
	Exclude      []string
	Filter       []string
	ExcludeFrom  string
	FilterFrom   string
	// Delete is "true" (default), "false", "startup" or "running".
	Delete string
	// Init is false when init = false skips the startup transfer.
	Init  bool
	Rsync RsyncOpts
	SSH   SSHOpts
	// Actions are a KindActions sync's layer-1 actions (actions.go).
	Actions Actions
	// Lua, when set, are a KindActions sync's layer-2/3 functions
	// (action, collect, on* functions; layer2.go); Actions then holds
	// its layer-1 strings, which Lua runs as lsyncd does.
	Lua *LuaActions
	lua *luaFuncs
	// ExitCodes is a KindActions sync's exitcodes table: what an exit
	// code of an action means ("ok", "again" or "die"); nil: 0 is "ok",
	// anything else "die" (default.lua: default.collect).
	ExitCodes map[int]string
	// Crontab holds lsyncd 2.3's crontab patterns: a full sync runs at
	// each time one of them names (internal/cronsched reads them).
	Crontab []string
	// File and Line locate the sync{} call (empty and 0 for command-line
	// syncs).
	File string
	Line int
}

// Where names the sync for messages: "file:line" or "command line".
func (s *Sync) Where() string {
	if s.File == "" {
		return "command line"
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// ReadFilterFile reads an lsyncd filterFrom file: one "+ pattern" or
// "- pattern" rule per line; blank lines and "#" comments are skipped
// (lsyncd.lua: Filters.loadFile).
func ReadFilterFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read filter file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if !strings.HasPrefix(line, "+ ") && !strings.HasPrefix(line, "- ") {
			return nil, fmt.Errorf("read filter file %s:%d: %q is not \"+ pattern\" or \"- pattern\"", path, n, line)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read filter file %s: %w", path, err)
	}
	return out, nil
}

// SSHOpts is default.rsyncssh's ssh={...}.
type SSHOpts struct {
	Binary       string
	IdentityFile string
	Port         int
	// Options are the -o KEY=VALUE options, sorted by key.
	Options [][2]string
	Extra   []string // _extra
}

// Args returns the ssh={} options as ssh arguments, one word each (never
// quoted for a shell): they go after rsync.rsh's. lsyncd passes both as
// separate --rsh options and the last one silently wins (lsyncd #180);
// gsync combines them.
func (o SSHOpts) Args() []string {
	var args []string
	if o.Port != 0 {
		args = append(args, "-p", fmt.Sprint(o.Port))
	}
	if o.IdentityFile != "" {
		args = append(args, "-i", o.IdentityFile)
	}
	for _, kv := range o.Options {
		args = append(args, "-o", kv[0]+"="+kv[1])
	}
	return append(args, o.Extra...)
}

// defaultDelay is lsyncd's per-kind default delay.
func defaultDelay(kind string) time.Duration {
	if kind == KindDirect {
		return time.Second
	}
	return 15 * time.Second
}

// finish fills in defaults and checks the cross-key rules of one sync.
func (s *Sync) finish() error {
	if s.Source == "" {
		return fmt.Errorf("sync{}: source is missing")
	}
	switch s.Kind {
	case KindRsync, KindDirect:
		if s.Target == "" {
			return fmt.Errorf("sync{}: target is missing")
		}
		if s.Host != "" || s.TargetDir != "" {
			return fmt.Errorf("sync{}: host and targetdir belong to default.rsyncssh; default.%s takes target", s.Kind)
		}
	case KindRsyncSSH:
		if s.Target != "" {
			return fmt.Errorf("sync{}: default.rsyncssh takes host and targetdir, not target")
		}
		if s.Host == "" || s.TargetDir == "" {
			return fmt.Errorf("sync{}: default.rsyncssh needs host and targetdir")
		}
		s.Target = s.Host + ":" + s.TargetDir
	case KindActions:
		if err := s.finishActions(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("sync{}: no default.rsync, default.rsyncssh or default.direct given")
	}
	if s.Kind == KindDirect && strings.Contains(s.Target, ":") && !strings.HasPrefix(s.Target, "/") && !strings.HasPrefix(s.Target, ".") {
		return fmt.Errorf("sync{}: default.direct needs a local directory as target, got %q", s.Target)
	}
	if s.Delay == nil {
		d := defaultDelay(s.Kind)
		s.Delay = &d
	}
	if s.MaxDelays == 0 {
		s.MaxDelays = 1000
	}
	if s.MaxProcesses == 0 {
		s.MaxProcesses = 1
	}
	if s.Delete == "" {
		s.Delete = "true"
	}
	s.Rsync.finish()
	if _, err := filter.New(s.Exclude, s.Filter); err != nil {
		return fmt.Errorf("sync{}: %w", err)
	}
	return nil
}

// newSync returns a sync of kind with the kind's defaults.
func newSync(kind string) Sync {
	return Sync{Kind: kind, Init: true, Rsync: defaultRsync()}
}
