package rsyncproto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// TestUnwritableSubdir runs the receiver as nobody with one read-only target
// directory: only that directory's files fail, with exit code 23.
func TestUnwritableSubdir(t *testing.T) {
	needRsync(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the receiver as another user")
	}
	for _, p := range protocols {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			src := t.TempDir()
			base := time.Unix(1704164645, 0)
			for _, n := range []string{"ok/a", "ok/b", "ro/x", "ro/y", "top"} {
				writeFile(t, filepath.Join(src, n), []byte(n), 0o644, base)
			}
			dst := filepath.Join(t.TempDir(), "dst")
			testutil.Must(t, os.MkdirAll(filepath.Join(dst, "ro"), 0o755))
			testutil.Must(t, os.Chmod(filepath.Dir(dst), 0o755))
			testutil.Must(t, os.Chmod(filepath.Dir(filepath.Dir(dst)), 0o755))
			testutil.Must(t, os.Chmod(dst, 0o777))
			testutil.Must(t, os.Chmod(filepath.Join(dst, "ro"), 0o555))
			req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst, Options: Options{MaxProtocol: p}}
			args := ServerArgs(req)
			args = append([]string{args[0], fmt.Sprintf("--protocol=%d", p)}, args[1:]...)
			cmd := exec.Command("rsync", args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			in, _ := cmd.StdinPipe()
			out, _ := cmd.StdoutPipe()
			testutil.Must(t, cmd.Start())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := PushServer(ctx, &pipeConn{r: out, w: in}, req)
			in.Close()
			werr := cmd.Wait()
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			code := 0
			if ee, ok := werr.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			res.MergeRemote(code, stderr.Bytes())
			t.Logf("warnings %q", res.Warnings)
			if res.ExitCode != ExitPartial {
				t.Errorf("exit %d, want 23", res.ExitCode)
			}
			failed := map[string]bool{}
			for _, f := range res.Failed {
				failed[f.Path] = true
				if !errors.Is(f.Err, ErrReceiver) {
					t.Errorf("%v: not a receiver error", f)
				}
			}
			if !failed["ro/x"] || !failed["ro/y"] {
				t.Errorf("failed = %v", res.Failed)
			}
			for _, n := range []string{"ok/a", "ok/b", "top"} {
				if failed[n] {
					t.Errorf("%s reported failed", n)
				}
				if b, err := os.ReadFile(filepath.Join(dst, n)); err != nil || string(b) != n {
					t.Errorf("%s did not land: %v", n, err)
				}
			}
		})
	}
}

// TestCancel stops a push to a peer that never answers.
func TestCancel(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), []byte("x"), 0o644, time.Unix(1704164645, 0))
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		ctxDur  time.Duration
		eof     bool // Read after Close returns io.EOF, as an ssh channel does
		want    func(error) bool
	}{
		{"ctx", 0, 200 * time.Millisecond, false, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
		{"timeout", 200 * time.Millisecond, time.Minute, false, isTimeout},
		// An ssh channel closed by the watchdog reads as EOF: still the
		// timeout, not "the remote closed the connection".
		{"timeout-eof", 200 * time.Millisecond, time.Minute, true, isTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w, err := os.Pipe() // nothing ever writes to r
			testutil.Must(t, err)
			r2, w2, err := os.Pipe() // our output, drained
			testutil.Must(t, err)
			go func() {
				b := make([]byte, 4096)
				for {
					if _, err := r2.Read(b); err != nil {
						return
					}
				}
			}()
			defer func() { w.Close(); r2.Close() }()
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctxDur)
			defer cancel()
			var conn io.ReadWriter = &pipeConn{r: r, w: w2}
			if tc.eof {
				conn = &eofOnClose{pipeConn: conn.(*pipeConn)}
			}
			_, err = PushServer(ctx, conn, Request{Root: src, Paths: []Path{{Name: "."}}, Dest: "x", Options: Options{Timeout: tc.timeout}})
			if !tc.want(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func isTimeout(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Code == ExitTimeout
}

// eofOnClose is a pipeConn whose reads end in io.EOF once it is closed.
type eofOnClose struct {
	*pipeConn
	closed atomic.Bool
}

func (e *eofOnClose) Read(b []byte) (int, error) {
	n, err := e.pipeConn.Read(b)
	if err != nil && e.closed.Load() {
		return n, io.EOF
	}
	return n, err
}

func (e *eofOnClose) Close() error {
	e.closed.Store(true)
	return e.pipeConn.Close()
}
