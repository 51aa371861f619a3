package mirror

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/watcher"
)

// pushResult is what a push goroutine reports back to the loop.
type pushResult struct {
	target *targetRun
	batch  delay.Batch
	stats  transport.Stats
	err    error
	took   time.Duration
	// part is set when some of the batch's groups failed as a whole
	// and the others went through (Target.MaxProcesses).
	part *partial
}

// watch opens the watcher of the source.
func (m *Mirror) watch(ctx context.Context) (watcher.Watcher, error) {
	// Per-directory filter files (.rsync-filter) are watched even when
	// excluded: a change of one changes the rules (ruleFilesChanged).
	exclude := func(rel string, isDir bool) bool {
		if !isDir && m.rules.IsMergeFile(rel) && !m.rules.Excluded(path.Dir(rel), true) {
			return false
		}
		return m.rules.Excluded(rel, isDir)
	}
	opts := watcher.Options{Root: m.src, Exclude: exclude, Backend: m.cfg.WatchBackend, Writes: m.cfg.Writes, Logger: m.log}
	open := m.cfg.Watch
	if open == nil {
		open = watcher.New
	}
	w, err := open(ctx, opts)
	if err != nil {
		var wl *watcher.WatchLimitError
		if errors.As(err, &wl) {
			return nil, fmt.Errorf("watch %s: %w", m.src, err)
		}
		return nil, ConfigError{fmt.Errorf("watch %s: %w", m.src, err)}
	}
	return w, nil
}

