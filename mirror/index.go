package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/state"
)

// The tree index (Config.StateDir, package state): a snapshot of the
// source taken right before each full sync of a target, saved once that
// sync went through. On the next start the source is compared with it
// and only what differs is pushed (the catch-up), then a full sync
// verifies the target at leisure and saves a fresh snapshot.

// stateKey names what decides what lands on t: the source, the target,
// its options, the rules and the delete mode.
func (m *Mirror) stateKey(spec Target) string {
	excl, filt := m.rules.Patterns()
	return state.KeyOf(m.src, spec.Spec, spec.StateKey,
		strings.Join(excl, "\x00"), strings.Join(filt, "\x00"),
		fmt.Sprint(m.cfg.Delete), fmt.Sprint(m.cfg.OneFileSystem), fmt.Sprint(m.cfg.DryRun))
}

// openIndex prepares t's index file in Config.StateDir.
func (m *Mirror) openIndex(t *targetRun, spec Target) error {
	if m.cfg.StateDir == "" {
		return nil
	}
	if err := os.MkdirAll(m.cfg.StateDir, 0o700); err != nil {
		return configErrorf("state directory: %v", err)
	}
	// One file per source and target; the key inside names the options.
	t.stateKey = m.stateKey(spec)
	t.stateFile = state.File(m.cfg.StateDir, state.KeyOf(m.src, spec.Spec))
	state.Clean(t.stateFile)
	return nil
}

// catchUp queues, instead of a startup full sync, the paths that changed
// since t's index was taken; false (and why, logged) when there is no
// usable index and the full sync has to run.
func (m *Mirror) catchUp(ctx context.Context, t *targetRun) bool {
	if t.stateFile == "" {
		return false
	}
	start := m.clock.Now()
	d, err := state.Compare(ctx, t.stateFile, t.stateKey, m.src, m.rules.Excluded)
	switch {
	case errors.Is(err, state.ErrNoIndex):
		t.log.Info("no tree index of this target yet: full sync", "index", t.stateFile)
		return false
	case errors.Is(err, state.ErrOtherKey):
		t.log.Info("the tree index is of other options or rules: full sync", "index", t.stateFile)
		return false
	case err != nil:
		t.log.Warn("tree index not usable: full sync", "err", err)
		return false
	}
	if len(d.Deleted) > 0 {
		// The guards of a full sync: an empty source or a vanished mount
		// reads as everything deleted.
		empty, err := m.sourceEmpty()
		if err != nil || empty || len(m.mounts.vanished()) > 0 {
			t.log.Warn("the source lost entries since the tree index and looks unmounted or emptied: full sync, behind its guards", "deleted", len(d.Deleted))
			return false
		}
	}
	for _, p := range d.Changed {
		fi, err := os.Lstat(filepath.Join(m.src, filepath.FromSlash(p)))
		t.col.Add(delay.Item{Op: change.Modify, Path: p, IsDir: err == nil && fi.IsDir()})
	}
	for _, p := range d.Deleted {
		t.col.Add(delay.Item{Op: change.Delete, Path: p, Recursive: true})
	}
	t.catchingUp = true
	t.log.Info("restart with a tree index: pushing what changed since it was taken, then a verification full sync",
		"taken", d.Taken.UTC().Format(time.RFC3339), "changed", len(d.Changed), "deleted", len(d.Deleted),
		"compared_in", m.clock.Now().Sub(start).Round(time.Millisecond).String())
	return true
}

// caughtUp ends t's catch-up once its queue ran empty after a push that
// went through: the startup is done, and the target is verified: with
// --verify-every by a compare over its own connection right away (live
// pushes go on; drift is repaired), else by a full sync.
func (m *Mirror) caughtUp(t *targetRun) {
	if !t.catchingUp || t.col.Len() > 0 {
		return
	}
	t.catchingUp = false
	t.startupDone = true
	if t.verify != nil {
		t.verify.next = m.clock.Now()
	} else {
		t.col.AddFull()
	}
	t.st.setStarted()
}

// snapshot walks the source into a new index for t right before a full
// sync: the sync that follows pushes at least what the walk saw (see
// package state).
func (m *Mirror) snapshot(ctx context.Context, t *targetRun) {
	if t.pending != nil {
		t.pending.Abort()
		t.pending = nil
	}
	if t.stateFile == "" || m.cfg.DryRun {
		return
	}
	snap, err := state.Take(ctx, t.stateFile, t.stateKey, m.src, m.rules.Excluded, m.clock.Now())
	if err != nil {
		t.log.Warn("source not walked for the tree index; the index is not renewed", "err", err)
		return
	}
	t.pending = snap
}

// saveIndex saves the snapshot taken before a full sync that went
// through; the paths it could not bring over are dirty. A failure
// without a path (its scope unknown) keeps the old index.
func (m *Mirror) saveIndex(t *targetRun, failed []string) {
	snap := t.pending
	t.pending = nil
	if snap == nil {
		return
	}
	if slices.Contains(failed, "") {
		snap.Abort()
		t.log.Info("tree index not renewed: the full sync had a failure without a path")
		return
	}
	if err := snap.Commit(t.stateFile, failed); err != nil {
		t.log.Warn("tree index not saved; the next start runs a full sync", "err", err)
		return
	}
	t.log.Debug("tree index saved", "index", t.stateFile, "dirty", len(failed)+len(snap.Unreadable))
}
