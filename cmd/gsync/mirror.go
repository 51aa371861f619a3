package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/watcher"
)

const (
	backoffMin = time.Second
	backoffMax = time.Minute
	// stopGrace bounds how long an in-flight batch may run after SIGTERM/SIGINT.
	stopGrace = 30 * time.Second
	// moveGuard: renames overlapping a batch that ended this recently are
	// sent as delete + create (see delay.Config.MoveGuard).
	moveGuard = 500 * time.Millisecond
)

// runMirror validates the configuration, then runs the watch → collate →
// push loop of one source and its targets until a signal (or, with
// --once, the startup sync) ends it, or until every target failed.
// status has one entry per target of cfg, in order. carry hands queued
// changes over across config reloads (nil: none).
func runMirror(ctx context.Context, cfg *config, status []*syncStatus, log *slog.Logger, sigs <-chan os.Signal, ping <-chan chan struct{}, carry *handover) error {
	defer func() {
		for _, st := range status {
			st.setState(stateStopped)
		}
	}()
	if cfg.name != "" {
		log = log.With("sync", cfg.name)
	}
	src, err := checkSource(cfg.source)
	if err != nil {
		return err
	}
	srcDev, err := deviceOf(src)
	if err != nil {
		return usagef("source %s: %v", cfg.source, err)
	}
	mounts, err := newNestedMounts(src)
	if err != nil {
		log.Warn("file systems mounted below the source are not tracked; a vanished one may empty its subtree on the target", "source", src, "err", err)
	}
	excludes := append([]string(nil), cfg.excludes...)
	if cfg.oneFileSystem {
		pats, skipped := mountExcludes(mounts.list())
		excludes = append(excludes, pats...)
		for _, p := range skipped {
			log.Warn("--one-file-system: mount point name holds pattern characters; its contents are mirrored", "path", p)
		}
		mounts = nil // their contents are neither sent nor deleted
	}
	for _, p := range cfg.excludeFrom {
		pats, err := filter.ReadExcludeFile(p)
		if err != nil {
			return usageError{err}
		}
		excludes = append(excludes, pats...)
	}
	rules, err := filter.New(excludes, cfg.filters)
	if err != nil {
		return usageError{err}
	}
	if cfg.maxDelays < 1 {
		return usagef("invalid --max-delays %d: must be at least 1", cfg.maxDelays)
	}
	if cfg.maxDelete < 0 {
		return usagef("invalid --max-delete %d: must be 0 (no limit) or more", cfg.maxDelete)
	}
	if len(cfg.targets) == 0 {
		return usagef("no target for source %s", cfg.source)
	}
	m := &mirror{cfg: cfg, log: log, src: src, srcDev: srcDev, rules: rules, ping: ping, mounts: mounts, carry: carry}
	defer m.close()
	excl, filt := rules.Patterns()
	for i, spec := range cfg.targets {
		st := status[i]
		tcfg := cfg
		if cfg.targetCfgs != nil {
			tcfg = cfg.targetCfgs[i]
		}
		tlog := log
		if cfg.targetNames != nil {
			tlog = tlog.With("sync", cfg.targetNames[i])
		}
		tlog = tlog.With("target", spec)
		opts := transport.Options{
			Source:        src,
			Delete:        cfg.deleteMode,
			Exclude:       rules.Excluded,
			DryRun:        cfg.dryRun,
			OneFileSystem: cfg.oneFileSystem,
			Logger:        tlog,
			// m.progress is set later, by once; the targets call it through this.
			Progress: func(rel string, size int64) {
				if m.progress != nil {
					m.progress(rel, size)
				}
			},
		}
		tgt, localDir, err := openTarget(tcfg, spec, rules, opts)
		if err != nil {
			return err
		}
		t := &targetRun{tgt: tgt, st: st, log: tlog, startupDone: cfg.noInit,
			paths: newPathBackoff(backoffMin, backoffMax)}
		m.targets = append(m.targets, t)
		if err := m.guardDeletes(t, tcfg, spec, localDir, opts); err != nil {
			return err
		}
		st.setup(src, tgt.String(), excl, filt)
		if cfg.noInit {
			st.setStarted()
		}
	}
	if cfg.once {
		return m.once(ctx)
	}
	return m.run(ctx, sigs)
}

