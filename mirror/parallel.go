package mirror

import (
	"context"
	"fmt"
	"sync"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
)

// Several pushes per target (Target.MaxProcesses, lsyncd's maxProcesses):
// the engine cuts one batch as always, splits it into at most N groups
// whose paths are disjoint (splitChanges), pushes the groups at the same
// time, each on a target instance of its own (its own connection), and
// cuts the next batch once every group has returned. Full syncs run
// alone, on the first instance. A group that failed is retried on its
// own; the groups that went through are done (see partial). This keeps
// the collator's one batch in flight and its blocking rules unchanged;
// what it gives up is starting a new batch while a slow group of the
// last one is still running.

// partial describes a batch some of whose groups failed as a whole while
// the others went through.
type partial struct {
	// failed holds the paths (Path and From) of the changes of the
	// groups that failed.
	failed map[string]bool
	// okStats are the statistics of the groups that went through.
	okStats transport.Stats
}

// split returns the items of b to retry (those of the failed groups) and
// those that went through.
func (p *partial) split(items []delay.Item) (retry, sent []delay.Item) {
	for _, it := range items {
		if p.failed[it.Path] || it.From != "" && p.failed[it.From] {
			retry = append(retry, it)
		} else {
			sent = append(sent, it)
		}
	}
	return retry, sent
}

// pushChanges pushes changes to t: on its one target, or split into
// groups pushed at once on its instances. The groups are at most the
// processes free under Config.Processes (at least one, waited for).
func (m *Mirror) pushChanges(ctx context.Context, t *targetRun, changes []transport.Change) (transport.Stats, *partial, error) {
	tgts := t.instances()
	var mergeFile func(string) bool
	if m.rules.HasMergeRules() {
		mergeFile = m.rules.IsMergeFile
	}
	procs := m.cfg.Processes
	held, err := procs.acquire(ctx, len(tgts))
	if err != nil {
		return transport.Stats{}, nil, err
	}
	var linked func(transport.Change) bool
	if t.hardLinks && held > 1 {
		var done func()
		linked, done = m.hardLinked()
		defer done()
	}
	groups := splitChanges(changes, held, mergeFile, linked)
	procs.release(held - len(groups))
	if len(groups) == 1 {
		defer procs.release(1)
		st, err := t.counted(func() (transport.Stats, error) { return tgts[0].Push(ctx, changes) })
		return st, nil, err
	}
	type result struct {
		st  transport.Stats
		err error
	}
	res := make([]result, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer procs.release(1)
			st, err := t.counted(func() (transport.Stats, error) { return tgts[i].Push(ctx, g) })
			res[i] = result{st, err}
		}()
	}
	wg.Wait()
	var all, ok transport.Stats
	var firstErr, fatal error
	nFailed := 0
	failed := map[string]bool{}
	for i, r := range res {
		all = all.Add(r.st)
		if r.err == nil {
			ok = ok.Add(r.st)
			continue
		}
		nFailed++
		if firstErr == nil {
			firstErr = r.err
		}
		if fatal == nil && !transport.IsTransient(r.err) {
			fatal = r.err
		}
		for _, c := range groups[i] {
			failed[c.Path] = true
			if c.From != "" {
				failed[c.From] = true
			}
		}
	}
	t.log.Debug("pushes of one batch ended", "pushes", len(groups), "failed", nFailed)
	switch {
	case nFailed == 0:
		return all, nil, nil
	case fatal != nil:
		return all, nil, fmt.Errorf("push %d of %d groups: %w", nFailed, len(groups), fatal)
	case nFailed == len(groups):
		return all, nil, fmt.Errorf("push %d of %d groups: %w", nFailed, len(groups), firstErr)
	}
	return all, &partial{failed: failed, okStats: ok}, fmt.Errorf("push %d of %d groups: %w", nFailed, len(groups), firstErr)
}

// instances returns the target instances t pushes on: its own target,
// then the extra ones of Target.MaxProcesses.
func (t *targetRun) instances() []transport.Target {
	return append([]transport.Target{t.tgt}, t.more...)
}

// pushOne runs one push of t as one process of Config.Processes (waiting
// for one to be free), counted in its status as in flight.
func (m *Mirror) pushOne(ctx context.Context, t *targetRun, push func() (transport.Stats, error)) (transport.Stats, error) {
	if _, err := m.cfg.Processes.acquire(ctx, 1); err != nil {
		return transport.Stats{}, err
	}
	defer m.cfg.Processes.release(1)
	return t.counted(push)
}

// counted runs one push of t, counted in its status as in flight; the
// caller holds its process (Config.Processes).
func (t *targetRun) counted(push func() (transport.Stats, error)) (transport.Stats, error) {
	t.st.pushStarted()
	defer t.st.pushEnded()
	return push()
}

// warm connects the extra instances of t that connect on their first
// push (transport.Warmer), at the same time, while its full sync runs;
// the returned channel is closed when they are done. A failure is only
// logged: the first push on that instance connects again, and reports.
func (m *Mirror) warm(ctx context.Context, t *targetRun) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, tgt := range t.more {
		w, ok := tgt.(transport.Warmer)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Warm(ctx); err != nil {
				t.log.Debug("extra connection not opened ahead", "err", err)
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

// hardLinked returns what tells, with -H (Target.HardLinks), the changes
// of a batch that may send a name of a multiply linked source file: a
// regular file with more than one name, and a subtree (a recursive
// change, a moved directory, which a daemon target sends as a whole).
// splitChanges keeps them in one push, on the target's first instance:
// that one runs the full syncs, whose walk fills its table of the
// source's linked names (another would walk the whole source to find
// them), and a receiver links only the names of one file list. done
// closes the source.
func (m *Mirror) hardLinked() (linked func(transport.Change) bool, done func()) {
	root, err := beneath.Open(m.src)
	if err != nil {
		// checkSourceRoot passed just before: keep the batch whole.
		m.log.Debug("source not opened to find hard links: batch pushed whole", "err", err)
		return func(transport.Change) bool { return true }, func() {}
	}
	return func(c transport.Change) bool {
		switch {
		case c.Op == change.Delete:
			return false
		case c.Recursive, c.Op == change.Move && c.IsDir:
			return true
		}
		fi, err := root.Lstat(c.Path)
		return err == nil && fi.Mode().IsRegular() && nlinkOf(fi) > 1
	}, func() { root.Close() }
}
