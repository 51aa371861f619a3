package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/transport"
)

// fakeTarget is a transport.Target that records what it was asked to do
// and fails as told.
type fakeTarget struct {
	name string

	mu        sync.Mutex
	pushed    []string         // paths of the pushes, in order
	fulls     int              // full syncs
	pushErr   error            // every Push fails with it
	failPaths map[string]error // these paths fail alone (Stats.Failed)
	closed    bool
}

func (f *fakeTarget) FullSync(context.Context) (transport.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fulls++
	return transport.Stats{}, nil
}

func (f *fakeTarget) Push(_ context.Context, changes []transport.Change) (transport.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pushErr != nil {
		return transport.Stats{}, f.pushErr
	}
	var st transport.Stats
	for _, c := range changes {
		f.pushed = append(f.pushed, c.Path)
		if err, ok := f.failPaths[c.Path]; ok {
			st.Failed = append(st.Failed, transport.FileError{Path: c.Path, Err: err})
			continue
		}
		st.Files++
	}
	return st, nil
}

func (f *fakeTarget) String() string { return f.name }

func (f *fakeTarget) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// got reports whether path was pushed.
func (f *fakeTarget) got(path string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.pushed, path)
}

func (f *fakeTarget) set(fn func(f *fakeTarget)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// newFakeMirror returns a mirror of a fresh source directory to the fake
// targets, with delay 0, and the board its status goes to.
func newFakeMirror(t *testing.T, cfg *config, targets ...*fakeTarget) (*mirror, *board) {
	t.Helper()
	src, err := checkSource(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dev, err := deviceOf(src)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filter.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxDelays == 0 {
		cfg.maxDelays = 1000
	}
	cfg.source = src
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &mirror{cfg: cfg, log: log, src: src, srcDev: dev, rules: rules}
	b := newBoard()
	for _, f := range targets {
		st := b.add(f.name)
		st.setup(src, f.name, nil, nil)
		m.targets = append(m.targets, &targetRun{tgt: f, st: st, log: log, paths: newPathBackoff(backoffMin, backoffMax)})
	}
	return m, b
}

// runLoop runs m.run until the test ends (SIGTERM); the returned channel
// gets its result.
func runLoop(t *testing.T, m *mirror) (sigs chan os.Signal, done <-chan error) {
	t.Helper()
	sigs = make(chan os.Signal, 1)
	res := make(chan error, 1)
	ended := make(chan struct{})
	go func() {
		res <- m.run(context.Background(), sigs)
		close(ended)
	}()
	t.Cleanup(func() {
		select {
		case sigs <- syscall.SIGTERM:
		default:
		}
		select {
		case <-ended:
		case <-time.After(30 * time.Second):
			t.Error("the loop did not stop")
		}
	})
	return sigs, res
}

// eventually polls ok until it holds, for at most 15 s.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFatalTargetStopsAlone: a fatal error on one target stops that
// target only (state failed in status and metrics); the other keeps
// mirroring; the loop ends when no target is left. Before, the first
// fatal error ended the loop and every target with it.
func TestFatalTargetStopsAlone(t *testing.T) {
	bad := &fakeTarget{name: "bad", pushErr: transport.Fatal(errors.New("module refused the transfer"))}
	good := &fakeTarget{name: "good"}
	m, b := newFakeMirror(t, &config{}, bad, good)
	write(t, m.src, "f0") // an empty source is never fully synced
	_, done := runLoop(t, m)
	eventually(t, "startup full syncs", func() bool {
		bad.mu.Lock()
		defer bad.mu.Unlock()
		good.mu.Lock()
		defer good.mu.Unlock()
		return bad.fulls == 1 && good.fulls == 1
	})
	write(t, m.src, "f1")
	eventually(t, "bad failed", func() bool { return b.snapshot().Targets[0].State == "failed" })
	write(t, m.src, "f2")
	eventually(t, "f2 on the good target", func() bool { return good.got("f2") })
	if st := b.snapshot().Targets[1].State; st == "failed" {
		t.Errorf("good target state %q", st)
	}
	bad.mu.Lock()
	closed := bad.closed
	bad.mu.Unlock()
	if !closed {
		t.Error("the failed target was not closed")
	}
	rec := httptest.NewRecorder()
	metricsHandler(b).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `gsync_target_state{state="failed",sync="bad",target="bad"} 1`) {
		t.Errorf("metrics do not show the failed target:\n%s", grepLines(rec.Body.String(), "gsync_target_state"))
	}
	select {
	case err := <-done:
		t.Fatalf("the loop ended with a target left: %v", err)
	default:
	}
	// The last target fails too: now the loop ends, with an error.
	good.set(func(f *fakeTarget) { f.pushErr = transport.Fatal(errors.New("gone")) })
	write(t, m.src, "f3")
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "every target") {
			t.Errorf("loop ended with %v, want every target failed", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the loop did not end when every target had failed")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFailingPathBacksOffAlone: a path that fails alone is backed off
// on its own; the target's next batch is not delayed, the path is
// reported as failing and retried after its backoff, which doubles.
// Before, the target as a whole waited for the backoff.
func TestFailingPathBacksOffAlone(t *testing.T) {
	f := &fakeTarget{name: "t", failPaths: map[string]error{"bad": errors.New("permission denied")}}
	m, b := newFakeMirror(t, &config{noInit: true}, f)
	tr := m.targets[0]
	clock := time.Unix(1_000_000, 0)
	tr.col = delay.New(delay.Config{Now: func() time.Time { return clock }})
	tr.startupDone = true
	write(t, m.src, "bad")
	write(t, m.src, "good")
	pushOnce := func() pushResult {
		t.Helper()
		batch, ok := tr.col.Next()
		if !ok {
			t.Fatal("no batch due")
		}
		st, err := m.pushBatch(context.Background(), tr, toChanges(batch.Items, m.cfg.deleteMode))
		return pushResult{target: tr, batch: batch, stats: st, err: err}
	}
	tr.col.Add(delay.Item{Op: delay.Create, Path: "bad"})
	tr.col.Add(delay.Item{Op: delay.Create, Path: "good"})
	if err := m.finish(tr, pushOnce(), clock); err != nil {
		t.Fatal(err)
	}
	if !tr.retryAt.IsZero() {
		t.Errorf("the target waits until %v for one failing path", tr.retryAt)
	}
	tr.col.Add(delay.Item{Op: delay.Create, Path: "next"})
	if due, ok := tr.col.Due(); !ok || due.After(clock) {
		t.Errorf("the next change is due at %v (%t), want now: it waits for the failing path", due, ok)
	}
	if err := m.finish(tr, pushOnce(), clock); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(f.pushed[2:], "bad") {
		t.Errorf("bad retried before its backoff: %q", f.pushed)
	}
	fp := b.snapshot().Targets[0].FailingPaths
	if len(fp) != 1 || fp[0].Path != "bad" || fp[0].Failures != 1 || !fp[0].NextAttempt.Equal(clock.Add(backoffMin)) {
		t.Errorf("failing paths = %+v, want bad once, next at +%v", fp, backoffMin)
	}
	// Its backoff passed: it is queued again, fails again, backs off
	// twice as long.
	clock = clock.Add(backoffMin)
	if due := tr.paths.due(clock); !slices.Equal(due, []string{"bad"}) {
		t.Fatalf("due = %q, want [bad]", due)
	}
	tr.col.Add(m.retryItem("bad"))
	if err := m.finish(tr, pushOnce(), clock); err != nil {
		t.Fatal(err)
	}
	if next, _ := tr.paths.nextDue(); !next.Equal(clock.Add(2 * backoffMin)) {
		t.Errorf("second backoff ends at %v, want %v", next, clock.Add(2*backoffMin))
	}
	// Fixed: the next push that lists it clears it.
	f.set(func(f *fakeTarget) { f.failPaths = nil })
	tr.col.Add(delay.Item{Op: delay.Modify, Path: "bad"})
	if err := m.finish(tr, pushOnce(), clock); err != nil {
		t.Fatal(err)
	}
	if fp := b.snapshot().Targets[0].FailingPaths; len(fp) != 0 {
		t.Errorf("failing paths after a good push = %+v", fp)
	}
}

// TestRootRetriedAlone: a failure on "." (the root's own attributes) is
// retried as the root alone, not as the whole tree again. Before, it was
// a recursive sync of the root: every retry re-sent everything (with -I
// on a daemon).
func TestRootRetriedAlone(t *testing.T) {
	m, _ := newFakeMirror(t, &config{})
	it := m.retryItem(".")
	if it.Recursive || it.Path != "." || !it.IsDir {
		t.Errorf("retryItem(.) = %+v, want the root alone", it)
	}
	ch := toChanges([]delay.Item{it}, transport.DeleteAlways)
	if len(ch) != 1 || ch[0].Recursive {
		t.Errorf("root retry becomes %+v", ch)
	}
	mustMkdir(t, filepath.Join(m.src, "d"))
	if it := m.retryItem("d"); !it.Recursive {
		t.Errorf("retryItem(d) = %+v: a directory is retried recursively", it)
	}
}

// TestFailingDirSettledOnlyRecursively: a directory whose subtree failed
// (unreadable) is not settled by a push of the directory alone (a chmod
// event): its recursive retry must still come.
func TestFailingDirSettledOnlyRecursively(t *testing.T) {
	b := newPathBackoff(backoffMin, backoffMax)
	now := time.Unix(1_000_000, 0)
	b.failed("closed", errors.New("permission denied"), true, now)
	b.failed("file", errors.New("permission denied"), false, now)
	ok := b.settled([]delay.Item{{Op: delay.Attrib, Path: "closed", IsDir: true}, {Op: delay.Attrib, Path: "file"}}, nil)
	if !slices.Equal(ok, []string{"file"}) {
		t.Errorf("settled = %q, want [file]", ok)
	}
	ok = b.settled([]delay.Item{{Op: delay.Modify, Path: "closed", IsDir: true, Recursive: true}}, nil)
	if !slices.Equal(ok, []string{"closed"}) {
		t.Errorf("settled = %q, want [closed]", ok)
	}
}
