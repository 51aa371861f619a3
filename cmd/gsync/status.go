package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gsync/gsync/delay"
)

// maxStatusActive caps the in-flight items listed per sync, so that a
// batch of 1000 paths does not make the status file huge.
const maxStatusActive = 100

// syncStatus is the state one mirror publishes for the status file. The
// mirror loop updates it; the status writer reads it. Every method is
// safe on a nil *syncStatus (no status file).
type syncStatus struct {
	kick chan<- struct{} // wakes the writer; buffered, never blocks

	mu          sync.Mutex
	name        string
	source      string
	target      string
	excludes    []string
	filters     []string
	queued      int          // items waiting in the collator
	waiting     []delay.Item // the first of them (at most maxStatusActive)
	active      []delay.Item // items of the batch in flight (at most maxStatusActive)
	activeTotal int          // items of the batch in flight
	full        bool         // the batch in flight is a full sync
	inFlight    bool
	watches     int
	lastPush    time.Time
	lastErr     string
}

// setup records what does not change while the mirror runs.
func (s *syncStatus) setup(source, target string, excludes, filters []string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.source, s.target, s.excludes, s.filters = source, target, excludes, filters
	s.mu.Unlock()
	s.changed()
}

// publish records the loop's state: the queue length, its first items
// (owned by the caller's copy), and b, the batch in flight, if any.
func (s *syncStatus) publish(queued int, waiting []delay.Item, b *delay.Batch, watches int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	same := s.queued == queued && s.inFlight == (b != nil) && s.watches == watches
	s.queued, s.watches, s.inFlight = queued, watches, b != nil
	s.waiting = waiting
	s.active, s.full, s.activeTotal = nil, false, 0
	if b != nil {
		// A copy: the collator owns the batch's items again after Done.
		s.active = append([]delay.Item(nil), b.Items[:min(len(b.Items), maxStatusActive)]...)
		s.full, s.activeTotal = b.Full, len(b.Items)
	}
	s.mu.Unlock()
	if !same {
		s.changed()
	}
}

// pushed records the end of a push.
func (s *syncStatus) pushed(at time.Time, err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.lastPush, s.lastErr = at, ""
	if err != nil {
		s.lastErr = err.Error()
	}
	s.mu.Unlock()
	s.changed()
}

func (s *syncStatus) changed() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// report appends the sync's block in lsyncd's layout (StatusFile.write,
// Sync.statusReport): "SyncN source=DIR/", "There are N delays", one line
// per delay with its state padded to 7 characters, then the patterns.
// gsync adds the target, the push state and the excludes, which lsyncd
// 2.2 forgets to list.
func (s *syncStatus) report(b *bytes.Buffer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(b, "%s source=%s/\n", s.name, strings.TrimSuffix(s.source, "/"))
	fmt.Fprintf(b, "target=%s\n", s.target)
	n := s.queued + s.activeTotal
	if s.full {
		n++
	}
	fmt.Fprintf(b, "There are %d delays\n", n)
	if s.full {
		fmt.Fprintf(b, "%-7s%s\n", "active", "Full /")
	}
	for _, it := range s.active {
		fmt.Fprintf(b, "%-7s%s\n", "active", statusItem(it))
	}
	if more := s.activeTotal - len(s.active); more > 0 {
		fmt.Fprintf(b, "%-7s(%d more)\n", "active", more)
	}
	for _, it := range s.waiting {
		fmt.Fprintf(b, "%-7s%s\n", "wait", statusItem(it))
	}
	if more := s.queued - len(s.waiting); more > 0 {
		fmt.Fprintf(b, "%-7s(%d more)\n", "wait", more)
	}
	if s.inFlight {
		b.WriteString("Push in flight\n")
	}
	if !s.lastPush.IsZero() {
		fmt.Fprintf(b, "Last push finished at %s", s.lastPush.Format(time.ANSIC))
		if s.lastErr != "" {
			fmt.Fprintf(b, " with error: %s", oneLine(s.lastErr))
		}
		b.WriteString("\n")
	}
	b.WriteString("Excluding:\n")
	if len(s.excludes) == 0 {
		b.WriteString("  nothing.\n")
	}
	for _, p := range s.excludes {
		b.WriteString(p + "\n")
	}
	b.WriteString("Filtering:\n")
	if len(s.filters) == 0 {
		b.WriteString("  nothing.\n")
	}
	for _, p := range s.filters {
		b.WriteString(p + "\n")
	}
	b.WriteString("\n\n")
}

