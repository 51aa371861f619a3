package mirror

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/rsyncproto"
	"github.com/gsync/gsync/transport"
)

// Periodic verification (Config.VerifyEvery): every VerifyEvery after a
// target's startup sync, the loop compares the target with the source
// over a connection of its own (a twin of the target, opened at setup),
// so live pushes go on meanwhile; the compare runs at idle I/O priority
// (lowIOPriority) and moves no file data (a dry run: the file list
// only, with checksums under VerifyChecksum). Differences on paths that
// changed at the source while it ran, or that wait in the target's queue,
// are left out: they are changes on their way, not drift. What remains
// is drift: logged, counted (Status.verified) and, unless VerifyOnly,
// repaired by the loop itself (a full sync queued, and the files whose
// content alone differs queued as changes).

// maxDriftLogged caps the drifted paths logged one by one per verify.
const maxDriftLogged = 20

// maxTouched bounds the paths remembered while a verify runs; past it
// the verify is inconclusive and runs again at its next turn.
const maxTouched = 10000

// verifyRun is the periodic verification state of one target.
type verifyRun struct {
	tgt     transport.Verifier // the twin it compares through
	closer  transport.Target
	next    time.Time // when the next verify is due (zero: not scheduled)
	running bool
	// touched are the paths the watcher reported while the verify ran;
	// overflow: too many, or a full rescan (inconclusive).
	touched  map[string]struct{}
	overflow bool
}

// verifyResult is what a verify goroutine reports back to the loop.
type verifyResult struct {
	target *targetRun
	res    transport.VerifyResult
	err    error
	took   time.Duration
}

// openVerifier opens the twin of target spec that periodic verifies
// use (with VerifyEvery only).
func (m *Mirror) openVerifier(t *targetRun, spec Target, opts transport.Options) error {
	if m.cfg.VerifyEvery <= 0 || m.cfg.Once {
		return nil // no loop to run it in
	}
	vopts := opts
	vopts.Progress = nil
	vopts.Logger = opts.Logger.With("role", "verify")
	twin, _, err := spec.Open(m.rules, vopts)
	if err != nil {
		return err
	}
	v, ok := twin.(transport.Verifier)
	if !ok {
		twin.Close()
		return configErrorf("--verify-every: target %s cannot be compared with its source", spec.Spec)
	}
	t.verify = &verifyRun{tgt: v, closer: twin}
	return nil
}

// verifyDue reports whether t's periodic verify should start now.
func (t *targetRun) verifyDue(now time.Time) bool {
	v := t.verify
	return v != nil && !v.running && !t.failed && t.startupDone && !v.next.IsZero() && !now.Before(v.next)
}

// scheduleVerify sets t's next verify after its startup sync ended (or
// after a verify ended).
func (m *Mirror) scheduleVerify(t *targetRun, now time.Time) {
	if t.verify != nil && t.verify.next.IsZero() && t.startupDone {
		t.verify.next = now.Add(m.cfg.VerifyEvery)
	}
}

// startVerify runs t's verify on a goroutine that wg owns; its result
// goes to out.
func (m *Mirror) startVerify(ctx context.Context, wg *sync.WaitGroup, t *targetRun, out chan<- verifyResult) {
	v := t.verify
	v.running, v.touched, v.overflow = true, map[string]struct{}{}, false
	t.log.Debug("periodic verify started")
	opts := transport.VerifyOptions{Checksum: m.cfg.VerifyChecksum}
	wg.Go(func() {
		restore := lowIOPriority()
		defer restore()
		start := m.clock.Now()
		res, err := v.tgt.Verify(ctx, opts)
		out <- verifyResult{target: t, res: res, err: err, took: m.clock.Now().Sub(start)}
	})
}

// touch records that rel (and from, for a move) changed at the source
// while t's verify runs.
func (t *targetRun) touch(rel, from string) {
	v := t.verify
	if v == nil || !v.running || v.overflow {
		return
	}
	for _, p := range []string{rel, from} {
		if p != "" {
			v.touched[p] = struct{}{}
		}
	}
	if len(v.touched) > maxTouched {
		v.overflow, v.touched = true, nil
	}
}

