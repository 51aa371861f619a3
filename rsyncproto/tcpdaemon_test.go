package rsyncproto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// startTCPDaemon runs "rsync --daemon --no-detach" on a free 127.0.0.1 port
// and stops it by PID at cleanup.
func startTCPDaemon(t *testing.T, conf string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testutil.Must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(needRsync(t), "--daemon", "--no-detach", "--address=127.0.0.1", fmt.Sprintf("--port=%d", port), "--config="+conf)
	testutil.Must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("daemon did not start")
	return ""
}

// TestTCPDaemonReceiverErrors: a socket daemon reports receiver errors in
// the protocol (MSG_ERROR_XFER): only the unwritable directory's files fail,
// exit 23.
func TestTCPDaemonReceiverErrors(t *testing.T) {
	needRsync(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the daemon as nobody")
	}
	mod := filepath.Join(t.TempDir(), "mod")
	testutil.Must(t, os.MkdirAll(filepath.Join(mod, "ro"), 0o777))
	testutil.Must(t, os.Chmod(filepath.Dir(mod), 0o755))
	testutil.Must(t, os.Chmod(filepath.Dir(filepath.Dir(mod)), 0o755))
	testutil.Must(t, os.Chmod(mod, 0o777))
	testutil.Must(t, os.Chmod(filepath.Join(mod, "ro"), 0o555))
	conf := filepath.Join(t.TempDir(), "rsyncd.conf")
	testutil.Must(t, os.WriteFile(conf, []byte(fmt.Sprintf("use chroot = no\nmunge symlinks = no\nuid = nobody\ngid = nogroup\n[m]\npath = %s\nread only = no\n", mod)), 0o600))
	addr := startTCPDaemon(t, conf)
	src := t.TempDir()
	for _, n := range []string{"ok/a", "ro/x", "ro/y", "top"} {
		writeFile(t, filepath.Join(src, n), []byte(n), 0o644, time.Unix(1704164645, 0))
	}
	for _, p := range protocols {
		c, err := net.Dial("tcp", addr)
		testutil.Must(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d, err := DialDaemon(ctx, c, DaemonConfig{Module: "m", MaxProtocol: p})
		if err != nil {
			t.Fatalf("p%d dial: %v", p, err)
		}
		res, err := d.Push(ctx, Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "m"})
		cancel()
		c.Close()
		if err != nil {
			t.Fatalf("p%d push: %v", p, err)
		}
		failed := map[string]bool{}
		for _, f := range res.Failed {
			failed[f.Path] = errors.Is(f.Err, ErrReceiver)
		}
		if res.ExitCode != ExitPartial || !failed["ro/x"] || !failed["ro/y"] || failed["ok/a"] || failed["top"] {
			t.Errorf("p%d: exit %d failed %v", p, res.ExitCode, res.Failed)
		}
		if b, err := os.ReadFile(filepath.Join(mod, "ok/a")); err != nil || string(b) != "ok/a" {
			t.Errorf("p%d: ok/a did not land", p)
		}
	}
}