// run is the live mirror loop: watches first, then the full syncs, then
// queued events. It is the only goroutine that touches the collators. It
// ends on Stop, when the watcher stops, when a startup sync fails
// without Insist, or when every target failed.
func (m *Mirror) run(ctx context.Context) error {
	w, err := m.watch(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	// Setting the watches read every directory of the tree: give what
	// that left behind back before the startup sync adds its own peak.
	debug.FreeOSMemory()
	names := make([]string, len(m.targets))
	for i, t := range m.targets {
		names[i] = t.tgt.String()
	}
	m.log.Info("watching", "source", m.src, "targets", names, "dirs", w.Watches(),
		"delay", m.cfg.Delay.String())

	full, carried := m.cfg.Handover.take(m.src)
	if len(carried) > 0 || full {
		m.log.Info("config reloaded: queued changes handed over", "changes", len(carried), "full_sync", full)
	}
	for _, t := range m.targets {
		guard := moveGuard
		if e, ok := t.tgt.(EventTarget); ok && e.EventBased() {
			guard = 0
		}
		t.col = delay.New(delay.Config{Delay: m.cfg.Delay, MaxDelays: m.cfg.MaxDelays, MoveGuard: guard, Now: m.clock.Now})
		if !m.cfg.NoInit || full { // lsyncd init = false: no startup full sync
			if full || !m.catchUp(ctx, t) {
				t.col.AddFull()
			}
		}
		for _, it := range carried {
			t.col.Add(it)
		}
	}
	defer m.handOver()

	// pushCtx outlives ctx by stopGrace so that in-flight batches can
	// finish after Stop.
	pushCtx, cancelPush := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPush()
	results := make(chan pushResult, len(m.targets))
	// Periodic verifies (at most one per target) run on goroutines this
	// loop owns; they end before it returns.
	verifies := make(chan verifyResult, len(m.targets))
	verifyCtx, cancelVerify := context.WithCancel(ctx)
	var verifyWG sync.WaitGroup
	defer func() {
		cancelVerify()
		verifyWG.Wait()
	}()
	stopping := false
	var cronAt time.Time // the next scheduled full sync (FullSyncAt)
	if m.cfg.FullSyncAt != nil && !m.cfg.Once {
		cronAt = m.cfg.FullSyncAt.Next(m.clock.Now())
	}
	events := w.Events()
	var timerC, graceC <-chan time.Time
	stopTimer := func() bool { return false }
	inFlight := func() int {
		n := 0
		for _, t := range m.targets {
			if t.inFlight {
				n++
			}
		}
		return n
	}

	for {
		if stopping && inFlight() == 0 {
			return nil
		}
		now := m.clock.Now()
		var due time.Time
		if !cronAt.IsZero() && !stopping {
			if !now.Before(cronAt) {
				m.log.Info("scheduled full sync (crontab)", "scheduled", cronAt.Format(time.RFC3339))
				for _, t := range m.running() {
					t.col.AddFull()
				}
				cronAt = m.cfg.FullSyncAt.Next(now)
			}
			due = cronAt
		}
		for _, t := range m.targets {
			if t.failed {
				t.st.publish(0, nil, nil, w.Watches(), StateFailed, time.Time{})
				continue
			}
			for _, p := range t.paths.due(now) {
				t.col.Add(m.retryItem(p))
			}
			if !t.inFlight && !stopping {
				if b, ok := t.col.Next(); ok {
					t.inFlight, t.active = true, &b
					go m.push(pushCtx, t, b, results)
				}
			}
			t.st.publish(t.col.Len(), t.col.Waiting(MaxStatusItems), t.active, w.Watches(), t.state(now), t.retryAt)
			due = earliest(due, t.wakeAt(now))
			if v := t.verify; v != nil && !stopping {
				m.scheduleVerify(t, now)
				if t.verifyDue(now) {
					m.startVerify(verifyCtx, &verifyWG, t, verifies)
				} else if !v.running {
					due = earliest(due, v.next)
				}
			}
		}
		stopTimer()
		timerC = nil
		if !due.IsZero() {
			timerC, stopTimer = m.clock.NewTimer(max(due.Sub(now), 0))
		}

		select {
		case ev, ok := <-events:
			// The events already waiting join it before a batch is cut
			// (lsyncd, too, handles a whole read of the kernel queue
			// before its delays): a file's create and close, read
			// together, are one push at --delay 0, not two.
			for n := 0; ok; n++ {
				m.addEvent(ev)
				if n == maxEventsPerTurn {
					break
				}
				select {
				case ev, ok = <-events:
					continue
				default:
				}
				break
			}
			if !ok {
				events = nil
				if !stopping {
					return fmt.Errorf("watch %s: watcher stopped unexpectedly", m.src)
				}
				continue
			}
		case err := <-w.Errors():
			// The watcher logs every error itself (watcher.Watcher.Errors).
			m.log.Debug("watcher error", "err", err)
		case r := <-results:
			t := r.target
			t.inFlight, t.active = false, nil
			if err := m.finish(t, r, m.clock.Now()); err != nil {
				return err
			}
			m.ruleFilesPushed(t, r)
			if len(m.running()) == 0 {
				return fmt.Errorf("every target of %s failed; last: %w", m.src, r.err)
			}
		case r := <-verifies:
			m.verifyDone(r.target, r, m.clock.Now())
		case <-timerC:
		case <-graceC:
			cancelPush()
		case c := <-m.cmds:
			switch c.op {
			case cmdPing:
				close(c.reply)
			case cmdFullSync:
				m.log.Debug("full sync requested")
				if err := m.mounts.refresh(); err != nil {
					m.log.Warn("mounts below the source not re-read", "err", err)
				}
				for _, t := range m.running() {
					t.col.AddFull()
				}
			case cmdStop:
				if stopping { // second stop: now
					cancelPush()
					return nil
				}
				stopping = true
				if inFlight() > 0 {
					m.log.Info("waiting for the pushes in flight", "in_flight", inFlight(), "at_most", stopGrace.String())
					graceC, _ = m.clock.NewTimer(stopGrace)
				}
			}
		case <-ctx.Done():
			cancelPush()
			return ctx.Err()
		}
	}
}

// maxEventsPerTurn bounds the events the loop takes in at once, so that
// results and commands are not held up by a flood of events.
const maxEventsPerTurn = 1024

// addEvent gives one event to every running target's collator.
func (m *Mirror) addEvent(ev watcher.Event) {
	if ev.Op == change.Overflow {
		// The watcher logs the overflow itself.
		m.log.Debug("event queue overflowed: full sync queued")
		for _, t := range m.running() {
			t.st.overflow()
			t.col.AddFull()
			t.inconclusive()
		}
		return
	}
	m.log.Debug("event", "op", ev.Op.String(), "path", ev.Path, "from", ev.From, "dir", ev.IsDir)
	if !m.rulesChanged(ev) {
		return
	}
	for _, t := range m.running() {
		t.st.event()
		t.col.Add(toItem(ev))
		t.touch(ev.Path, ev.From)
	}
}

// running returns the targets that have not failed.
func (m *Mirror) running() []*targetRun {
	out := make([]*targetRun, 0, len(m.targets))
	for _, t := range m.targets {
		if !t.failed {
			out = append(out, t)
		}
	}
	return out
}

// wakeAt returns when the loop must look at t again (zero: only on news):
// its next due batch, the end of its retry wait (to publish the state
// change) or of a failing path's backoff.
func (t *targetRun) wakeAt(now time.Time) time.Time {
	var due time.Time
	if t.inFlight {
		return due
	}
	if d, ok := t.col.Due(); ok {
		due = d
	}
	if t.retryAt.After(now) {
		due = earliest(due, t.retryAt)
	}
	if d, ok := t.paths.nextDue(); ok {
		due = earliest(due, d)
	}
	return due
}

// earliest returns the earlier of two times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// handOver gives what the running targets still have queued (a full
// sync, items, failing paths waiting for their backoff) to the next
// config (see Handover).
func (m *Mirror) handOver() {
	if m.cfg.Handover == nil {
		return
	}
	for _, t := range m.running() {
		if t.col == nil {
			continue
		}
		items := t.col.Waiting(t.col.Len())
		for _, p := range t.paths.held() {
			items = append(items, m.retryItem(p))
		}
		m.cfg.Handover.put(m.src, t.col.FullQueued(), items)
	}
}

// push runs one batch against the target and reports the result.
func (m *Mirror) push(ctx context.Context, t *targetRun, b delay.Batch, out chan<- pushResult) {
	start := m.clock.Now()
	var st transport.Stats
	var err error
	var part *partial
	if b.Full {
		restoreGC := lowerGC()
		t.prog.reset()
		pctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.reportProgress(pctx, t, start)
		}()
		warmed := m.warm(ctx, t)
		st, err = m.fullSync(ctx, t)
		stop()
		<-done
		<-warmed
		restoreGC()
		t.st.setProgress(Progress{})
	} else {
		changes := t.removed.filter(m.src, toChanges(b.Items, m.cfg.Delete))
		if len(changes) > 0 {
			st, part, err = m.pushBatchParts(ctx, t, changes)
		}
	}
	out <- pushResult{target: t, batch: b, stats: st, err: err, took: m.clock.Now().Sub(start), part: part}
}