// inconclusive marks t's running verify as useless (a full rescan).
func (t *targetRun) inconclusive() {
	if v := t.verify; v != nil && v.running {
		v.overflow, v.touched = true, nil
	}
}

// verifyDone takes the result of t's verify at now: drift is logged,
// counted and, unless VerifyOnly, queued for repair.
func (m *Mirror) verifyDone(t *targetRun, r verifyResult, now time.Time) {
	v := t.verify
	v.running = false
	v.next = now.Add(m.cfg.VerifyEvery)
	if t.failed {
		t.close() // the twin, now that no verify uses it
		return
	}
	if r.err != nil {
		t.log.Warn("periodic verify failed; trying again at its next turn", "err", r.err,
			"duration", r.took.Round(time.Millisecond).String(), "next", m.cfg.VerifyEvery.String())
		t.st.verified(now, 0, r.err)
		return
	}
	if v.overflow {
		t.log.Info("periodic verify inconclusive: too many changes while it ran; trying again at its next turn")
		return
	}
	changed := newChangedSet(v.touched, m.pendingPaths(t))
	var drift []rsyncproto.Item
	for _, it := range r.res.Items {
		if !changed.explains(it.Name) {
			drift = append(drift, it)
		}
	}
	v.touched = nil
	t.st.verified(now, len(drift), nil)
	if len(drift) == 0 {
		t.log.Info("periodic verify: target equal to the source", "duration", r.took.Round(time.Millisecond).String(),
			"changes_on_the_way", len(r.res.Items))
		return
	}
	action := "repair queued"
	if m.cfg.VerifyOnly {
		action = "not repaired (--verify-only)"
	}
	t.log.Warn("target drifted from the source", "paths", len(drift), "action", action,
		"duration", r.took.Round(time.Millisecond).String())
	for i, it := range drift {
		if i == maxDriftLogged {
			t.log.Warn("drift", "more", len(drift)-i)
			break
		}
		t.log.Warn("drift", "item", it.Line(r.res.Sending))
	}
	if m.cfg.VerifyOnly {
		return
	}
	t.col.AddFull()
	for _, it := range drift {
		if !it.Deleted && it.Flags&rsyncproto.ItemTransfer != 0 && it.Flags&rsyncproto.ItemReportChange != 0 {
			// Same size and mtime: a full sync's quick check would skip it.
			t.col.Add(delay.Item{Op: change.Modify, Path: it.Name})
		}
	}
}

// pendingPaths are the paths waiting in t's queue or in flight.
func (m *Mirror) pendingPaths(t *targetRun) map[string]struct{} {
	out := map[string]struct{}{}
	items := t.col.Waiting(t.col.Len())
	if t.active != nil {
		items = append(items, t.active.Items...)
	}
	for _, it := range items {
		out[it.Path] = struct{}{}
		if it.From != "" {
			out[it.From] = struct{}{}
		}
	}
	if t.col.FullQueued() || t.active != nil && t.active.Full {
		out[change.Root] = struct{}{}
	}
	return out
}

// changedSet holds the paths that changed at the source while a verify
// ran or that wait to be pushed, and their parent directories.
type changedSet struct{ paths, parents map[string]struct{} }

func newChangedSet(sets ...map[string]struct{}) changedSet {
	c := changedSet{paths: map[string]struct{}{}, parents: map[string]struct{}{}}
	for _, set := range sets {
		for p := range set {
			c.paths[p] = struct{}{}
			c.parents[parent(p)] = struct{}{}
		}
	}
	return c
}

// explains reports whether the verify item name is explained by a
// change: of the path itself, of a directory above it, or of an entry
// in it (its mtime changed); a full sync waiting explains everything.
func (c changedSet) explains(name string) bool {
	if _, ok := c.paths[change.Root]; ok {
		return true
	}
	if _, ok := c.paths[name]; ok {
		return true
	}
	if _, ok := c.parents[name]; ok {
		return true
	}
	for p := name; ; {
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
		if _, ok := c.paths[p]; ok {
			return true
		}
	}
}

// parent returns the parent directory of rel (change.Root for a
// top-level entry).
func parent(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return change.Root
}
