package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/hooks"
	"github.com/gsync/gsync/internal/cronsched"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/ops"
	"github.com/gsync/gsync/transport"
)

// hookEnv is the environment --on-push hooks inherit: gsync's, without
// the rsync daemon password.
func hookEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "RSYNC_PASSWORD=") })
}

// mirrorConfig translates a parsed sync into the engine's configuration:
// its targets open through openTarget, status has one entry per target
// of cfg, in order.
func mirrorConfig(cfg *config, status []*mirror.Status, log *slog.Logger, carry *mirror.Handover) (mirror.Config, error) {
	warnFollowLinks(cfg, log)
	excludes, rules, cvs := cfg.excludes, cfg.rules, cfg.cvsExclude
	excludeFrom, filters := cfg.excludeFrom, cfg.filters
	if cfg.filesFrom != "" {
		if cfg.oneFileSystem {
			return mirror.Config{}, usagef("--files-from with --one-file-system is not supported")
		}
		only, err := readFilesFrom(cfg.filesFrom, cfg.from0)
		if err != nil {
			return mirror.Config{}, usageError{Err: err}
		}
		if only != nil {
			if filters, err = filesFromRules(only, filters, excludes, excludeFrom); err != nil {
				return mirror.Config{}, usageError{Err: err}
			}
			excludes, excludeFrom = nil, nil // now "- " rules before the paths' own
			if cvs {
				// -C's rules go last in rsync's list, but the paths'
				// rules end in "- *": they come before those, as the
				// last rsync-syntax rules.
				rules = append(slices.Clip(rules), filter.Spec{Kind: filter.SpecFilter, Arg: ":C"}, filter.Spec{Kind: filter.SpecFilter, Arg: "-C"})
				cvs = false
			}
		}
	}
	mc := mirror.Config{
		Name: cfg.name, Source: cfg.source,
		Excludes: excludes, ExcludeFrom: excludeFrom, Filters: filters, RulesOrigin: cfg.where,
		Rules:          rules,
		DeleteExcluded: cfg.sender.DeleteExcluded,
		CVSExclude:     cvs, CVSEnv: os.Getenv("CVSIGNORE"),
		OneFileSystem: cfg.oneFileSystem,
		Delay:         cfg.delay, MaxDelays: cfg.maxDelays, Delete: cfg.deleteMode,
		DryRun: cfg.dryRun, Insist: cfg.insist, NoInit: cfg.noInit, Once: cfg.once,
		AllowEmptySource: cfg.allowEmptySource, MaxDelete: cfg.maxDelete,
		WatchBackend: cfg.watchBackend, Writes: cfg.writes, Log: log, Handover: carry,
		HookTimeout: cfg.onPushTimeout, HookEnv: hookEnv(),
		VerifyEvery: cfg.verifyEvery, VerifyOnly: cfg.verifyOnly, VerifyChecksum: cfg.verifyChecksum,
	}
	if cfg.cvsExclude {
		// exclude.c: get_cvs_excludes reads $HOME/.cvsignore.
		mc.CVSHome, _ = os.UserHomeDir()
	}
	sched, err := cronsched.Parse(cfg.fullSyncCron)
	if err != nil {
		return mc, usagef("--full-sync-cron: %v", err)
	}
	if sched != nil {
		mc.FullSyncAt = sched
	}
	for _, line := range cfg.onPush {
		h, err := hooks.Parse(line)
		if err != nil {
			return mc, usagef("--on-push: %v", err)
		}
		mc.Hooks = append(mc.Hooks, h)
	}
	if cfg.progress != nil {
		out := cfg.progress
		mc.Progress = func(ctx context.Context, src string, rules *filter.Set) (func(string, int64), func()) {
			return ops.StartProgress(ctx, out, src, rules)
		}
	}
	if err := checkRemoveSource(cfg); err != nil {
		return mc, err
	}
	for i, spec := range cfg.targets {
		tcfg := cfg
		if cfg.targetCfgs != nil {
			tcfg = cfg.targetCfgs[i]
		}
		// The target's own options key its tree index.
		// With -H, a batch split for maxProcesses keeps the changes
		// that may send a linked name in one push (mirror.Target.HardLinks).
		t := mirror.Target{Spec: spec, Status: status[i], StateKey: fmt.Sprintf("%+v %d", tcfg.attrs, tcfg.protocol),
			MaxProcesses: tcfg.maxProcesses, HardLinks: tcfg.attrs.HardLinks}
		if t.MaxProcesses > 1 && tcfg.actionLua != nil {
			// Layer-1 actions are processes of their own; the Lua
			// functions of a sync share one interpreter.
			log.Warn("maxProcesses has no effect on a sync with Lua action functions: its events run one at a time, in order", "target", spec, "max_processes", t.MaxProcesses)
			t.MaxProcesses = 1
		}
		if cfg.targetNames != nil {
			t.Name = cfg.targetNames[i]
		}
		t.Open = func(rules *filter.Set, opts transport.Options) (transport.Target, string, error) {
			return openLsyncdTarget(tcfg, spec, rules, opts) // lsyncd_exec.go; openTarget for the rest
		}
		if tcfg.actions != nil {
			t.Effects = actionEffects(tcfg) // lsyncd_actions.go
		}
		mc.Targets = append(mc.Targets, t)
	}
	return mc, nil
}

// warnFollowLinks says once, at startup, that an option makes gsync
// follow symlinks under SRC (-L, --copy-unsafe-links, -k): the one
// exception to "nothing outside SRC is read" (README: Security).
func warnFollowLinks(cfg *config, log *slog.Logger) {
	words := cfg.sender.FollowWords()
	for _, tc := range cfg.targetCfgs {
		words = append(words, tc.sender.FollowWords()...)
	}
	if len(words) == 0 {
		return
	}
	slices.Sort(words)
	log.Warn("symlinks under SRC are followed, wherever they point: anyone who can write into SRC can make gsync copy any file it can read to the target; a change to a referent is pushed by the next full sync",
		"options", strings.Join(slices.Compact(words), ","), "source", cfg.source)
}

// checkRemoveSource refuses --remove-source-files where it would lose
// data: with more than one target (a file removed after one push never
// reaches the others), and on a live mirror whose full syncs delete (the
// next one, after a restart, an overflow or SIGHUP, would delete every
// file moved so far from the target). --once is one rsync run, and may.
func checkRemoveSource(cfg *config) error {
	on := cfg.sender.RemoveSourceFiles
	for _, tc := range cfg.targetCfgs {
		on = on || tc.sender.RemoveSourceFiles
	}
	if !on {
		return nil
	}
	if len(cfg.targets) > 1 {
		return usagef("--remove-source-files needs a single target: a file removed from %s after one push would never reach the others (got %d targets)", cfg.source, len(cfg.targets))
	}
	if !cfg.once && cfg.deleteMode.Full() {
		return usagef("--remove-source-files with --delete %s: the next full sync (restart, overflow, SIGHUP) would delete every file moved so far from the target; use --delete false or running (lsyncd: delete = false or 'running')", cfg.deleteMode)
	}
	return nil
}