// fullSyncGCPercent is the collector's GOGC during a full sync: its
// heap may grow to 1.5x what is live, not 2x. A no-op startup sync of
// 100,000 dirs / 499,500 files to an rsync daemon peaked at 33.9 MB RSS
// with it and 39.0 MB without (bench/results/scale-2026-12-03-s6-mem-gogc.md),
// for 10-15% more user CPU, 2-4% of the sync's CPU with the system
// time; the wall-time difference was within the noise of the shared
// machine. GOGC 25 kept the process at 32 MB for 28% more user CPU.
const fullSyncGCPercent = 50

// lowerGC lowers the collector's GOGC to fullSyncGCPercent, when it is
// higher, for the full sync about to run, and returns what sets it back.
// GOGC is the process's: when full syncs overlap, the first one lowers
// it and sets it back when it ends, the others leave it alone, so it is
// never left lowered (at worst the rest of an overlapping sync runs with
// the user's GOGC).
func lowerGC() (restore func()) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[0].Value.Uint64() <= fullSyncGCPercent {
		return func() {}
	}
	old := debug.SetGCPercent(fullSyncGCPercent)
	if old <= fullSyncGCPercent {
		// Set lower since the read (or off, -1): keep that.
		if old < fullSyncGCPercent {
			debug.SetGCPercent(old)
		}
		return func() {}
	}
	return func() { debug.SetGCPercent(old) }
}

