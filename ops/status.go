package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/mirror"
)

// TargetStatus returns the control socket's view of a target.
func TargetStatus(st *mirror.Status) control.Target {
	s := st.Snapshot()
	c := s.Counters
	t := control.Target{
		Sync: s.Name, Source: s.Source, Target: s.Target, State: s.State.String(),
		Queue: s.Queued, InFlight: s.ActiveTotal, LastError: s.LastErr,
		Pushes: s.Pushes, PeakPushes: s.PeakPushes, MaxProcesses: s.Processes,
		BytesPushed: c.Bytes, FilesPushed: c.Files,
		Deleted: c.Deleted, Renamed: c.Renamed,
		Batches: c.Batches + c.FullSyncs, Failures: c.Failures,
		Events: c.Events, Watches: s.Watches, Overflows: c.Overflows,
		HookRuns: c.HookRuns, HookFailures: c.HookFailures, LastHookError: s.LastHookErr,
	}
	if !s.LastVerify.IsZero() {
		t.LastVerify, t.DriftPaths, t.VerifyError = timePtr(s.LastVerify), s.DriftPaths, s.LastVerifyErr
	}
	if !s.LastHookErrAt.IsZero() {
		t.LastHookAt = timePtr(s.LastHookErrAt)
	}
	if s.Full {
		t.InFlight++
	}
	for _, f := range s.Failing {
		t.FailingPaths = append(t.FailingPaths, control.FailingPath{
			Path: f.Path, Failures: f.Failures, LastError: f.LastErr, NextAttempt: f.Next})
	}
	if p := s.Progress; !p.Since.IsZero() {
		t.Progress = &control.Progress{Since: p.Since, Listed: p.Listed, Files: p.Files, Bytes: p.Bytes}
	}
	if s.State == mirror.StateRetrying && !s.RetryAt.IsZero() {
		t.NextAttempt = timePtr(s.RetryAt)
	}
	if !s.LastSuccess.IsZero() {
		t.LastSuccess = timePtr(s.LastSuccess)
	}
	if !s.LastErrAt.IsZero() && s.LastErr != "" {
		t.LastErrorAt = timePtr(s.LastErrAt)
	}
	return t
}

func timePtr(t time.Time) *time.Time { return &t }

