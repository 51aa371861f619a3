package mirror

import (
	"sort"
	"time"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/internal/change"
)

// pathBackoff backs off, one by one, the paths that keep failing on one
// target: a failed path goes back to the queue only when its own backoff
// (capped exponential, min to max) has passed, while every other change
// goes out at the normal delay. A path leaves it when a push that listed
// it did not report it failed.
type pathBackoff struct {
	min, max time.Duration
	paths    map[string]*pathState
}

// pathState is one failing path.
type pathState struct {
	backoff  time.Duration
	failures int // in a row
	lastErr  string
	next     time.Time // when it is queued again
	queued   bool      // back in the collator (waiting or in flight)
	// recursive: the path is a directory whose subtree must be pushed
	// again; a push of the directory alone does not settle it.
	recursive bool
}

// FailingPath is a failing path as the status readers see it.
type FailingPath struct {
	Path     string
	Failures int
	LastErr  string
	Next     time.Time
}

func newPathBackoff(min, max time.Duration) *pathBackoff {
	return &pathBackoff{min: min, max: max, paths: map[string]*pathState{}}
}

// failed records that path failed at now with err (recursive: its retry
// must push its whole subtree) and returns its next backoff and how many
// times in a row it failed.
func (b *pathBackoff) failed(path string, err error, recursive bool, now time.Time) (backoff time.Duration, failures int) {
	s := b.paths[path]
	if s == nil {
		s = &pathState{}
		b.paths[path] = s
	}
	switch {
	case s.backoff < b.min:
		s.backoff = b.min
	default:
		s.backoff = min(2*s.backoff, b.max)
	}
	s.failures++
	s.lastErr = err.Error()
	s.next = now.Add(s.backoff)
	s.queued = false
	s.recursive = recursive
	return s.backoff, s.failures
}

// settled forgets the failing paths that a push of items covered (the
// path itself, recursively where its retry must be) and did not report
// failed (failed), and returns them: they work again.
func (b *pathBackoff) settled(items []delay.Item, failed map[string]bool) []string {
	var ok []string
	for _, it := range items {
		paths := []string{it.Path}
		if it.Op == change.Move {
			paths = append(paths, it.From)
		}
		for _, p := range paths {
			s, known := b.paths[p]
			if !known || failed[p] || (s.recursive && !it.Recursive && it.Op != change.Move) {
				continue
			}
			delete(b.paths, p)
			ok = append(ok, p)
		}
	}
	return ok
}

// clear forgets every failing path but those in failed (a full sync went
// through: it covered them all).
func (b *pathBackoff) clear(failed map[string]bool) {
	for p := range b.paths {
		if !failed[p] {
			delete(b.paths, p)
		}
	}
}

// due returns the failing paths whose backoff has passed at now, sorted,
// and marks them queued.
func (b *pathBackoff) due(now time.Time) []string {
	var out []string
	for p, s := range b.paths {
		if !s.queued && !now.Before(s.next) {
			s.queued = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// nextDue returns the earliest end of a backoff of a path not queued.
func (b *pathBackoff) nextDue() (time.Time, bool) {
	var t time.Time
	for _, s := range b.paths {
		if !s.queued && (t.IsZero() || s.next.Before(t)) {
			t = s.next
		}
	}
	return t, !t.IsZero()
}

// held returns the failing paths that wait for their backoff (not in
// the collator), sorted: what a config reload must hand over.
func (b *pathBackoff) held() []string {
	var out []string
	for p, s := range b.paths {
		if !s.queued {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// list returns every failing path for the status readers, sorted by path.
func (b *pathBackoff) list() []FailingPath {
	out := make([]FailingPath, 0, len(b.paths))
	for p, s := range b.paths {
		out = append(out, FailingPath{Path: p, Failures: s.failures, LastErr: s.lastErr, Next: s.next})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