// finish hands a push result back to the target's collator at now. A
// push that failed as a whole (transient) is retried with the target's
// capped exponential backoff; paths that failed alone are backed off one
// by one (t.paths) while the rest goes on; a fatal error stops this
// target only; a guard's refusal is logged and not retried. The error
// returned (a startup sync failed without Insist) ends the mirror.
func (m *Mirror) finish(t *targetRun, r pushResult, now time.Time) error {
	what := "batch"
	if r.batch.Full {
		what = "full sync"
	}
	col := t.col
	t.removed.note(r.stats.Removed)
	switch {
	case IsRefusal(r.err):
		t.st.pushed(now, r.batch.Full, r.stats, r.took, nil, "")
		t.st.noteError(now, r.err)
		logStats(t, what, "held back", r.stats, r.took, "reason", r.err)
		col.Done(r.batch.ID, nil, time.Time{})
		m.startupDone(t, r.batch.Full)
		m.settle(t, r, now)
		return nil
	case r.err != nil:
		t.st.pushed(now, r.batch.Full, r.stats, r.took, r.err, ErrorClass(r.err))
		if r.batch.Full && !t.startupDone && !m.cfg.Insist {
			col.Done(r.batch.ID, nil, time.Time{})
			logStats(t, what, "failed", r.stats, r.took, "err", r.err)
			return StartupError{fmt.Errorf("%s of %s to %s: %w", what, m.src, t.tgt, r.err)}
		}
		if !transport.IsTransient(r.err) {
			col.Done(r.batch.ID, nil, time.Time{})
			m.failTarget(t, what, r)
			return nil
		}
		t.backoff = nextBackoff(t.backoff)
		t.retryAt = now.Add(t.backoff)
		logStats(t, what, "failed", r.stats, r.took, "err", r.err, "retry_in", t.backoff.String())
		retry := r.batch.Items
		if r.part != nil {
			// Only the failed groups go back: their paths are disjoint
			// from those of the groups that went through, so no
			// dependent change is reordered.
			var sent []delay.Item
			retry, sent = r.part.split(r.batch.Items)
			ok := pushResult{target: t, batch: delay.Batch{ID: r.batch.ID, Items: sent}, stats: r.part.okStats, took: r.took}
			m.settle(t, ok, now)
			m.runHooks(t, ok)
		}
		col.Done(r.batch.ID, retry, t.retryAt)
		if r.batch.Full {
			col.AddFull()
		}
		return nil
	}
	t.st.pushed(now, r.batch.Full, r.stats, r.took, nil, "")
	if r.batch.Full {
		m.saveIndex(t, failedPaths(r.stats))
		// A full sync held the whole file list; an idle process never
		// collects again, so give the memory back now.
		debug.FreeOSMemory()
	}
	m.startupDone(t, r.batch.Full)
	t.backoff, t.retryAt = 0, time.Time{}
	col.Done(r.batch.ID, nil, time.Time{})
	result := "ok"
	if len(r.stats.Failed) > 0 {
		result = "partial"
	}
	logStats(t, what, result, r.stats, r.took)
	m.settle(t, r, now)
	m.runHooks(t, r)
	m.caughtUp(t)
	return nil
}

// failedPaths lists the paths of st's failures.
func failedPaths(st transport.Stats) []string {
	out := make([]string, len(st.Failed))
	for i, f := range st.Failed {
		out[i] = f.Path
	}
	return out
}