// guardDeletes gives a target what --max-delete needs: a counter of the
// entries a push would delete (walking a local target's directory dir,
// or a dry run on a twin of a remote target), and a twin target that
// never deletes, for the pushes whose deletions are held back.
func (m *mirror) guardDeletes(t *targetRun, cfg *config, spec, dir string, opts transport.Options) error {
	if m.cfg.maxDelete <= 0 {
		return nil
	}
	keepOpts := opts
	keepOpts.Delete = transport.DeleteNever
	if dir != "" {
		t.counter = &localDeletes{src: m.src, dst: dir, excluded: m.rules.Excluded}
		keep, err := transport.NewLocal(dir, keepOpts)
		if err != nil {
			return usageError{fmt.Errorf("open target %s: %w", dir, err)}
		}
		t.keep = keep
		return nil
	}
	probeOpts := opts
	probeOpts.DryRun, probeOpts.Progress = true, nil
	probeOpts.Logger = opts.Logger.With("role", "max-delete count")
	probe, _, err := openTarget(cfg, spec, m.rules, probeOpts)
	if err != nil {
		return err
	}
	t.counter, t.probe = &dryRunDeletes{probe: probe}, probe
	if t.keep, _, err = openTarget(cfg, spec, m.rules, keepOpts); err != nil {
		return err
	}
	return nil
}

// checkSource returns the absolute, symlink-resolved source directory.
func checkSource(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", usagef("source %q: %v", p, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", usagef("source %s does not exist; create it or fix the path", p)
		}
		return "", usagef("source %s: %v", p, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", usagef("source %s: %v", p, err)
	}
	if !fi.IsDir() {
		return "", usagef("source %s is not a directory; gsync mirrors directory trees", p)
	}
	return real, nil
}

// mirror owns the watcher of one source and, per target, a collator and
// the target itself, and runs the loop between them. One watcher feeds
// every target; each target has its own queue, push and retry timing, so
// a slow or broken target never delays the others.
type mirror struct {
	cfg     *config
	log     *slog.Logger
	src     string
	srcDev  uint64 // device of the source root at startup
	rules   *filter.Set
	targets []*targetRun
	ping    <-chan chan struct{} // liveness probes (systemd watchdog)
	// progress counts the files sent (--once on a terminal); nil: off.
	progress func(rel string, size int64)
	mounts   *nestedMounts // file systems mounted below src; nil: none tracked
	carry    *handover     // queued changes across config reloads
}

// targetRun is the loop's state of one target.
type targetRun struct {
	tgt         transport.Target
	st          *syncStatus
	log         *slog.Logger
	col         *delay.Collator
	inFlight    bool
	active      *delay.Batch // the batch in flight, for the status readers
	startupDone bool
	backoff     time.Duration
	retryAt     time.Time // the last push failed as a whole: next attempt
	// paths backs off the paths that keep failing, one by one.
	paths *pathBackoff
	// failed: a fatal error stopped this target (the others go on).
	failed bool
	closed bool
	// counter, probe and keep serve --max-delete (nil without it): the
	// deletions a push would make (for a remote target by a dry run on
	// probe), and the same target without deletions.
	counter deleteCounter
	probe   transport.Target
	keep    transport.Target
}

func (m *mirror) close() {
	for _, t := range m.targets {
		t.close()
	}
}

// close releases t's connections, once.
func (t *targetRun) close() {
	if t.closed {
		return
	}
	t.closed = true
	for _, tgt := range []transport.Target{t.tgt, t.probe, t.keep} {
		if tgt != nil {
			tgt.Close()
		}
	}
}

// state is what t is doing now, for the status readers.
func (t *targetRun) state(now time.Time) targetState {
	switch {
	case t.failed:
		return stateFailed
	case t.retryAt.After(now) && !t.inFlight:
		return stateRetrying
	case !t.startupDone:
		return stateInitial
	case t.inFlight:
		return statePushing
	}
	return stateIdle
}

