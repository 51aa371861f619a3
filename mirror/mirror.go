// Package mirror is the sync engine of one source: it watches the tree,
// collects changes per target (package delay), pushes them to the
// targets (package transport) with retry and backoff, per target and per
// path, and keeps the safety guards. It reads no flags, signals or
// environment and logs only to the logger it is given; its clock and
// watcher are injected.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/hooks"
	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/state"
	"github.com/gsync/gsync/transport"
)

const (
	backoffMin = time.Second
	backoffMax = time.Minute
	// stopGrace bounds how long an in-flight batch may run after Stop.
	stopGrace = 30 * time.Second
	// moveGuard: renames overlapping a batch that ended this recently are
	// sent as delete + create (see delay.Config.MoveGuard).
	moveGuard = 500 * time.Millisecond
)

// Mirror runs the loop of one source: Run, and from other goroutines
// FullSync, Stop and Ping.
type Mirror struct {
	cfg   Config
	log   *slog.Logger
	clock Clock
	cmds  chan command
	done  chan struct{}

	src     string
	srcDev  uint64 // device of the source root at startup
	rules   *filter.Set
	targets []*targetRun
	// progress counts the files sent (Once with Progress); nil: off.
	progress func(rel string, size int64)
	mounts   *nestedMounts // file systems mounted below src; nil: none tracked
	// excludeOrigins says where each exclude pattern of rules comes
	// from, in order (gsync explain).
	excludeOrigins []string
}

type command struct {
	op    int
	reply chan struct{}
}

const (
	cmdFullSync = iota
	cmdStop
	cmdPing
)

// New returns a mirror of cfg; Run starts it.
func New(cfg Config) *Mirror {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	log := cfg.Log
	if cfg.Name != "" {
		log = log.With("sync", cfg.Name)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = realClock{}
	}
	return &Mirror{cfg: cfg, log: log, clock: clock, cmds: make(chan command), done: make(chan struct{})}
}

func (m *Mirror) send(c command) {
	select {
	case m.cmds <- c:
	case <-m.done:
	}
}

// FullSync queues a full sync of every running target (SIGHUP); it
// re-reads the mounts below the source too.
func (m *Mirror) FullSync() { m.send(command{op: cmdFullSync}) }

// Stop lets the pushes in flight finish (for at most 30 s), then ends
// Run; a second Stop ends it at once.
func (m *Mirror) Stop() { m.send(command{op: cmdStop}) }

// Ping returns a channel that is closed when the loop answered (a
// liveness probe) or ended.
func (m *Mirror) Ping() <-chan struct{} {
	reply := make(chan struct{})
	go func() {
		select {
		case m.cmds <- command{op: cmdPing, reply: reply}:
		case <-m.done:
			close(reply)
		}
	}()
	return reply
}

// Done is closed when Run has returned.
func (m *Mirror) Done() <-chan struct{} { return m.done }

// Run validates the configuration, opens the targets, then runs the
// watch → collate → push loop until Stop or ctx ends it, or until every
// target failed; with Once it runs the startup full syncs and returns.
// A failed startup sync without Insist returns a StartupError, a bad
// configuration a ConfigError.
func (m *Mirror) Run(ctx context.Context) error {
	defer close(m.done)
	defer func() {
		for _, t := range m.cfg.Targets {
			t.Status.setState(StateStopped)
		}
	}()
	if err := m.setup(); err != nil {
		m.close()
		return err
	}
	defer m.close()
	m.startHooks()
	if m.cfg.Once {
		// The startup syncs' hooks run to their end (each bounded by
		// its timeout) before gsync --once exits.
		defer m.stopHooks(context.WithoutCancel(ctx))
		return m.runOnce(ctx)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
		defer cancel()
		m.stopHooks(stopCtx)
	}()
	return m.run(ctx)
}

// runOnce runs once, answering probes meanwhile; Stop cancels the
// startup syncs (there is no queue to drain).
func (m *Mirror) runOnce(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ended := make(chan struct{})
	defer close(ended)
	go func() {
		for {
			select {
			case <-ended:
				return
			case c := <-m.cmds:
				switch c.op {
				case cmdPing:
					close(c.reply)
				case cmdStop:
					cancel()
				}
			}
		}
	}()
	return m.once(ctx)
}