// startupDone records that t's startup full sync ended (full: r was a
// full sync).
func (m *Mirror) startupDone(t *targetRun, full bool) {
	if full && !t.startupDone {
		t.startupDone = true
		// The periodic verify counts from here, set before the status
		// says the startup is done (a reader acting on that sees it).
		m.scheduleVerify(t, m.clock.Now())
		t.st.setStarted()
	}
}

// settle updates t's failing paths from a push that went through: the
// paths it listed and did not fail work again; each failed path backs
// off on its own (logged once per backoff step).
func (m *Mirror) settle(t *targetRun, r pushResult, now time.Time) {
	failed := make(map[string]bool, len(r.stats.Failed))
	for _, f := range r.stats.Failed {
		failed[f.Path] = true
	}
	var recovered []string
	if r.batch.Full {
		t.paths.clear(failed)
	} else {
		recovered = t.paths.settled(r.batch.Items, failed)
	}
	for _, p := range recovered {
		t.log.Info("path mirrored again", "path", p)
	}
	for _, f := range r.stats.Failed {
		backoff, n := t.paths.failed(f.Path, f.Err, m.retryItem(f.Path).Recursive, now)
		t.log.Warn("path not mirrored; retrying it on its own", "path", f.Path, "err", f.Err,
			"failures", n, "retry_in", backoff.String())
	}
	t.st.setFailing(t.paths.list())
}

// failTarget stops t after a fatal error: state failed, logged, its
// connections closed; the other targets go on.
func (m *Mirror) failTarget(t *targetRun, what string, r pushResult) {
	t.failed = true
	t.st.setState(StateFailed)
	logStats(t, what, "failed", r.stats, r.took, "err", r.err,
		"action", "this target is stopped; the other targets go on (fix the cause, then restart gsync)")
	t.close()
}

// retryItem re-queues a failed path as a change of whatever it is now.
// The root itself is retried for its own attributes only: resending the
// whole tree cannot fix them.
func (m *Mirror) retryItem(rel string) delay.Item {
	if rel == change.Root {
		return delay.Item{Op: change.Attrib, Path: change.Root, IsDir: true}
	}
	fi, err := os.Lstat(filepath.Join(m.src, filepath.FromSlash(rel)))
	if err != nil {
		return delay.Item{Op: change.Delete, Path: rel, Recursive: true}
	}
	return delay.Item{Op: change.Modify, Path: rel, IsDir: fi.IsDir(), Recursive: fi.IsDir()}
}

// logMessages are the messages of logStats, by what and result.
var logMessages = map[[2]string]string{
	{"batch", "failed"}:        "batch failed",
	{"batch", "held back"}:     "batch held back by a safety guard",
	{"batch", "ok"}:            "batch done",
	{"batch", "partial"}:       "batch done",
	{"full sync", "failed"}:    "full sync failed",
	{"full sync", "held back"}: "full sync held back by a safety guard",
	{"full sync", "ok"}:        "full sync done",
	{"full sync", "partial"}:   "full sync done",
}

// logStats writes the one line per push: what ("batch", "full sync"),
// result (ok, partial, failed, held back), counts, bytes and duration.
// A batch that changed nothing is logged at debug level only.
func logStats(t *targetRun, what, result string, st transport.Stats, took time.Duration, extra ...any) {
	args := []any{"result", result, "files", st.Files, "deleted", st.Deleted,
		"renamed", st.Renamed, "bytes", st.Bytes, "failed", len(st.Failed),
		"duration", took.Round(time.Millisecond).String()}
	args = append(args, extra...)
	msg := logMessages[[2]string{what, result}]
	switch {
	case result == "failed" || result == "held back":
		t.log.Error(msg, args...)
	case what == "batch" && result == "ok" && st.Files == 0 && st.Deleted == 0 && st.Renamed == 0:
		t.log.Debug(msg, args...)
	default:
		t.log.Info(msg, args...)
	}
}

