package main

import (
	"fmt"
	"path/filepath"

	"github.com/gsync/gsync/actions"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/watcher"
)

// actionsConfig sets up a sync with lsyncd layer-1 actions (onCreate =
// "...", ...): no rsync, its events run the actions (package actions).
// Moves stay moves (onMove) unless it has none; deletes are events like
// the others, and the empty-source guard of full syncs does not apply
// (its full sync is onStartup, which deletes nothing of gsync's).
func actionsConfig(c *config, s *lsyncdconf.Sync, inotifyModeSet bool) {
	c.actions, c.actionTarget, c.actionExitCodes = s.Actions, s.Target, s.ExitCodes
	c.actionLua, c.actionKeepMoves = s.Lua, s.WantsMoves()
	if c.actions == nil {
		c.actions = lsyncdconf.Actions{} // marks the sync as one with actions
	}
	c.deleteMode = transport.DeleteRunning
	// lsyncd's default inotifyMode, CloseWrite: one onModify per write,
	// when the writer closes the file (unless settings{} says otherwise).
	if !inotifyModeSet {
		c.writes = watcher.WritesCloseWrite
	}
	if s.Target == "" {
		// The target names the sync in logs and the status.
		c.targets = []string{"actions:" + s.Source}
	}
}

// openActions opens the target that runs the actions.
func openActions(c *config, opts transport.Options) (transport.Target, error) {
	t, err := actions.New(actions.Config{Source: opts.Source, Target: c.actionTarget, Actions: c.actions, ExitCodes: c.actionExitCodes,
		Lua: c.actionLua, KeepMoves: c.actionKeepMoves,
		Env: hookEnv(), DryRun: opts.DryRun, Logger: opts.Logger})
	if err != nil {
		return nil, usageError{Err: fmt.Errorf("sync %s: %w", c.name, err)}
	}
	return t, nil
}

// actionEffects says what a change does in a sync with actions (gsync
// explain).
func actionEffects(c *config) func(rel string, isDir bool) []string {
	return func(rel string, isDir bool) []string {
		delay := "at once"
		if c.delay > 0 {
			delay = c.delay.String()
		}
		src, err := filepath.Abs(c.source)
		if err != nil {
			src = c.source
		}
		if real, err := filepath.EvalSymlinks(src); err == nil {
			src = real
		}
		return actions.Effects(c.actions, c.actionLua, c.actionKeepMoves, src, c.actionTarget, delay, rel, isDir)
	}
}
