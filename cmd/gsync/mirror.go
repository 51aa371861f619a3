package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
// push loop until a signal (or, with --once, the startup sync) ends it.
func runMirror(ctx context.Context, cfg *config, stderr io.Writer, sigs <-chan os.Signal) error {
	log, err := newLogger(stderr, cfg.logLevel, cfg.logFormat)
	if err != nil {
		return err
	}
	if cfg.name != "" {
		log = log.With("sync", cfg.name)
	}
	src, err := checkSource(cfg.source)
	if err != nil {
		return err
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
	opts := transport.Options{
		Source:  src,
		Delete:  cfg.deleteMode,
		Exclude: rules.Excluded,
		DryRun:  cfg.dryRun,
		Logger:  log,
	}
	tgt, err := openTarget(cfg, rules, opts)
	if err != nil {
		return err
	}
	defer tgt.Close()

	if cfg.statusFile != "" && cfg.status == nil { // native command line: one sync
		name := cfg.name
		if name == "" {
			name = "Sync1"
		}
		sw := newStatusWriter(cfg.statusFile, cfg.statusInterval, log, []string{name})
		cfg.status = sw.syncs[0]
		defer sw.start(ctx)()
	}
	excl, filt := rules.Patterns()
	cfg.status.setup(src, tgt.String(), excl, filt)

	m := &mirror{cfg: cfg, log: log, src: src, target: tgt, rules: rules}
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

// mirror owns the watcher, the collator and the target of one SRC → TARGET
// pair, and runs the loop between them.
type mirror struct {
	cfg    *config
	log    *slog.Logger
	src    string
	target transport.Target
	rules  *filter.Set
}

// once runs the startup full sync and returns.
func (m *mirror) once(ctx context.Context) error {
	start := time.Now()
	st, err := m.target.FullSync(ctx)
	if err != nil {
		return fmt.Errorf("sync %s: %w", m.src, err)
	}
	m.logStats("full sync done", st, time.Since(start))
	if len(st.Failed) > 0 {
		return fmt.Errorf("sync %s to %s: %d path(s) failed, first: %v", m.src, m.target, len(st.Failed), st.Failed[0])
	}
	return nil
}

// pushResult is what a push goroutine reports back to the loop.
type pushResult struct {
	batch delay.Batch
	stats transport.Stats
	err   error
	took  time.Duration
}

// run is the live mirror loop: watches first, then the full sync, then
// queued events. It is the only goroutine that touches the collator.
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
	m.log.Info("watching", "source", m.src, "target", m.target.String(), "dirs", w.Watches(),
		"delay", m.cfg.delay.String())

	col := delay.New(delay.Config{Delay: m.cfg.delay, MaxDelays: m.cfg.maxDelays, MoveGuard: moveGuard})
	if !m.cfg.noInit { // lsyncd init = false: no startup full sync
		col.AddFull()
	}

	// pushCtx outlives ctx by stopGrace so that the in-flight batch can
	// finish after SIGTERM/SIGINT.
	pushCtx, cancelPush := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPush()
	results := make(chan pushResult, 1)
	var active *delay.Batch // the batch in flight, for the status file
	inFlight := false
	startupDone := m.cfg.noInit
	backoff := time.Duration(0)
	var stopSig os.Signal
	events := w.Events()
	var timer *time.Timer
	var timerC <-chan time.Time

	for {
		if stopSig != nil && !inFlight {
			return signalExit{stopSig}
		}
		if !inFlight && stopSig == nil {
			if b, ok := col.Next(); ok {
				inFlight, active = true, &b
				go m.push(pushCtx, b, results)
			}
		}
		if st := m.cfg.status; st != nil {
			st.publish(col.Len(), col.Waiting(maxStatusActive), active, w.Watches())
		}
		if timer != nil {
			timer.Stop()
			timer, timerC = nil, nil
		}
		if due, ok := col.Due(); ok && !inFlight {
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
				col.AddFull()
				continue
			}
			m.log.Debug("event", "op", ev.Op.String(), "path", ev.Path, "from", ev.From, "dir", ev.IsDir)
			col.Add(toItem(ev))
		case err := <-w.Errors():
			var wl *watcher.WatchLimitError
			if errors.As(err, &wl) {
				m.log.Error("directory not watched, changes below it are missed until a full sync", "err", err)
				continue
			}
			m.log.Warn("watcher", "err", err)
		case r := <-results:
			inFlight, active = false, nil
			m.cfg.status.pushed(time.Now(), r.err)
			if err := m.finish(col, r, &backoff, startupDone); err != nil {
				return err
			}
			if r.batch.Full && r.err == nil {
				startupDone = true
			}
		case <-timerC:
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				m.log.Info("SIGHUP: full sync")
				col.AddFull()
				continue
			}
			if stopSig != nil { // second signal: stop now
				cancelPush()
				return signalExit{sig}
			}
			stopSig = sig
			m.log.Info("stopping", "signal", sig.String(), "in_flight", inFlight)
			if inFlight {
				time.AfterFunc(stopGrace, cancelPush)
			}
		case <-ctx.Done():
			cancelPush()
			return ctx.Err()
		}
	}
}

