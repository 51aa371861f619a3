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
	mc := mirror.Config{
		Name: cfg.name, Source: cfg.source,
		Excludes: cfg.excludes, ExcludeFrom: cfg.excludeFrom, Filters: cfg.filters, RulesOrigin: cfg.where,
		Rules:         cfg.rules,
		OneFileSystem: cfg.oneFileSystem,
		Delay:         cfg.delay, MaxDelays: cfg.maxDelays, Delete: cfg.deleteMode,
		DryRun: cfg.dryRun, Insist: cfg.insist, NoInit: cfg.noInit, Once: cfg.once,
		AllowEmptySource: cfg.allowEmptySource, MaxDelete: cfg.maxDelete,
		WatchBackend: cfg.watchBackend, Writes: cfg.writes, Log: log, Handover: carry,
		HookTimeout: cfg.onPushTimeout, HookEnv: hookEnv(),
		VerifyEvery: cfg.verifyEvery, VerifyOnly: cfg.verifyOnly, VerifyChecksum: cfg.verifyChecksum,
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
	for i, spec := range cfg.targets {
		tcfg := cfg
		if cfg.targetCfgs != nil {
			tcfg = cfg.targetCfgs[i]
		}
		// The target's own options key its tree index.
		t := mirror.Target{Spec: spec, Status: status[i], StateKey: fmt.Sprintf("%+v %d", tcfg.attrs, tcfg.protocol)}
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
