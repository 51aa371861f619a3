package mirror

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/hooks"
	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/watcher"
)

// Config is one source, its rules and its targets.
type Config struct {
	Name   string // the sync's name for log lines ("": none)
	Source string // the source directory

	Excludes []string // lsyncd-style exclude patterns
	// RulesOrigin names where Excludes and Filters were given, for gsync
	// explain ("file:line" of an lsyncd sync; "": the command line).
	RulesOrigin string
	ExcludeFrom []string // files of exclude patterns
	Filters     []string // lsyncd's filter rules ("+ pat", "- pat")
	// Writes says which kernel events report a written file (lsyncd's
	// inotifyMode); the zero value takes both.
	Writes watcher.WriteEvents
	// Rules are filter options in rsync's meaning (the command line's
	// --filter, --include, --exclude, ..., -F), checked before the
	// lsyncd lists.
	Rules []filter.Spec
	// DeleteExcluded is rsync's --delete-excluded as the rules see it
	// (filter.Options.DeleteExcluded: only receiver-side rules protect);
	// the targets get it through their own options.
	DeleteExcluded bool
	// CVSExclude is rsync's -C (filter.Options.CVSExclude: per-directory
	// .cvsignore files and the global CVS ignore list, after every other
	// rule); CVSHome and CVSEnv are where that list reads ~/.cvsignore
	// and $CVSIGNORE's words.
	CVSExclude      bool
	CVSHome, CVSEnv string
	// OneFileSystem: file systems mounted below the source are not
	// mirrored (their mount points are).
	OneFileSystem bool

	Delay     time.Duration
	MaxDelays int // at least 1
	Delete    transport.DeleteMode
	DryRun    bool
	// Insist: a failed startup sync is retried instead of ending the mirror.
	Insist bool
	// NoInit: no startup full sync (lsyncd's init = false).
	NoInit bool
	// Once: run the startup full syncs, then end.
	Once bool
	// AllowEmptySource lets a full sync mirror an empty source.
	AllowEmptySource bool
	// MaxDelete > 0 holds back the deletions of a sync that would delete
	// more entries than this.
	MaxDelete int

	Targets []Target
	// Processes, when set, caps the pushes in flight of this mirror and
	// every other that shares it (lsyncd's settings{ maxProcesses }, one
	// cap across the syncs of a config), full syncs included; each
	// target's MaxProcesses caps it as well. nil: no shared cap.
	Processes *Processes
	// StateDir holds the tree index of each target ("": none): a
	// restart pushes what changed since the last full sync, then runs
	// a full sync to verify (package state).
	StateDir string

	// Hooks run after each push of a target that went through, batch or
	// full sync (package hooks; not with DryRun), each for at most
	// HookTimeout (0: hooks.DefaultTimeout), with HookEnv (the caller's
	// os.Environ()) and the GSYNC_ variables as their environment.
	// VerifyEvery > 0 compares each target with the source this often
	// (after its startup sync) over a connection of its own, logging and
	// counting the drift found, and repairing it unless VerifyOnly;
	// VerifyChecksum compares file content (rsync -c).
	VerifyEvery    time.Duration
	VerifyOnly     bool
	VerifyChecksum bool

	// FullSyncAt, when set, schedules full syncs of every running target
	// (lsyncd 2.3's crontab, --full-sync-cron): one is queued at each
	// time it returns, as SIGHUP queues one. Next returns the first time
	// after its argument (zero: never again).
	FullSyncAt Schedule

	Hooks       []hooks.Command
	HookTimeout time.Duration
	HookEnv     []string

	// Watch opens the watcher; nil: watcher.New with WatchBackend.
	Watch        func(ctx context.Context, opts watcher.Options) (watcher.Watcher, error)
	WatchBackend string
	Clock        Clock        // nil: the wall clock
	Log          *slog.Logger // nil: nothing is logged
	// Handover carries queued changes across config reloads (nil: none).
	Handover *Handover
	// Progress, with Once, starts a progress display of the startup syncs
	// (nil: none): add counts a file sent, stop ends the display.
	Progress func(ctx context.Context, src string, rules *filter.Set) (add func(rel string, size int64), stop func())
}