// setup resolves the source, builds its rules and opens the targets.
func (m *Mirror) setup() error {
	cfg := &m.cfg
	src, err := checkSource(cfg.Source)
	if err != nil {
		return err
	}
	m.src = src
	if m.srcDev, err = deviceOf(src); err != nil {
		return configErrorf("source %s: %v", cfg.Source, err)
	}
	if err := m.buildRules(); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	excl, filt := m.rules.Patterns()
	for _, spec := range cfg.Targets {
		tlog := m.log // each attribute once: a target's own sync name replaces the mirror's
		if spec.Name != "" && spec.Name != cfg.Name {
			tlog = cfg.Log.With("sync", spec.Name)
		}
		tlog = tlog.With("target", spec.Spec)
		prog := &syncProgress{}
		opts := transport.Options{
			Source:        src,
			Delete:        cfg.Delete,
			Exclude:       m.rules.Excluded,
			Protect:       m.rules.Protected,
			ProtectInside: m.rules.ProtectedInside,
			XattrExclude:  m.rules.XattrExcluded,
			XattrProtect:  m.rules.XattrProtected,
			DryRun:        cfg.DryRun,
			OneFileSystem: cfg.OneFileSystem,
			Logger:        tlog,
			// m.progress is set later, by once; the targets call it through this.
			Progress: func(rel string, size int64) {
				prog.files.Add(1)
				prog.bytes.Add(size)
				if m.progress != nil {
					m.progress(rel, size)
				}
			},
			Listed: func(n int) { prog.listed.Add(int64(n)) },
		}
		tgt, localDir, err := spec.Open(m.rules, opts)
		if err != nil {
			return err
		}
		t := &targetRun{tgt: tgt, spec: spec.Spec, st: spec.Status, log: tlog, startupDone: cfg.NoInit, hardLinks: spec.HardLinks,
			paths: newPathBackoff(backoffMin, backoffMax), prog: prog}
		m.targets = append(m.targets, t)
		if err := m.openMore(t, spec, opts); err != nil {
			return err
		}
		if err := m.guardDeletes(t, spec, localDir, opts); err != nil {
			return err
		}
		if err := m.openIndex(t, spec); err != nil {
			return err
		}
		if err := m.openVerifier(t, spec, opts); err != nil {
			return err
		}
		t.st.setup(src, tgt.String(), excl, filt)
		if cfg.NoInit {
			t.st.setStarted()
		}
	}
	return nil
}

// buildRules reads the mounts below the source and the exclude files,
// and compiles the source's rules (m.rules).
func (m *Mirror) buildRules() error {
	cfg, src := &m.cfg, m.src
	mounts, err := newNestedMounts(src)
	if err != nil {
		m.log.Warn("file systems mounted below the source are not tracked; a vanished one may empty its subtree on the target", "source", src, "err", err)
	}
	excludes := append([]string(nil), cfg.Excludes...)
	origin := cfg.RulesOrigin
	if origin == "" {
		origin = "--exclude"
	}
	m.excludeOrigins = nil
	for range cfg.Excludes {
		m.excludeOrigins = append(m.excludeOrigins, origin)
	}
	if cfg.OneFileSystem {
		pats, skipped := mountExcludes(mounts.list())
		excludes = append(excludes, pats...)
		for range pats {
			m.excludeOrigins = append(m.excludeOrigins, "--one-file-system (a file system mounted there)")
		}
		for _, p := range skipped {
			m.log.Warn("--one-file-system: mount point name holds pattern characters; its contents are mirrored", "path", p)
		}
		mounts = nil // their contents are neither sent nor deleted
	}
	m.mounts = mounts
	for _, p := range cfg.ExcludeFrom {
		pats, err := filter.ReadExcludeFile(p)
		if err != nil {
			return ConfigError{err}
		}
		excludes = append(excludes, pats...)
		m.excludeOrigins = append(m.excludeOrigins, patternLines(p, pats)...)
	}
	m.rules, err = filter.Compile(filter.Options{Excludes: excludes, Filters: cfg.Filters, Rules: cfg.Rules,
		Root: src, ReadFile: m.readRuleFile, OnError: func(err error) {
			m.log.Warn("per-directory filter file left out", "err", err)
		}, DeleteExcluded: cfg.DeleteExcluded, CVSExclude: cfg.CVSExclude, CVSHome: cfg.CVSHome, CVSEnv: cfg.CVSEnv})
	if err != nil {
		return ConfigError{err}
	}
	for _, file := range m.rules.MergeFilesAbove() {
		if _, err := os.Lstat(file); err == nil {
			m.log.Warn("per-directory filter file above the source left out: rsync would read it (a dir-merge name whose directory is above the source, as -F's /.rsync-filter), gsync reads none outside the source",
				"file", file)
		}
	}
	return nil
}