// statusItem prints an item like lsyncd prints a delay: "Op /path", a
// directory with a trailing slash, a move as "Move /a -> /b".
func statusItem(it delay.Item) string {
	p := func(rel string) string {
		s := "/" + strings.TrimPrefix(rel, "/")
		if it.IsDir && !strings.HasSuffix(s, "/") {
			s += "/"
		}
		return s
	}
	if it.Op == delay.Move {
		return "Move " + p(it.From) + " -> " + p(it.Path)
	}
	return it.Op.String() + " " + p(it.Path)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// statusWriter rewrites the status file when a sync's state changed, at
// most once per interval (0: on every change), like lsyncd's
// statusInterval. Nothing is written while nothing changes.
type statusWriter struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	syncs    []*syncStatus
	kick     chan struct{}
	now      func() time.Time
}

// newStatusWriter returns a writer for path and one syncStatus per name,
// in order.
func newStatusWriter(path string, interval time.Duration, log *slog.Logger, names []string) *statusWriter {
	w := &statusWriter{path: path, interval: max(interval, 0), log: log, kick: make(chan struct{}, 1), now: time.Now}
	for _, n := range names {
		w.syncs = append(w.syncs, &syncStatus{kick: w.kick, name: n})
	}
	return w
}

// start runs the writer in a goroutine until stop is called; stop writes
// the last state if it was not written yet, and waits for the goroutine.
func (w *statusWriter) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func (w *statusWriter) run(ctx context.Context) {
	var last time.Time
	var timer *time.Timer
	var timerC <-chan time.Time
	pending := false
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			if pending {
				w.writeLogged()
			}
			return
		case <-w.kick:
			pending = true
		case <-timerC:
			timer, timerC = nil, nil
		}
		if !pending || timerC != nil {
			continue
		}
		if wait := w.interval - w.now().Sub(last); !last.IsZero() && wait > 0 {
			timer = time.NewTimer(wait)
			timerC = timer.C
			continue
		}
		w.writeLogged()
		last, pending = w.now(), false
	}
}

func (w *statusWriter) writeLogged() {
	if err := w.write(); err != nil {
		w.log.Error("status file not written", "err", err)
	}
}

// render returns the status report of every sync.
func (w *statusWriter) render() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Lsyncd status report at %s\n\n", w.now().Format(time.ANSIC))
	total := 0
	for _, s := range w.syncs {
		s.report(&b)
		s.mu.Lock()
		total += s.watches
		s.mu.Unlock()
	}
	fmt.Fprintf(&b, "Inotify watching %d directories\n", total)
	for i, s := range w.syncs {
		s.mu.Lock()
		fmt.Fprintf(&b, "  %d: %s/ (%s, %d directories)\n", i+1, strings.TrimSuffix(s.source, "/"), s.name, s.watches)
		s.mu.Unlock()
	}
	return b.Bytes()
}

// write replaces the status file atomically: a temporary file in the same
// directory, mode 0644, renamed over it.
func (w *statusWriter) write() error {
	f, err := os.CreateTemp(filepath.Dir(w.path), "."+filepath.Base(w.path)+".*")
	if err != nil {
		return fmt.Errorf("create status file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(w.render())
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, w.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write status file %s: %w", w.path, err)
	}
	return nil
}