// once runs the startup full sync of every target (concurrently) and
// returns the first error. On a terminal (cfg.progress) a progress line
// is shown meanwhile.
func (m *mirror) once(ctx context.Context) error {
	stopProgress := func() {}
	if m.cfg.progress != nil {
		var p *progress
		p, stopProgress = startProgress(ctx, m.cfg.progress, m.src, m.rules)
		m.progress = p.add
	}
	res := make([]pushResult, len(m.targets))
	var wg sync.WaitGroup
	for i, t := range m.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			t.st.publish(0, nil, &delay.Batch{Full: true}, 0, statePushing, time.Time{})
			st, err := m.fullSync(ctx, t)
			res[i] = pushResult{target: t, stats: st, err: err, took: time.Since(start)}
			t.st.pushed(time.Now(), true, st, res[i].took, err, errorClass(err))
		}()
	}
	wg.Wait()
	stopProgress()
	var errs []error
	for _, r := range res {
		t := r.target
		switch {
		case isRefusal(r.err):
			m.logStats(t, "full sync", "held back", r.stats, r.took, "reason", r.err)
			errs = append(errs, fmt.Errorf("sync %s to %s: %w", m.src, t.tgt, r.err))
		case r.err != nil:
			m.logStats(t, "full sync", "failed", r.stats, r.took, "err", r.err)
			errs = append(errs, fmt.Errorf("sync %s to %s: %w", m.src, t.tgt, r.err))
		case len(r.stats.Failed) > 0:
			m.logStats(t, "full sync", "partial", r.stats, r.took)
			for _, f := range r.stats.Failed {
				t.log.Warn("path not mirrored", "path", f.Path, "err", f.Err)
			}
			errs = append(errs, fmt.Errorf("sync %s to %s: %d path(s) failed, first: %v", m.src, t.tgt, len(r.stats.Failed), r.stats.Failed[0]))
		default:
			m.logStats(t, "full sync", "ok", r.stats, r.took)
		}
	}
	return errors.Join(errs...)
}

// pushResult is what a push goroutine reports back to the loop.
type pushResult struct {
	target *targetRun
	batch  delay.Batch
	stats  transport.Stats
	err    error
	took   time.Duration
}

// run is the live mirror loop: watches first, then the full syncs, then
// queued events. It is the only goroutine that touches the collators. It
// ends on a signal, when the watcher stops, when a startup sync fails
// without --insist, or when every target failed.
func (m *mirror) run(ctx context.Context, sigs <-chan os.Signal) error {
	w, err := watcher.New(ctx, watcher.Options{
		Root:    m.src,
		Exclude: m.rules.Excluded,
		Backend: m.cfg.watchBackend,
		Logger:  m.log,
	})
	if err != nil {
		var wl *watcher.WatchLimitError
		if errors.As(err, &wl) {
			return fmt.Errorf("watch %s: %w", m.src, err)
		}
		return usageError{fmt.Errorf("watch %s: %w", m.src, err)}
	}
	defer w.Close()
	names := make([]string, len(m.targets))
	for i, t := range m.targets {
		names[i] = t.tgt.String()
	}
	m.log.Info("watching", "source", m.src, "target", strings.Join(names, " "), "dirs", w.Watches(),
		"delay", m.cfg.delay.String())

	full, carried := m.carry.take(m.src)
	if len(carried) > 0 || full {
		m.log.Info("config reloaded: queued changes handed over", "changes", len(carried), "full_sync", full)
	}
	for _, t := range m.targets {
		t.col = delay.New(delay.Config{Delay: m.cfg.delay, MaxDelays: m.cfg.maxDelays, MoveGuard: moveGuard})
		if !m.cfg.noInit || full { // lsyncd init = false: no startup full sync
			t.col.AddFull()
		}
		for _, it := range carried {
			t.col.Add(it)
		}
	}
	defer m.handOver()

	// pushCtx outlives ctx by stopGrace so that in-flight batches can
	// finish after SIGTERM/SIGINT.
	pushCtx, cancelPush := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPush()
	results := make(chan pushResult, len(m.targets))
	var stopSig os.Signal
	events := w.Events()
	var timer *time.Timer
	var timerC <-chan time.Time
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
		if stopSig != nil && inFlight() == 0 {
			return signalExit{stopSig}
		}
		now := time.Now()
		var due time.Time
		for _, t := range m.targets {
			if t.failed {
				t.st.publish(0, nil, nil, w.Watches(), stateFailed, time.Time{})
				continue
			}
			for _, p := range t.paths.due(now) {
				t.col.Add(m.retryItem(p))
			}
			if !t.inFlight && stopSig == nil {
				if b, ok := t.col.Next(); ok {
					t.inFlight, t.active = true, &b
					go m.push(pushCtx, t, b, results)
				}
			}
			t.st.publish(t.col.Len(), t.col.Waiting(maxStatusActive), t.active, w.Watches(), t.state(now), t.retryAt)
			due = earliest(due, t.wakeAt(now))
		}
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
		}
		if !due.IsZero() {
			timer = time.NewTimer(max(time.Until(due), 0))
			timerC = timer.C
		}

		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				if stopSig == nil {
					return fmt.Errorf("watch %s: watcher stopped unexpectedly", m.src)
				}
				continue
			}
			if ev.Op == watcher.Overflow {
				m.log.Warn("inotify event queue overflowed; doing a full sync", "source", m.src)
				for _, t := range m.running() {
					t.st.overflow()
					t.col.AddFull()
				}
				continue
			}
			m.log.Debug("event", "op", ev.Op.String(), "path", ev.Path, "from", ev.From, "dir", ev.IsDir)
			for _, t := range m.running() {
				t.st.event()
				t.col.Add(toItem(ev))
			}
		case err := <-w.Errors():
			var wl *watcher.WatchLimitError
			if errors.As(err, &wl) {
				m.log.Error("directory not watched, changes below it are missed until a full sync", "err", err)
				continue
			}
			m.log.Warn("watcher", "err", err)
		case r := <-results:
			t := r.target
			t.inFlight, t.active = false, nil
			if err := m.finish(t, r, time.Now()); err != nil {
				return err
			}
			if len(m.running()) == 0 {
				return fmt.Errorf("every target of %s failed; last: %w", m.src, r.err)
			}
		case <-timerC:
		case reply := <-m.ping:
			close(reply)
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				m.log.Info("SIGHUP: full sync")
				if err := m.mounts.refresh(); err != nil {
					m.log.Warn("mounts below the source not re-read", "err", err)
				}
				for _, t := range m.running() {
					t.col.AddFull()
				}
				continue
			}
			if stopSig != nil { // second signal: stop now
				cancelPush()
				return signalExit{sig}
			}
			stopSig = sig
			m.log.Info("stopping", "signal", sig.String(), "in_flight", inFlight())
			if inFlight() > 0 {
				time.AfterFunc(stopGrace, cancelPush)
			}
		case <-ctx.Done():
			cancelPush()
			return ctx.Err()
		}
	}
}

