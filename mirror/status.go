package mirror

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/hooks"
	"github.com/gsync/gsync/transport"
)

// MaxStatusItems caps the waiting and in-flight items a Snapshot lists,
// so that a batch of 1000 paths does not make a status file huge.
const MaxStatusItems = 100

// Status is the state one target of a mirror publishes for the readers
// (status file, control socket, metrics, systemd). The mirror loop
// updates it; readers take snapshots. Every method is safe on a nil
// *Status (nothing reads it).
type Status struct {
	notify func() // wakes the readers when something changed; may be nil

	mu sync.Mutex
	s  Snapshot
}

// NewStatus returns the status of a target named name (lsyncd's
// "SyncN"); notify, if not nil, is called after every change.
func NewStatus(name string, notify func()) *Status {
	return &Status{notify: notify, s: Snapshot{Name: name}}
}

// Snapshot is a copy of a target's status.
type Snapshot struct {
	Name     string
	Source   string
	Target   string
	Excludes []string
	Filters  []string

	Queued      int          // items waiting in the collator
	Waiting     []delay.Item // the first of them (at most MaxStatusItems)
	Active      []delay.Item // items of the batch in flight (at most MaxStatusItems)
	ActiveTotal int          // items of the batch in flight
	Full        bool         // the batch in flight is a full sync
	InFlight    bool
	Watches     int
	LastPush    time.Time
	LastErr     string

	// Pushes are the pushes running now (a batch split into groups
	// runs several at once, up to Processes), PeakPushes the most that
	// ran at once since the start.
	Pushes, PeakPushes int
	Processes          int // the target's maxProcesses

	State       State
	RetryAt     time.Time // next attempt while retrying
	LastSuccess time.Time
	LastErrAt   time.Time
	LastFailed  bool // the last push failed as a whole (connection, fatal)
	Started     bool // the startup full sync succeeded (or there is none)
	Counters    Counters
	Failing     []FailingPath // paths that keep failing, backed off one by one
	// Progress of the full sync in flight (updated every progressEvery;
	// zero Since: none in flight).
	Progress Progress

	LastHookErr   string // the last --on-push hook that failed, and why
	LastHookErrAt time.Time

	// The last periodic verify (--verify-every): when it ended, the
	// paths it found drifted (changes on their way left out), its error.
	LastVerify    time.Time
	DriftPaths    int
	LastVerifyErr string
}

// State is what a target is doing.
type State uint8

// The states of a target.
const (
	StateInitial  State = iota // the startup full sync has not succeeded yet
	StateIdle                  // nothing in flight, not waiting for a retry
	StatePushing               // a batch or full sync in flight
	StateRetrying              // the last push failed; waiting for RetryAt
	StateStopped               // the mirror has ended
	StateFailed                // a fatal error stopped this target; the others go on
)

// States lists every State, in order.
var States = []State{StateInitial, StateIdle, StatePushing, StateRetrying, StateStopped, StateFailed}

func (s State) String() string {
	switch s {
	case StateInitial:
		return "initial sync"
	case StateIdle:
		return "idle"
	case StatePushing:
		return "pushing"
	case StateRetrying:
		return "retrying"
	case StateStopped:
		return "stopped"
	case StateFailed:
		return "failed"
	}
	return "unknown"
}

// Counters are the totals since start; they only grow.
type Counters struct {
	Events, Overflows       int64
	Batches, FullSyncs      int64 // pushes that ended (ok or partial)
	Failures                int64 // pushes that failed and were re-queued
	Files, Deleted, Renamed int64
	Bytes                   int64
	FileErrors              int64 // per-path failures
	ErrorsByClass           map[string]int64
	Latency                 [len(LatencyBuckets)]int64 // per bucket (not cumulative)
	LatencyCount            int64
	LatencySum              float64 // seconds

	// Hook runs (one per hook and push): every run, those that failed
	// (timeouts included), those killed at the timeout, and the pushes
	// merged into a waiting one because the hooks fell behind.
	HookRuns, HookFailures, HookTimeouts, HookMerged int64

	// Periodic verifies that ended, by result, and the drifted paths
	// they found in all.
	VerifiesEqual, VerifiesDrift, VerifyFailures, DriftPathsTotal int64
}

// LatencyBuckets are the upper bounds (seconds) of the push duration
// histogram.
var LatencyBuckets = [...]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// Snapshot returns a copy of the status.
func (s *Status) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.s
	c.Excludes, c.Filters = slices.Clone(c.Excludes), slices.Clone(c.Filters)
	c.Waiting, c.Active = slices.Clone(c.Waiting), slices.Clone(c.Active)
	c.Failing = slices.Clone(c.Failing)
	c.Counters.ErrorsByClass = maps.Clone(c.Counters.ErrorsByClass)
	return c
}

// update runs fn under the lock and wakes the readers if it reports a
// change.
func (s *Status) update(fn func(s *Snapshot) (changed bool)) {
	if s == nil {
		return
	}
	s.mu.Lock()
	changed := fn(&s.s)
	s.mu.Unlock()
	if changed && s.notify != nil {
		s.notify()
	}
}

// setup records what does not change while the mirror runs.
func (s *Status) setup(source, target string, excludes, filters []string) {
	s.update(func(s *Snapshot) bool {
		s.Source, s.Target, s.Excludes, s.Filters = source, target, excludes, filters
		return true
	})
}

