package mirror

import (
	"context"
	"fmt"
	"sync"

	"github.com/gsync/gsync/delay"
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
// groups pushed at once on its instances.
func (m *Mirror) pushChanges(ctx context.Context, t *targetRun, changes []transport.Change) (transport.Stats, *partial, error) {
	tgts := t.instances()
	var mergeFile func(string) bool
	if m.rules.HasMergeRules() {
		mergeFile = m.rules.IsMergeFile
	}
	groups := splitChanges(changes, len(tgts), mergeFile)
	if len(groups) == 1 {
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

// counted runs one push of t, counted in its status as in flight.
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