// maxRuleFile caps a per-directory filter file (.rsync-filter).
const maxRuleFile = 1 << 20

// readRuleFile reads a per-directory filter file of the source (rel),
// beneath the source without following symlinks (a symlinked one counts
// as missing).
func (m *Mirror) readRuleFile(rel string) ([]byte, error) {
	root, err := beneath.Open(m.src)
	if err != nil {
		return nil, fmt.Errorf("open source %s: %w", m.src, err)
	}
	defer root.Close()
	f, _, err := root.OpenFile(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRuleFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	if len(data) > maxRuleFile {
		return nil, fmt.Errorf("read %s: larger than %d bytes", rel, maxRuleFile)
	}
	return data, nil
}

// openMore opens the extra target instances of spec.MaxProcesses, each
// with its own connection. A target that runs events (lsyncd's actions)
// gets them too: lsyncd runs up to maxProcesses actions at once, on
// delays that do not block each other (lsyncd.lua: Sync.invokeActions,
// getDelays), as the groups of splitChanges do; the caller keeps one for
// actions that are not independent processes.
func (m *Mirror) openMore(t *targetRun, spec Target, opts transport.Options) error {
	n := max(spec.MaxProcesses, 1)
	t.st.setProcesses(n)
	if m.cfg.Once {
		return nil // full syncs only: they run alone
	}
	for range n - 1 {
		tgt, _, err := spec.Open(m.rules, opts)
		if err != nil {
			return err
		}
		t.more = append(t.more, tgt)
	}
	return nil
}

// guardDeletes gives a target what MaxDelete needs: a counter of the
// entries a push would delete (walking a local target's directory dir,
// or a dry run on a twin of a remote target), and a twin target that
// never deletes, for the pushes whose deletions are held back.
func (m *Mirror) guardDeletes(t *targetRun, spec Target, dir string, opts transport.Options) error {
	if m.cfg.MaxDelete <= 0 {
		return nil
	}
	keepOpts := opts
	keepOpts.Delete, keepOpts.HoldDeletes = transport.DeleteNever, true
	if dir != "" {
		t.counter = &localDeletes{src: m.src, dst: dir, sent: m.rules.Excluded, kept: m.rules.Protected, keptInside: m.rules.ProtectedInside}
		// Opened as the target is, with its own options (attributes,
		// --backup, ...): a batch held back still lands as they say.
		keep, _, err := spec.Open(m.rules, keepOpts)
		if err != nil {
			return err
		}
		t.keep = keep
		return nil
	}
	probeOpts := opts
	probeOpts.DryRun, probeOpts.Progress, probeOpts.Listed = true, nil, nil
	probeOpts.Logger = opts.Logger.With("role", "max-delete count")
	probe, _, err := spec.Open(m.rules, probeOpts)
	if err != nil {
		return err
	}
	t.counter, t.probe = &dryRunDeletes{probe: probe}, probe
	if t.keep, _, err = spec.Open(m.rules, keepOpts); err != nil {
		return err
	}
	return nil
}

// targetRun is the loop's state of one target. One watcher feeds every
// target; each target has its own queue, push and retry timing, so a
// slow or broken target never delays the others.
type targetRun struct {
	tgt transport.Target
	// more are the extra instances of the target that the groups of a
	// batch are pushed on at the same time (Target.MaxProcesses).
	more []transport.Target
	// hardLinks: -H (Target.HardLinks).
	hardLinks   bool
	spec        string // the target as given
	st          *Status
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
	// counter, probe and keep serve MaxDelete (nil without it): the
	// deletions a push would make (for a remote target by a dry run on
	// probe), and the same target without deletions.
	counter deleteCounter
	probe   transport.Target
	keep    transport.Target
	// The tree index (Config.StateDir; "" without): its file and key,
	// the snapshot taken before the full sync in flight, and whether
	// the startup is a catch-up from the index.
	stateFile, stateKey string
	pending             *state.Snapshot
	catchingUp          bool
	// prog counts the push in flight (full syncs report it).
	prog *syncProgress
	// hooks runs the --on-push hooks of this target (nil: none).
	hooks *hooks.Runner
	// verify is the periodic verification of this target (nil: none).
	verify *verifyRun
	// ruleFiles are the changed per-directory filter files waiting to be
	// pushed before their directory is pushed again with the new rules,
	// each with the ID of the batch in flight when it changed (a batch
	// up to it read the old file).
	ruleFiles map[string]uint64
	// removed are the source files this target's pushes removed
	// (--remove-source-files), whose delete events are gsync's own.
	removed ownRemovals
}

func (m *Mirror) close() {
	for _, t := range m.targets {
		t.close()
	}
}

// close releases t's connections, once; the verify twin's only when no
// verify uses it (verifyDone closes it then).
func (t *targetRun) close() {
	if v := t.verify; v != nil && !v.running && v.closer != nil {
		v.closer.Close()
		v.closer = nil
	}
	if t.closed {
		return
	}
	t.closed = true
	for _, tgt := range append([]transport.Target{t.tgt, t.probe, t.keep}, t.more...) {
		if tgt != nil {
			tgt.Close()
		}
	}
}

// state is what t is doing now, for the status readers.
func (t *targetRun) state(now time.Time) State {
	switch {
	case t.failed:
		return StateFailed
	case t.retryAt.After(now) && !t.inFlight:
		return StateRetrying
	case !t.startupDone:
		return StateInitial
	case t.inFlight:
		return StatePushing
	}
	return StateIdle
}

// once runs the startup full sync of every target (concurrently) and
// returns the first error, with a progress display meanwhile if
// configured.
func (m *Mirror) once(ctx context.Context) error {
	stopProgress := func() {}
	if m.cfg.Progress != nil {
		m.progress, stopProgress = m.cfg.Progress(ctx, m.src, m.rules)
	}
	res := make([]pushResult, len(m.targets))
	var wg sync.WaitGroup
	for i, t := range m.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := m.clock.Now()
			t.st.publish(0, nil, &delay.Batch{Full: true}, 0, StatePushing, time.Time{})
			st, err := m.fullSync(ctx, t)
			if err == nil {
				m.saveIndex(t, failedPaths(st))
			}
			res[i] = pushResult{target: t, stats: st, err: err, took: m.clock.Now().Sub(start)}
			t.st.pushed(m.clock.Now(), true, st, res[i].took, err, ErrorClass(err))
		}()
	}
	wg.Wait()
	stopProgress()
	var errs []error
	for _, r := range res {
		t := r.target
		switch {
		case IsRefusal(r.err):
			logStats(t, "full sync", "held back", r.stats, r.took, "reason", r.err)
			errs = append(errs, fmt.Errorf("sync %s to %s: %w", m.src, t.tgt, r.err))
		case r.err != nil:
			logStats(t, "full sync", "failed", r.stats, r.took, "err", r.err)
			errs = append(errs, fmt.Errorf("sync %s to %s: %w", m.src, t.tgt, r.err))
		case len(r.stats.Failed) > 0:
			logStats(t, "full sync", "partial", r.stats, r.took)
			for _, f := range r.stats.Failed {
				t.log.Warn("path not mirrored", "path", f.Path, "err", f.Err)
			}
			errs = append(errs, fmt.Errorf("sync %s to %s: %d path(s) failed, first: %v", m.src, t.tgt, len(r.stats.Failed), r.stats.Failed[0]))
		default:
			logStats(t, "full sync", "ok", r.stats, r.took)
		}
		if r.err == nil {
			r.batch.Full = true
			m.runHooks(t, r)
		}
	}
	return errors.Join(errs...)
}