// push runs one batch against the target and reports the result.
func (m *mirror) push(ctx context.Context, b delay.Batch, out chan<- pushResult) {
	start := time.Now()
	var st transport.Stats
	var err error
	if b.Full {
		st, err = m.target.FullSync(ctx)
	} else {
		st, err = m.target.Push(ctx, toChanges(b.Items, m.cfg.deleteMode))
	}
	out <- pushResult{batch: b, stats: st, err: err, took: time.Since(start)}
}

// finish hands a push result back to the collator: failed paths are
// re-queued with a capped exponential backoff; fatal errors end gsync.
func (m *mirror) finish(col *delay.Collator, r pushResult, backoff *time.Duration, startupDone bool) error {
	what := "batch"
	if r.batch.Full {
		what = "full sync"
	}
	if r.err != nil {
		if !transport.IsTransient(r.err) || (r.batch.Full && !startupDone && !m.cfg.insist) {
			col.Done(r.batch.ID, nil, time.Time{})
			return fmt.Errorf("%s of %s: %w", what, m.src, r.err)
		}
		*backoff = nextBackoff(*backoff)
		notBefore := time.Now().Add(*backoff)
		m.log.Error(what+" failed, will retry", "target", m.target.String(), "err", r.err,
			"retry_in", backoff.String())
		col.Done(r.batch.ID, r.batch.Items, notBefore)
		if r.batch.Full {
			col.AddFull()
		}
		return nil
	}
	m.logStats(what+" done", r.stats, r.took)
	if len(r.stats.Failed) == 0 {
		*backoff = 0
		col.Done(r.batch.ID, nil, time.Time{})
		return nil
	}
	*backoff = nextBackoff(*backoff)
	notBefore := time.Now().Add(*backoff)
	retry := make([]delay.Item, 0, len(r.stats.Failed))
	for _, f := range r.stats.Failed {
		m.log.Warn("path not mirrored, will retry", "path", f.Path, "err", f.Err, "retry_in", backoff.String())
		retry = append(retry, m.retryItem(f.Path))
	}
	col.Done(r.batch.ID, retry, notBefore)
	return nil
}

// retryItem re-queues a failed path as a change of whatever it is now.
func (m *mirror) retryItem(rel string) delay.Item {
	fi, err := os.Lstat(filepath.Join(m.src, filepath.FromSlash(rel)))
	if err != nil {
		return delay.Item{Op: delay.Delete, Path: rel}
	}
	return delay.Item{Op: delay.Modify, Path: rel, IsDir: fi.IsDir(), Recursive: fi.IsDir()}
}

func (m *mirror) logStats(msg string, st transport.Stats, took time.Duration) {
	m.log.Info(msg, "target", m.target.String(), "files", st.Files, "deleted", st.Deleted,
		"renamed", st.Renamed, "bytes", st.Bytes, "failed", len(st.Failed),
		"duration", took.Round(time.Millisecond).String())
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