// running returns the targets that have not failed.
func (m *mirror) running() []*targetRun {
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
// config (see handover).
func (m *mirror) handOver() {
	if m.carry == nil {
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
		m.carry.put(m.src, t.col.FullQueued(), items)
	}
}

// push runs one batch against the target and reports the result.
func (m *mirror) push(ctx context.Context, t *targetRun, b delay.Batch, out chan<- pushResult) {
	start := time.Now()
	var st transport.Stats
	var err error
	if b.Full {
		st, err = m.fullSync(ctx, t)
	} else {
		st, err = m.pushBatch(ctx, t, toChanges(b.Items, m.cfg.deleteMode))
	}
	out <- pushResult{target: t, batch: b, stats: st, err: err, took: time.Since(start)}
}

// startupError is a startup full sync that failed without --insist: it
// ends gsync (every sync), like lsyncd.
type startupError struct{ err error }

func (e startupError) Error() string { return e.err.Error() }
func (e startupError) Unwrap() error { return e.err }

// finish hands a push result back to the target's collator at now. A
// push that failed as a whole (transient) is retried with the target's
// capped exponential backoff; paths that failed alone are backed off one
// by one (t.paths) while the rest goes on; a fatal error stops this
// target only; a guard's refusal is logged and not retried. The error
// returned (a startup sync failed without --insist) ends the mirror.
func (m *mirror) finish(t *targetRun, r pushResult, now time.Time) error {
	what := "batch"
	if r.batch.Full {
		what = "full sync"
	}
	col := t.col
	switch {
	case isRefusal(r.err):
		t.st.pushed(now, r.batch.Full, r.stats, r.took, nil, "")
		t.st.noteError(now, r.err)
		m.logStats(t, what, "held back", r.stats, r.took, "reason", r.err)
		col.Done(r.batch.ID, nil, time.Time{})
		m.startupDone(t, r.batch.Full)
		m.settle(t, r, now)
		return nil
	case r.err != nil:
		t.st.pushed(now, r.batch.Full, r.stats, r.took, r.err, errorClass(r.err))
		if r.batch.Full && !t.startupDone && !m.cfg.insist {
			col.Done(r.batch.ID, nil, time.Time{})
			m.logStats(t, what, "failed", r.stats, r.took, "err", r.err)
			return startupError{fmt.Errorf("%s of %s to %s: %w", what, m.src, t.tgt, r.err)}
		}
		if !transport.IsTransient(r.err) {
			col.Done(r.batch.ID, nil, time.Time{})
			m.failTarget(t, what, r)
			return nil
		}
		t.backoff = nextBackoff(t.backoff)
		t.retryAt = now.Add(t.backoff)
		m.logStats(t, what, "failed", r.stats, r.took, "err", r.err, "retry_in", t.backoff.String())
		col.Done(r.batch.ID, r.batch.Items, t.retryAt)
		if r.batch.Full {
			col.AddFull()
		}
		return nil
	}
	t.st.pushed(now, r.batch.Full, r.stats, r.took, nil, "")
	if r.batch.Full {
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
	m.logStats(t, what, result, r.stats, r.took)
	m.settle(t, r, now)
	return nil
}

// startupDone records that t's startup full sync ended (full: r was a
// full sync).
func (m *mirror) startupDone(t *targetRun, full bool) {
	if full && !t.startupDone {
		t.startupDone = true
		t.st.setStarted()
	}
}

// settle updates t's failing paths from a push that went through: the
// paths it listed and did not fail work again; each failed path backs
// off on its own (logged once per backoff step).
func (m *mirror) settle(t *targetRun, r pushResult, now time.Time) {
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
func (m *mirror) failTarget(t *targetRun, what string, r pushResult) {
	t.failed = true
	t.st.setState(stateFailed)
	m.logStats(t, what, "failed", r.stats, r.took, "err", r.err,
		"action", "this target is stopped; the other targets go on (fix the cause, then restart gsync)")
	t.close()
}

// errorClass names the kind of a push error for metrics.
func errorClass(err error) string {
	switch {
	case err == nil:
		return ""
	case isRefusal(err):
		return "refused"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case transport.IsTransient(err):
		return "transient"
	}
	return "fatal"
}

// retryItem re-queues a failed path as a change of whatever it is now.
// The root itself is retried for its own attributes only: resending the
// whole tree cannot fix them.
func (m *mirror) retryItem(rel string) delay.Item {
	if rel == "." || rel == "" {
		return delay.Item{Op: delay.Attrib, Path: ".", IsDir: true}
	}
	fi, err := os.Lstat(filepath.Join(m.src, filepath.FromSlash(rel)))
	if err != nil {
		return delay.Item{Op: delay.Delete, Path: rel, Recursive: true}
	}
	return delay.Item{Op: delay.Modify, Path: rel, IsDir: fi.IsDir(), Recursive: fi.IsDir()}
}

// logStats writes the one line per push: what, result (ok, partial,
// failed), counts, bytes and duration.
func (m *mirror) logStats(t *targetRun, what, result string, st transport.Stats, took time.Duration, extra ...any) {
	args := []any{"result", result, "files", st.Files, "deleted", st.Deleted,
		"renamed", st.Renamed, "bytes", st.Bytes, "failed", len(st.Failed),
		"duration", took.Round(time.Millisecond).String()}
	args = append(args, extra...)
	switch result {
	case "failed":
		t.log.Error(what+" failed", args...)
		return
	case "held back":
		t.log.Error(what+" held back by a safety guard", args...)
		return
	}
	t.log.Info(what+" done", args...)
}

func nextBackoff(d time.Duration) time.Duration {
	if d < backoffMin {
		return backoffMin
	}
	return min(2*d, backoffMax)
}

// toItem converts a watcher event into a collator item.
func toItem(ev watcher.Event) delay.Item {
	it := delay.Item{Path: ev.Path, IsDir: ev.IsDir}
	switch ev.Op {
	case watcher.Create:
		it.Op = delay.Create
	case watcher.Modify:
		it.Op = delay.Modify
	case watcher.Attrib:
		it.Op = delay.Attrib
	case watcher.Delete:
		it.Op = delay.Delete
	case watcher.Move:
		it.Op, it.From = delay.Move, ev.From
	}
	return it
}

// toChanges converts a batch into transport changes. Without runtime
// deletes a move cannot remove its source, so it becomes a copy.
func toChanges(items []delay.Item, mode transport.DeleteMode) []transport.Change {
	out := make([]transport.Change, 0, len(items))
	for _, it := range items {
		c := transport.Change{Path: it.Path, IsDir: it.IsDir, Recursive: it.Recursive}
		switch it.Op {
		case delay.Move:
			if mode.Running() {
				c.Kind, c.From = transport.Rename, it.From
			} else {
				c.Kind, c.Recursive = transport.Sync, it.IsDir
			}
		case delay.Delete:
			c.Kind = transport.Delete
		default:
			c.Kind = transport.Sync
		}
		out = append(out, c)
	}
	return out
}
