package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/transport"
)

// openLsyncdTarget opens the target of one sync of an lsyncd config:
// through its rsync.binary program when it names one other than rsync
// (externalTarget), else gsync's own (openTarget); pushes take turns
// with syncs writing into overlapping targets (serialTarget).
func openLsyncdTarget(c *config, spec string, rules *filter.Set, opts transport.Options) (t transport.Target, localDir string, err error) {
	switch {
	case c.actions != nil:
		t, err = openActions(c, opts) // lsyncd_actions.go
	case c.external != nil:
		t, localDir, err = openExternal(c, spec, rules, opts)
	default:
		t, localDir, err = openTarget(c, spec, rules, opts)
	}
	if err == nil && c.serial != nil {
		t = serialTarget{Target: t, m: c.serial} // lsyncd_overlap.go
	}
	return t, localDir, err
}

// openExternal opens an externalTarget. A default.direct sync keeps
// gsync's local target for its batches: lsyncd runs the program for its
// startup sync only.
func openExternal(c *config, spec string, rules *filter.Set, opts transport.Options) (transport.Target, string, error) {
	excludes, filters := rules.Patterns()
	t := &externalTarget{ext: c.external, src: opts.Source, excludes: excludes, filters: filters,
		del: opts.Delete, log: opts.Logger}
	if t.log == nil {
		t.log = slog.Default()
	}
	var dir string
	if c.external.Kind == lsyncdconf.KindDirect {
		native, d, err := openTarget(c, spec, rules, opts)
		if err != nil {
			return nil, "", err
		}
		t.native, dir = native, d
	}
	return t, dir, nil
}

// externalOutputMax bounds the program output kept for the log.
const externalOutputMax = 8 << 10

// externalStopWait is how long a program gets after SIGTERM (gsync
// stopping) before it is killed.
const externalStopWait = 10 * time.Second

// externalTarget runs an lsyncd sync's rsync.binary program (a wrapper
// script, say) for its transfers, with the arguments and standard input
// lsyncd 2.2.3 gives it (lsyncdconf.External), directly, never through a
// shell. Moves are sent as a delete of the old path and a transfer of the
// new one, as default.rsync does (default.rsyncssh runs "mv" over ssh;
// gsync does not run remote shell commands).
type externalTarget struct {
	ext               *lsyncdconf.External
	src               string
	excludes, filters []string
	del               transport.DeleteMode
	log               *slog.Logger
	native            transport.Target // default.direct's batches; nil for the others
}

// FullSync runs the program as lsyncd's startup sync (rsync.init).
func (t *externalTarget) FullSync(ctx context.Context) (transport.Stats, error) {
	args, stdin := t.ext.StartupArgs(t.src, t.excludes, t.filters, t.del.Full())
	return transport.Stats{}, t.run(ctx, "startup", args, stdin)
}

// Push runs the program for one batch (rsync.action), or hands the batch
// to gsync's local target for default.direct.
func (t *externalTarget) Push(ctx context.Context, changes []transport.Change) (transport.Stats, error) {
	if t.native != nil {
		return t.native.Push(ctx, changes)
	}
	var paths []string
	add := func(rel string, isDir, subtree bool) {
		p := lsyncdconf.EscapePattern("/" + rel)
		switch {
		case subtree:
			p += "/***"
		case isDir:
			p += "/"
		}
		paths = append(paths, p)
	}
	for _, c := range changes {
		switch c.Op {
		case change.Move:
			add(c.From, c.IsDir, c.IsDir)
			add(c.Path, c.IsDir, c.IsDir)
		case change.Delete:
			add(c.Path, c.IsDir, c.IsDir)
		default:
			add(c.Path, c.IsDir, c.IsDir && c.Recursive)
		}
	}
	list := lsyncdconf.IncludeList(paths)
	if len(list) == 0 {
		return transport.Stats{}, nil
	}
	args, stdin := t.ext.BatchArgs(t.src, list, t.del.Running())
	return transport.Stats{Files: len(changes)}, t.run(ctx, "batch", args, stdin)
}

// rsyncAgain are the rsync exit codes lsyncd retries (default.lua:
// default.rsyncExitCodes, "again"); 0, 23 and 24 are "ok", the rest "die".
var rsyncAgain = []int{3, 5, 6, 10, 11, 12, 14, 20, 21, 22, 30, 35, 255}

// run runs the program once and classifies its exit as lsyncd does.
func (t *externalTarget) run(ctx context.Context, what string, args []string, stdin string) error {
	cmd := exec.CommandContext(ctx, t.ext.Binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out boundedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = externalStopWait
	start := time.Now()
	err := cmd.Run()
	t.log.Debug("external program ran", "what", what, "program", t.ext.Binary, "args", args,
		"took", time.Since(start).Round(time.Millisecond), "output", out.String())
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return transport.Fatal(fmt.Errorf("run rsync.binary %s: %w", t.ext.Binary, err))
	}
	code := ee.ExitCode()
	err = fmt.Errorf("rsync.binary %s (%s) exited with %v: %s", t.ext.Binary, what, ee, strings.TrimSpace(out.String()))
	switch {
	case code == 23 || code == 24:
		t.log.Warn("external program: partial transfer, accepted as lsyncd does", "program", t.ext.Binary, "code", code)
		return nil
	case code < 0 || slices.Contains(rsyncAgain, code): // -1: killed by a signal
		return transport.Transient(err)
	}
	return transport.Fatal(err)
}

// String names the target for logs.
func (t *externalTarget) String() string { return t.ext.Target }

// Close closes default.direct's local target.
func (t *externalTarget) Close() error {
	if t.native != nil {
		return t.native.Close()
	}
	return nil
}

// boundedBuffer keeps the first externalOutputMax bytes written to it.
type boundedBuffer struct{ b bytes.Buffer }

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if room := externalOutputMax - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (w *boundedBuffer) String() string { return w.b.String() }