// Schedule names times (cronsched.Schedule is one).
type Schedule interface {
	Next(after time.Time) time.Time
}

// EventTarget is a transport.Target that runs each change as an event,
// in order (lsyncd's layer-1 actions, package actions), rather than
// making paths equal to the source: a rename right after a batch cannot
// move what the batch wrote, so its collator has no move guard
// (delay.Config.MoveGuard).
type EventTarget interface {
	EventBased() bool
}

// FullSyncWaiter is a transport.Target whose full syncs wait for
// something outside the mirror first (the startup syncs of other syncs
// writing into the same tree): the engine waits with WaitFullSync before
// the full sync takes a process of Config.Processes, which the others
// may need to get there.
type FullSyncWaiter interface {
	WaitFullSync(ctx context.Context) error
}

// Target is one target of the mirror.
type Target struct {
	Spec string // the target as given, for log lines
	// StateKey names the target's own options that decide what lands
	// there (attributes, ...): a tree index of other options is not used.
	StateKey string
	Name     string // the sync's own name for log lines ("": Config.Name)
	// Open opens the target with the source's rules and opts (called
	// once for the target and, with MaxDelete, for its twins); localDir
	// is the target directory of a local target, "" otherwise.
	Open   func(rules *filter.Set, opts transport.Options) (t transport.Target, localDir string, err error)
	Status *Status // nil: not published
	// MaxProcesses > 1 lets up to this many pushes of a batch run at
	// once (lsyncd's maxProcesses), each on a target of its own opened
	// with Open, on groups of changes whose paths are disjoint (see
	// splitChanges); full syncs run alone. 0 or 1: one push at a time.
	// A target that runs events (EventTarget) runs the events of each
	// group in order, the groups at once.
	MaxProcesses int
	// HardLinks: the target keeps hard links (-H). A batch split for
	// MaxProcesses keeps every change that may send a name of a
	// multiply linked file in one push (see Mirror.hardLinked).
	HardLinks bool
	// Effects, when set, says what a change of a path does on a target
	// that is not a mirror (lsyncd's actions), for gsync explain; nil:
	// the mirror's own rules.
	Effects func(rel string, isDir bool) []string
}

// MaxProcessesLimit caps Target.MaxProcesses: each push holds a
// connection of its own.
const MaxProcessesLimit = 64

// validate checks what New cannot infer.
func (c *Config) validate() error {
	if c.MaxDelays < 1 {
		return configErrorf("invalid --max-delays %d: must be at least 1", c.MaxDelays)
	}
	if c.MaxDelete < 0 {
		return configErrorf("invalid --max-delete %d: must be 0 (no limit) or more", c.MaxDelete)
	}
	if c.VerifyEvery < 0 {
		return configErrorf("invalid --verify-every %s: must be positive (0: off)", c.VerifyEvery)
	}
	if c.HookTimeout < 0 {
		return configErrorf("invalid --on-push-timeout %s: must be positive", c.HookTimeout)
	}
	if len(c.Targets) == 0 {
		return configErrorf("no target for source %s", c.Source)
	}
	for _, t := range c.Targets {
		if t.MaxProcesses < 0 || t.MaxProcesses > MaxProcessesLimit {
			return configErrorf("invalid --max-processes %d for %s: must be 1 to %d", t.MaxProcesses, t.Spec, MaxProcessesLimit)
		}
	}
	return nil
}

// checkSource returns the absolute, symlink-resolved source directory.
func checkSource(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", configErrorf("source %q: %v", p, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", configErrorf("source %s does not exist; create it or fix the path", p)
		}
		return "", configErrorf("source %s: %v", p, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", configErrorf("source %s: %v", p, err)
	}
	if !fi.IsDir() {
		return "", configErrorf("source %s is not a directory; gsync mirrors directory trees", p)
	}
	return real, nil
}