func nextBackoff(d time.Duration) time.Duration {
	if d < backoffMin {
		return backoffMin
	}
	return min(2*d, backoffMax)
}

// toItem converts a watcher event into a collator item: the same Op, so
// only Move carries From.
// rulesChanged handles what an event does to the filter rules: a
// directory that appears, moves or goes, or a per-directory filter file
// (.rsync-filter) that changes, makes the rules of that directory's
// subtree be read again. After a filter file changed, its directory is
// pushed again recursively, so that what became included is sent; what
// became excluded stays on the target (excluded paths are never
// deleted). A filter file that is itself sent goes first, in a batch of
// its own (ruleFilesPushed): rsync's receiver reads its own copy when it
// deletes. It reports whether ev itself is to be queued: an excluded
// filter file is not.
func (m *Mirror) rulesChanged(ev watcher.Event) bool {
	if !m.rules.HasMergeRules() {
		return true
	}
	for _, p := range []string{ev.Path, ev.From} {
		switch {
		case p == "":
		case ev.IsDir:
			m.rules.Invalidate(p)
		case m.rules.IsMergeFile(p):
			dir := path.Dir(p)
			m.rules.Invalidate(dir)
			m.log.Info("filter file changed: its directory is pushed again with the new rules", "path", p)
			sent := !m.rules.Excluded(p, false)
			for _, t := range m.running() {
				if !sent {
					t.col.Add(delay.Item{Op: change.Modify, Path: dir, IsDir: true, Recursive: true})
					continue
				}
				if t.ruleFiles == nil {
					t.ruleFiles = map[string]uint64{}
				}
				var after uint64 // a batch in flight read the file before it changed
				if t.inFlight && t.active != nil {
					after = t.active.ID
				}
				t.ruleFiles[p] = after
			}
		}
	}
	return ev.IsDir || !m.rules.Excluded(ev.Path, false) || ev.From != "" && !m.rules.Excluded(ev.From, false)
}

// ruleFilesPushed queues the recursive push of the directory of each
// changed filter file that the push r sent (see rulesChanged).
func (m *Mirror) ruleFilesPushed(t *targetRun, r pushResult) {
	if r.err != nil || len(t.ruleFiles) == 0 || t.failed {
		return
	}
	for p, after := range t.ruleFiles {
		if r.batch.ID <= after || !batchCovers(r.batch, p) {
			continue
		}
		delete(t.ruleFiles, p)
		t.col.Add(delay.Item{Op: change.Modify, Path: path.Dir(p), IsDir: true, Recursive: true})
	}
}

// batchCovers reports whether b sent the path p: a full sync, p listed,
// or a recursive item above it.
func batchCovers(b delay.Batch, p string) bool {
	if b.Full {
		return true
	}
	for _, it := range b.Items {
		if it.Path == p || it.Recursive && (it.Path == change.Root || strings.HasPrefix(p, it.Path+"/")) {
			return true
		}
	}
	return false
}

func toItem(ev watcher.Event) delay.Item {
	it := delay.Item{Op: ev.Op, Path: ev.Path, IsDir: ev.IsDir}
	if ev.Op == change.Move {
		it.From = ev.From
	}
	return it
}

// toChanges converts a batch into transport changes. Without runtime
// deletes a move cannot remove its source, so it becomes a copy.
func toChanges(items []delay.Item, mode transport.DeleteMode) []transport.Change {
	out := make([]transport.Change, 0, len(items))
	for _, it := range items {
		c := transport.Change{Op: it.Op, Path: it.Path, IsDir: it.IsDir, Recursive: it.Recursive}
		if it.Op == change.Move {
			if mode.Running() {
				c.From = it.From
			} else {
				c.Op, c.Recursive = change.Create, it.IsDir
			}
		}
		out = append(out, c)
	}
	return out
}
