package sshx_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/sshx"
	"github.com/gsync/gsync/sshx/sshxtest"
)

// hangBound fails the test when a call meant to end within a short
// timeout runs this long (a hang guard, not a timing assertion).
const hangBound = 20 * time.Second

// bounded runs fn and fails the test when it hangs.
func bounded(t *testing.T, what string, fn func() error) error {
	t.Helper()
	return testutil.Within(t, what, hangBound, fn)
}

// goroutinesBack waits (bounded) until no more goroutines run than before.
func goroutinesBack(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stallDial(t *testing.T, srv *sshxtest.StallServer) *sshx.Client {
	t.Helper()
	c, err := sshx.Dial(ctxT(t), sshx.Config{Host: "127.0.0.1", Port: srv.Port, User: srv.User,
		IdentityFiles: []string{srv.KeyFile}, KnownHostsFiles: []string{srv.KnownHosts},
		ConfigFile: "none", NoAgent: true, Home: t.TempDir(), KeepAlive: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSFTPCallsTimeOut: against an SFTP server that stops answering (at
// the subsystem request, at INIT, or after answering some requests), while
// keepalives keep being answered, every call returns a *NetError naming the
// timeout, the next call starts a new session, and nothing is left
// running once the client and server are closed.
func TestSFTPCallsTimeOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, mode := range []sshxtest.Stall{sshxtest.StallSubsystem, sshxtest.StallInit, sshxtest.StallRequests} {
		t.Run([]string{"subsystem", "init", "requests"}[mode], func(t *testing.T) {
			before := runtime.NumGoroutine()
			srv := sshxtest.StartStallServer(t, mode)
			c := stallDial(t, srv)
			fs := c.Files(timeout)
			ctx := ctxT(t)
			calls := []struct {
				name     string
				answered bool // StallRequests answers it
				fn       func() error
			}{
				{"getwd", true, func() error { _, err := fs.Getwd(ctx); return err }},
				{"stat", true, func() error { _, err := fs.Stat(ctx, "/x"); return err }},
				{"lstat", true, func() error { _, err := fs.Lstat(ctx, "/x"); return err }},
				{"readdir", false, func() error { _, err := fs.ReadDir(ctx, "/x"); return err }},
				{"mkdir", false, func() error { return fs.Mkdir(ctx, "/x/y") }},
				{"rename", false, func() error { return fs.PosixRename(ctx, "/x/a", "/x/b") }},
				{"remove", false, func() error { return fs.Remove(ctx, "/x/a") }},
				{"rmdir", false, func() error { return fs.RemoveDirectory(ctx, "/x/d") }},
			}
			for _, call := range calls {
				err := bounded(t, call.name, call.fn)
				if mode == sshxtest.StallRequests && call.answered {
					if err != nil {
						t.Errorf("%s after a stalled session: %v, want an answer from a new session", call.name, err)
					}
					continue
				}
				var ne *sshx.NetError
				if !errors.As(err, &ne) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not answer") {
					t.Errorf("%s = %v, want a *NetError saying the server did not answer", call.name, err)
				}
			}
			// The caller's own cancellation is reported as it is.
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(50*time.Millisecond, cancel)
			err := bounded(t, "cancelled remove", func() error { return c.Files(0).Remove(cctx, "/x/a") })
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Remove with a cancelled context = %v, want context.Canceled", err)
			}
			if err := bounded(t, "Close", c.Close); err != nil {
				t.Errorf("Close: %v", err)
			}
			srv.Close()
			goroutinesBack(t, before)
		})
	}
}

// hasControl reports whether s holds a control character other than tab.
func hasControl(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

// TestPeerTextEscaped: SFTP status messages and exec stderr from the
// server reach errors only with control characters escaped (\#ooo), while
// the SFTP status stays reachable with errors.As.
func TestPeerTextEscaped(t *testing.T) {
	srv := sshxtest.StartStallServer(t, sshxtest.Escapes)
	c := stallDial(t, srv)
	defer c.Close()
	ctx := ctxT(t)
	err := bounded(t, "remove", func() error { return c.Files(5*time.Second).Remove(ctx, "/x/a") })
	var se *sftp.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("Remove = %v, want an *sftp.StatusError inside", err)
	}
	if msg := err.Error(); hasControl(msg) || !strings.Contains(msg, "owned") {
		t.Errorf("SFTP error text %q: want control characters escaped", msg)
	}

	s, err := c.ExecCommand(ctx, "rsync --server")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := s.Wait(ctx); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if msg := s.StderrText(5); hasControl(msg) || !strings.Contains(msg, `\#033[2J\#033[31mevil`) {
		t.Errorf("StderrText = %q: want control characters escaped", msg)
	}
}
