package control

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, path string, st Status) (stop func()) {
	t.Helper()
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, func() Status { return st }) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
}

func TestQueryRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "1.sock")
	want := Status{PID: 42, Version: "v1", Started: time.Unix(1700000000, 0).UTC(),
		Targets: []Target{{Sync: "Sync1", Source: "/src", Target: "h::m", State: "idle", Queue: 3, BytesPushed: 99}}}
	stop := serve(t, path, want)
	for p, mode := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, mode)
		}
	}
	got, err := Query(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != 42 || got.Socket != path || len(got.Targets) != 1 || got.Targets[0] != want.Targets[0] || !got.Started.Equal(want.Started) {
		t.Errorf("Query = %+v, want %+v", got, want)
	}
	// A second process cannot take the live socket.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Listen on a live socket: %v, want an in-use error", err)
	}
	stop()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket left after Serve ended: %v", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	path := filepath.Join(dir, "s.sock")
	// A socket file nobody listens on, as a killed gsync leaves it.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	stop := serve(t, path, Status{PID: 7})
	defer stop()
	got, err := QueryDir(context.Background(), dir)
	if err != nil || len(got) != 1 || got[0].PID != 7 {
		t.Errorf("QueryDir = %+v, %v", got, err)
	}
}

func TestQueryDirDropsDeadSockets(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	dead := filepath.Join(dir, "9.sock")
	ln, err := net.Listen("unix", dead)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	stop := serve(t, filepath.Join(dir, "1.sock"), Status{PID: 1})
	defer stop()
	got, err := QueryDir(context.Background(), dir)
	if err != nil || len(got) != 1 || got[0].PID != 1 {
		t.Errorf("QueryDir = %+v, %v", got, err)
	}
	if _, err := os.Lstat(dead); !os.IsNotExist(err) {
		t.Errorf("dead socket not removed: %v", err)
	}
	if got, err := QueryDir(context.Background(), filepath.Join(dir, "missing")); err != nil || len(got) != 0 {
		t.Errorf("QueryDir of a missing dir = %v, %v", got, err)
	}
}

func TestListenRefusesOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	if _, err := Listen(filepath.Join(dir, "s.sock")); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("Listen in a world-writable dir: %v", err)
	}
}
