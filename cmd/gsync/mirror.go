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
// --once, the startup sync) ends it. status has one entry per target of
// cfg, in order.
func runMirror(ctx context.Context, cfg *config, status []*syncStatus, log *slog.Logger, sigs <-chan os.Signal, ping <-chan chan struct{}) error {
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
	excludes := append([]string(nil), cfg.excludes...)
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
	if len(cfg.targets) == 0 {
		return usagef("no target for source %s", cfg.source)
	}
	m := &mirror{cfg: cfg, log: log, src: src, srcDev: srcDev, rules: rules, ping: ping}
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
			Source:  src,
			Delete:  cfg.deleteMode,
			Exclude: rules.Excluded,
			DryRun:  cfg.dryRun,
			Logger:  tlog,
			// m.progress is set later, by once; the targets call it through this.
			Progress: func(rel string, size int64) {
				if m.progress != nil {
					m.progress(rel, size)
				}
			},
		}
		tgt, err := openTarget(tcfg, spec, rules, opts)
		if err != nil {
			return err
		}
		st.setup(src, tgt.String(), excl, filt)
		m.targets = append(m.targets, &targetRun{tgt: tgt, st: st, log: tlog, startupDone: cfg.noInit})
		if cfg.noInit {
			st.setStarted()
		}
	}
	if cfg.once {
		return m.once(ctx)
	}
	return m.run(ctx, sigs)
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

// checkNotInside refuses a local target that is the source or lies inside
// it: every push would create new events, forever.
func checkNotInside(src, target string) error {
	real := target
	// Resolve the longest existing prefix of the target.
	for dir, rest := target, ""; ; {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			real = filepath.Join(r, rest)
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
	if real == src || strings.HasPrefix(real, src+string(filepath.Separator)) {
		return usagef("target %s is inside the source %s; choose a directory outside it", target, src)
	}
	return nil
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
	retryAt     time.Time // the last push failed: next attempt
}

func (m *mirror) close() {
	for _, t := range m.targets {
		t.tgt.Close()
	}
}

// state is what t is doing now, for the status readers.
func (t *targetRun) state(now time.Time) targetState {
	switch {
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
// queued events. It is the only goroutine that touches the collators.
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

	for _, t := range m.targets {
		t.col = delay.New(delay.Config{Delay: m.cfg.delay, MaxDelays: m.cfg.maxDelays, MoveGuard: moveGuard})
		if !m.cfg.noInit { // lsyncd init = false: no startup full sync
			t.col.AddFull()
		}
	}

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
			if !t.inFlight && stopSig == nil {
				if b, ok := t.col.Next(); ok {
					t.inFlight, t.active = true, &b
					go m.push(pushCtx, t, b, results)
				}
			}
			t.st.publish(t.col.Len(), t.col.Waiting(maxStatusActive), t.active, w.Watches(), t.state(now), t.retryAt)
			if t.inFlight {
				continue
			}
			if d, ok := t.col.Due(); ok && (due.IsZero() || d.Before(due)) {
				due = d
			}
			if t.retryAt.After(now) && (due.IsZero() || t.retryAt.Before(due)) {
				due = t.retryAt // wake up to publish the state change
			}
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
				for _, t := range m.targets {
					t.st.overflow()
					t.col.AddFull()
				}
				continue
			}
			m.log.Debug("event", "op", ev.Op.String(), "path", ev.Path, "from", ev.From, "dir", ev.IsDir)
			for _, t := range m.targets {
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
			if err := m.finish(t, r); err != nil {
				return err
			}
		case <-timerC:
		case reply := <-m.ping:
			close(reply)
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				m.log.Info("SIGHUP: full sync")
				for _, t := range m.targets {
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

// finish hands a push result back to the target's collator: failed paths
// are re-queued with a capped exponential backoff; fatal errors end gsync.
func (m *mirror) finish(t *targetRun, r pushResult) error {
	what := "batch"
	if r.batch.Full {
		what = "full sync"
	}
	now := time.Now()
	t.st.pushed(now, r.batch.Full, r.stats, r.took, r.err, errorClass(r.err))
	col := t.col
	if r.err != nil {
		if !transport.IsTransient(r.err) || (r.batch.Full && !t.startupDone && !m.cfg.insist) {
			col.Done(r.batch.ID, nil, time.Time{})
			m.logStats(t, what, "failed", r.stats, r.took, "err", r.err)
			return fmt.Errorf("%s of %s to %s: %w", what, m.src, t.tgt, r.err)
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
	if r.batch.Full {
		// A full sync held the whole file list; an idle process never
		// collects again, so give the memory back now.
		debug.FreeOSMemory()
	}
	if r.batch.Full && !t.startupDone {
		t.startupDone = true
		t.st.setStarted()
	}
	if len(r.stats.Failed) == 0 {
		m.logStats(t, what, "ok", r.stats, r.took)
		t.backoff, t.retryAt = 0, time.Time{}
		col.Done(r.batch.ID, nil, time.Time{})
		return nil
	}
	t.backoff = nextBackoff(t.backoff)
	t.retryAt = now.Add(t.backoff)
	m.logStats(t, what, "partial", r.stats, r.took, "retry_in", t.backoff.String())
	retry := make([]delay.Item, 0, len(r.stats.Failed))
	for _, f := range r.stats.Failed {
		t.log.Warn("path not mirrored, will retry", "path", f.Path, "err", f.Err, "retry_in", t.backoff.String())
		retry = append(retry, m.retryItem(f.Path))
	}
	col.Done(r.batch.ID, retry, t.retryAt)
	return nil
}

// errorClass names the kind of a push error for metrics.
func errorClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case transport.IsTransient(err):
		return "transient"
	}
	return "fatal"
}

// retryItem re-queues a failed path as a change of whatever it is now.
func (m *mirror) retryItem(rel string) delay.Item {
	fi, err := os.Lstat(filepath.Join(m.src, filepath.FromSlash(rel)))
	if err != nil {
		return delay.Item{Op: delay.Delete, Path: rel}
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
	if result == "failed" {
		t.log.Error(what+" failed", args...)
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