// publish records the loop's state: the queue length, its first items
// (owned by the caller's copy), b, the batch in flight, if any, and what
// the target is doing.
func (s *Status) publish(queued int, waiting []delay.Item, b *delay.Batch, watches int, state State, retryAt time.Time) {
	s.update(func(s *Snapshot) bool {
		same := s.Queued == queued && s.InFlight == (b != nil) && s.Watches == watches &&
			s.State == state && s.RetryAt.Equal(retryAt)
		s.Queued, s.Watches, s.InFlight = queued, watches, b != nil
		s.State, s.RetryAt = state, retryAt
		s.Waiting = waiting
		s.Active, s.Full, s.ActiveTotal = nil, false, 0
		if b != nil {
			// A copy: the collator owns the batch's items again after Done.
			s.Active = append([]delay.Item(nil), b.Items[:min(len(b.Items), MaxStatusItems)]...)
			s.Full, s.ActiveTotal = b.Full, len(b.Items)
		}
		return !same
	})
}

// setState records a state change outside the loop's publish (stopped,
// failed). A failed target stays failed.
func (s *Status) setState(state State) {
	s.update(func(s *Snapshot) bool {
		if s.State != StateFailed {
			s.State = state
		}
		return true
	})
}

// setFailing records the paths that keep failing (a copy is kept).
func (s *Status) setFailing(paths []FailingPath) {
	s.update(func(s *Snapshot) bool {
		same := slices.Equal(s.Failing, paths)
		s.Failing = slices.Clone(paths)
		return !same
	})
}

// setStarted records that the startup full sync succeeded (or that
// there is none): the target is ready.
func (s *Status) setStarted() {
	s.update(func(s *Snapshot) bool { s.Started = true; return true })
}

// event counts watcher events; overflow counts inotify queue overflows.
func (s *Status) event() {
	s.update(func(s *Snapshot) bool { s.Counters.Events++; return false })
}

func (s *Status) overflow() {
	s.update(func(s *Snapshot) bool { s.Counters.Overflows++; return true })
}

// pushed records the end of a push: its statistics, duration and error
// (class names the kind of error for metrics: "transient", "fatal").
func (s *Status) pushed(at time.Time, full bool, st transport.Stats, took time.Duration, err error, class string) {
	s.update(func(s *Snapshot) bool {
		c := &s.Counters
		s.LastPush, s.LastErr, s.LastFailed = at, "", err != nil
		if c.ErrorsByClass == nil {
			c.ErrorsByClass = map[string]int64{}
		}
		if err != nil {
			s.LastErr, s.LastErrAt = err.Error(), at
			c.Failures++
			c.ErrorsByClass[class]++
			return true
		}
		if full {
			c.FullSyncs++
		} else {
			c.Batches++
		}
		c.Files += int64(st.Files)
		c.Deleted += int64(st.Deleted)
		c.Renamed += int64(st.Renamed)
		c.Bytes += st.Bytes
		if n := len(st.Failed); n > 0 {
			c.FileErrors += int64(n)
			c.ErrorsByClass["file"] += int64(n)
			s.LastErr, s.LastErrAt = fmt.Sprintf("%d path(s) not mirrored, first: %v", n, st.Failed[0]), at
		} else {
			s.LastSuccess = at
		}
		secs := took.Seconds()
		for i, ub := range LatencyBuckets {
			if secs <= ub {
				c.Latency[i]++
				break
			}
		}
		c.LatencyCount++
		c.LatencySum += secs
		return true
	})
}

// hookRan records one run of a hook that ended at.
func (s *Status) hookRan(at time.Time, r hooks.Result) {
	s.update(func(s *Snapshot) bool {
		s.Counters.HookRuns++
		if r.Err != nil {
			s.Counters.HookFailures++
			if r.TimedOut {
				s.Counters.HookTimeouts++
			}
			s.LastHookErr, s.LastHookErrAt = r.Command.String()+": "+r.Err.Error(), at
		}
		return r.Err != nil
	})
}

// verified records a periodic verify that ended at: drift paths found,
// or err.
func (s *Status) verified(at time.Time, drift int, err error) {
	s.update(func(s *Snapshot) bool {
		c := &s.Counters
		s.LastVerify, s.LastVerifyErr = at, ""
		switch {
		case err != nil:
			c.VerifyFailures++
			s.LastVerifyErr = err.Error()
		case drift > 0:
			c.VerifiesDrift++
			c.DriftPathsTotal += int64(drift)
			s.DriftPaths = drift
		default:
			c.VerifiesEqual++
			s.DriftPaths = 0
		}
		return true
	})
}

// hookMerged counts a push merged into one waiting for the hooks.
func (s *Status) hookMerged() {
	s.update(func(s *Snapshot) bool { s.Counters.HookMerged++; return false })
}

// noteError records err as the last error without counting a failed
// push (a guard's refusal: the push itself went through).
func (s *Status) noteError(at time.Time, err error) {
	s.update(func(s *Snapshot) bool {
		s.LastErr, s.LastErrAt = err.Error(), at
		if s.Counters.ErrorsByClass == nil {
			s.Counters.ErrorsByClass = map[string]int64{}
		}
		s.Counters.ErrorsByClass[ErrorClass(err)]++
		return true
	})
}

// setProgress publishes the progress of the full sync in flight.
func (s *Status) setProgress(p Progress) {
	s.update(func(s *Snapshot) bool {
		s.Progress = p
		return true
	})
}

// setProcesses records the target's maxProcesses.
func (s *Status) setProcesses(n int) {
	s.update(func(s *Snapshot) bool { s.Processes = n; return true })
}

// pushStarted and pushEnded count a push running on one of the target's
// instances (a batch split into groups runs several at once).
func (s *Status) pushStarted() {
	s.update(func(s *Snapshot) bool {
		s.Pushes++
		s.PeakPushes = max(s.PeakPushes, s.Pushes)
		return true
	})
}

func (s *Status) pushEnded() {
	s.update(func(s *Snapshot) bool { s.Pushes--; return true })
}