// report appends the sync's block in lsyncd's layout (StatusFile.write,
// Sync.statusReport): "SyncN source=DIR/", "There are N delays", one line
// per delay with its state padded to 7 characters, then the patterns.
// gsync adds the target, the push state and the excludes, which lsyncd
// 2.2 forgets to list.
func report(b *bytes.Buffer, s mirror.Snapshot) {
	fmt.Fprintf(b, "%s source=%s/\n", s.Name, strings.TrimSuffix(s.Source, "/"))
	fmt.Fprintf(b, "target=%s\n", s.Target)
	n := s.Queued + s.ActiveTotal
	if s.Full {
		n++
	}
	fmt.Fprintf(b, "There are %d delays\n", n)
	if s.Full {
		fmt.Fprintf(b, "%-7s%s\n", "active", "Full /")
	}
	for _, it := range s.Active {
		fmt.Fprintf(b, "%-7s%s\n", "active", statusItem(it))
	}
	if more := s.ActiveTotal - len(s.Active); more > 0 {
		fmt.Fprintf(b, "%-7s(%d more)\n", "active", more)
	}
	for _, it := range s.Waiting {
		fmt.Fprintf(b, "%-7s%s\n", "wait", statusItem(it))
	}
	if more := s.Queued - len(s.Waiting); more > 0 {
		fmt.Fprintf(b, "%-7s(%d more)\n", "wait", more)
	}
	switch {
	case s.Pushes > 1:
		fmt.Fprintf(b, "%d pushes in flight (maxProcesses %d)\n", s.Pushes, s.Processes)
	case s.InFlight:
		b.WriteString("Push in flight\n")
	}
	if s.State == mirror.StateFailed {
		b.WriteString("Target failed: stopped after a fatal error (see the last error); the other targets go on\n")
	}
	for _, f := range s.Failing {
		fmt.Fprintf(b, "Failing path /%s: %d failure(s), next attempt at %s: %s\n",
			strings.TrimPrefix(f.Path, "/"), f.Failures, f.Next.Format(time.ANSIC), oneLine(f.LastErr))
	}
	if !s.LastPush.IsZero() {
		fmt.Fprintf(b, "Last push finished at %s", s.LastPush.Format(time.ANSIC))
		if s.LastErr != "" {
			fmt.Fprintf(b, " with error: %s", oneLine(s.LastErr))
		}
		b.WriteString("\n")
	}
	b.WriteString("Excluding:\n")
	if len(s.Excludes) == 0 {
		b.WriteString("  nothing.\n")
	}
	for _, p := range s.Excludes {
		b.WriteString(p + "\n")
	}
	b.WriteString("Filtering:\n")
	if len(s.Filters) == 0 {
		b.WriteString("  nothing.\n")
	}
	for _, p := range s.Filters {
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
	if it.Op == change.Move {
		return "Move " + p(it.From) + " -> " + p(it.Path)
	}
	return it.Op.String() + " " + p(it.Path)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// statusDeviceTimeout bounds one write of the status report to a FIFO.
const statusDeviceTimeout = 5 * time.Second

// StatusWriter rewrites the status file when a sync's state changed, at
// most once per interval (0: on every change), like lsyncd's
// statusInterval. Nothing is written while nothing changes.
type StatusWriter struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	syncs    []*mirror.Status
	kick     <-chan struct{}
	now      func() time.Time
}

// NewStatusWriter returns a writer of path for the targets on b (those
// added so far), logging to log when a write fails.
func NewStatusWriter(path string, interval time.Duration, log *slog.Logger, b *Board) *StatusWriter {
	return &StatusWriter{path: path, interval: max(interval, 0), log: log, syncs: b.All(), kick: b.Subscribe(), now: time.Now}
}

// Start runs the writer in a goroutine until stop is called; stop writes
// the last state if it was not written yet, and waits for the goroutine.
func (w *StatusWriter) Start(ctx context.Context) (stop func()) {
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

func (w *StatusWriter) run(ctx context.Context) {
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

func (w *StatusWriter) writeLogged() {
	if err := w.write(); err != nil {
		w.log.Error("status file not written", "err", err)
	}
}

// render returns the status report of every sync.
func (w *StatusWriter) render() []byte {
	snaps := make([]mirror.Snapshot, len(w.syncs))
	for i, st := range w.syncs {
		snaps[i] = st.Snapshot()
	}
	return renderStatus(w.now(), snaps)
}

// renderStatus returns the status report of the syncs at now.
func renderStatus(now time.Time, snaps []mirror.Snapshot) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Lsyncd status report at %s\n\n", now.Format(time.ANSIC))
	total := 0
	for _, s := range snaps {
		report(&b, s)
		total += s.Watches
	}
	fmt.Fprintf(&b, "Inotify watching %d directories\n", total)
	for i, s := range snaps {
		fmt.Fprintf(&b, "  %d: %s/ (%s, %d directories)\n", i+1, strings.TrimSuffix(s.Source, "/"), s.Name, s.Watches)
	}
	return b.Bytes()
}

// write replaces the status file atomically: a temporary file in the same
// directory, mode 0644, renamed over it (a symbolic link planted there is
// replaced, never written through). A character device or a FIFO, or the
// process's standard output (statusFile = "/dev/stdout"), is written in
// place instead, as lsyncd does, never replaced (OpenDevice); a FIFO
// nobody reads is skipped.
func (w *StatusWriter) write() error {
	if dev, isDevice, err := OpenDevice(w.path, 0); isDevice {
		if errors.Is(err, ErrNoReader) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("write status file: %w", err)
		}
		dev.SetWriteDeadline(time.Now().Add(statusDeviceTimeout)) // a FIFO read too slowly
		_, err = dev.Write(w.render())
		if cerr := dev.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write status file %s: %w", w.path, err)
		}
		return nil
	}
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
