package mirror

import (
	"context"
	"strings"

	"github.com/gsync/gsync/hooks"
	"github.com/gsync/gsync/internal/change"
)

// The engine decides when the hooks of a target run (package hooks runs
// them): after each push that went through, an event batch (ok or
// partial: the paths that failed are not listed; none when every path
// failed) or a full sync. A push
// held back by a safety guard, a failed push and a dry run run none. The
// runner is the target's own, so a slow hook never delays the loop, the
// other targets or the next push.

// startHooks starts a hook runner per target (none without hooks or
// with DryRun).
func (m *Mirror) startHooks() {
	if len(m.cfg.Hooks) == 0 {
		return
	}
	if m.cfg.DryRun {
		m.log.Warn("--dry-run: the --on-push hooks are not run")
		return
	}
	for _, t := range m.targets {
		st := t.st
		t.hooks = hooks.Start(hooks.Config{
			Commands: m.cfg.Hooks,
			Timeout:  m.cfg.HookTimeout,
			Log:      t.log,
			Environ:  m.cfg.HookEnv,
			Done:     func(r hooks.Result) { st.hookRan(m.clock.Now(), r) },
		})
	}
}

// stopHooks lets the hooks of pushes that went through run until ctx
// ends, then stops the runners (see hooks.Runner.Close).
func (m *Mirror) stopHooks(ctx context.Context) {
	for _, t := range m.targets {
		if t.hooks != nil {
			t.hooks.Close(ctx)
		}
	}
}

// runHooks queues the hooks of a push of t that went through.
func (m *Mirror) runHooks(t *targetRun, r pushResult) {
	if t.hooks == nil {
		return
	}
	p := hooks.Push{Kind: hooks.Batch, Sync: m.cfg.Name, Source: m.src, Target: t.spec,
		Updated: r.stats.Files, Deleted: r.stats.Deleted, Renamed: r.stats.Renamed, Bytes: r.stats.Bytes}
	if r.batch.Full {
		p.Kind = hooks.FullSync
	} else {
		failed := make(map[string]bool, len(r.stats.Failed))
		for _, f := range r.stats.Failed {
			failed[f.Path] = true
		}
		for _, c := range toChanges(r.batch.Items, m.cfg.Delete) {
			if failed[c.Path] {
				continue
			}
			hc := hooks.Change{Path: c.Path, Change: strings.ToLower(c.Op.String()),
				Recursive: c.Recursive && c.Op != change.Delete} // a delete always takes the subtree
			if c.Op == change.Move {
				hc.From = c.From
			}
			p.Changes = append(p.Changes, hc)
		}
		if len(p.Changes) == 0 {
			return // every path failed: nothing was pushed
		}
	}
	if !t.hooks.Add(p) {
		t.st.hookMerged()
	}
}
