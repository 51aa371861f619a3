package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// getProbe returns the status code and body of http://addr/path ("" and
// 0 while nothing listens).
func getProbe(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitProbe polls addr/path until it answers code.
func waitProbe(t *testing.T, addr, path string, code int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, body := getProbe(addr, path)
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answered %d %q, want %d within %v", path, got, body, code, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHealthProbes: with an rsync 3.5.0 daemon target and a local one,
// /readyz answers 200 once both startup syncs are done, 503 naming the
// daemon target while the daemon is down and a push to it fails, and
// 200 again once it caught up; /healthz answers 200 all along (the
// process and its loop are fine).
func TestHealthProbes(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	dir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir}}})
	src, local := t.TempDir(), filepath.Join(t.TempDir(), "local")
	testutil.WriteFile(t, filepath.Join(src, "f"), "x")
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	g := startGsync(t, nil, "--delay", "0", "--timeout", "5", "--control-socket", "none", "--metrics-addr", addr, src, d.URL("m"), local)
	body := waitProbe(t, addr, "/readyz", 200, 30*time.Second)
	if !strings.Contains(body, "Sync1 rsync://127.0.0.1") || !strings.Contains(body, "Sync2 "+local+": ready") {
		t.Errorf("/readyz body %q", body)
	}
	if code, body := getProbe(addr, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}

	testutil.Must(t, d.Kill())
	testutil.WriteFile(t, filepath.Join(src, "g"), "y")
	body = waitProbe(t, addr, "/readyz", 503, 30*time.Second)
	if !strings.Contains(body, "Sync1 rsync://127.0.0.1") || !strings.Contains(body, "not ready: failing: ") || !strings.Contains(body, "Sync2 "+local+": ready") {
		t.Errorf("/readyz with the daemon down: %q", body)
	}
	if code, _ := getProbe(addr, "/healthz"); code != 200 {
		t.Errorf("/healthz with the daemon down: %d, want 200 (the process is fine)", code)
	}
	testutil.Must(t, d.Restart())
	waitProbe(t, addr, "/readyz", 200, 60*time.Second)
	waitEqualAll(t, src, dir, 30*time.Second, rsyncPeerOptions(32))
	if _, err := os.Stat(filepath.Join(local, "g")); err != nil {
		t.Errorf("local target: %v", err)
	}
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit %d after SIGTERM, want 143", code)
	}
}
