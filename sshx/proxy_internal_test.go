//go:build unix

package sshx

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProxyKilledWithConnection: Close ends a ProxyCommand that ignores
// its input, and the children it started (its process group), within the
// kill delay; the connection is the command's stdin and stdout.
func TestProxyKilledWithConnection(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// Echo one line, start a child that sleeps, ignore SIGHUP, sleep.
	script := `trap '' HUP; sleep 60 & echo $! > "$0"; read l; echo "got $l"; wait`
	p, err := startProxy(context.Background(), []string{"sh", "-c", script, pidFile}, "h:22")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9)
	p.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(p, buf); err != nil || string(buf) != "got ping\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if p.RemoteAddr().String() != "h:22" {
		t.Errorf("RemoteAddr %s, want h:22", p.RemoteAddr())
	}
	b, _ := os.ReadFile(pidFile)
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("child pid %q: %v", b, err)
	}
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > proxyKillDelay+time.Second {
		t.Errorf("Close took %v", d)
	}
	select {
	case <-p.done:
	default:
		t.Fatal("proxy still running after Close")
	}
	deadline := time.Now().Add(2 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); strings.Contains(string(st), ") Z ") {
			break // a zombie waiting for init
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy's child %d survived Close", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProxyArgv(t *testing.T) {
	s := &settings{alias: "web", hostname: "10.0.0.1", port: 2222, user: "u b", home: "/h"}
	got, err := s.proxyArgv(`nc -X connect -x "proxy:8080" %h %p '%r' %%h ~/x`)
	want := []string{"nc", "-X", "connect", "-x", "proxy:8080", "10.0.0.1", "2222", "u b", "%h", "/h/x"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("proxyArgv = %q, %v; want %q", got, err, want)
	}
	if got, err := s.proxyArgv("none"); got != nil || err != nil {
		t.Errorf("proxyArgv(none) = %q, %v", got, err)
	}
	if _, err := s.proxyArgv("-"); err == nil {
		t.Errorf(`proxyArgv("-") accepted`)
	}
}

// TestConnectTimeoutEndsProxy: a ProxyCommand that never answers is given
// up after ConnectTimeout, as a retryable network error, and killed.
func TestConnectTimeoutEndsProxy(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	start := time.Now()
	_, err := Dial(context.Background(), Config{Host: "h", User: "u", ConfigFile: "none", Home: dir, NoAgent: true,
		Password: NewSecret("x"), // something to log in with
		Options: map[string]string{"connecttimeout": "1",
			"proxycommand": "sh -c 'echo $$ > \"$0\"; exec sleep 30' " + pidFile}})
	if d := time.Since(start); err == nil || d > 4*time.Second {
		t.Fatalf("Dial = %v after %v, want a timeout after about 1 s", err, d)
	}
	if IsPermanent(err) {
		t.Errorf("timeout %v is permanent, want retryable", err)
	}
	b, _ := os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if perr != nil {
		t.Fatalf("proxy pid %q: %v", b, perr)
	}
	deadline := time.Now().Add(3 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ProxyCommand %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMissingProxyCommand: a ProxyCommand that cannot be started is a
// configuration error, not worth a retry.
func TestMissingProxyCommand(t *testing.T) {
	dir := t.TempDir()
	_, err := Dial(context.Background(), Config{Host: "h", User: "u", ConfigFile: "none", Home: dir, NoAgent: true,
		Options: map[string]string{"proxycommand": `"` + filepath.Join(dir, "no such proxy") + `" %h`}})
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "ProxyCommand") {
		t.Errorf("Dial with a missing ProxyCommand = %v, want a permanent error naming it", err)
	}
}
