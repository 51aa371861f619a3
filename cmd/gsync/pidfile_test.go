//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// victimFile creates a file gsync must never write to.
func victimFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(p, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkVictimUntouched(t *testing.T, p string) {
	t.Helper()
	if data, err := os.ReadFile(p); err != nil || string(data) != "precious\n" {
		t.Errorf("victim %s = %q, %v; want it untouched", p, data, err)
	}
}

// returnsWithin fails the test when fn does not return within a generous bound
// (a FIFO opened without O_NONBLOCK blocks forever).
func returnsWithin(t *testing.T, what string, fn func() error) error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- fn() }()
	select {
	case err := <-res:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s hangs", what)
		return nil
	}
}

// TestPidfileRefusesSymlinkAndFIFO: a pidfile path that is a symlink (to
// an existing file or dangling) or a FIFO is refused with a clear error;
// the symlink's target is neither truncated nor created.
func TestPidfileRefusesSymlinkAndFIFO(t *testing.T) {
	dir := t.TempDir()
	v := victimFile(t)
	link := filepath.Join(dir, "gsync.pid")
	if err := os.Symlink(v, link); err != nil {
		t.Fatal(err)
	}
	_, err := writePidfile(link)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("writePidfile(symlink) = %v, want a symlink refusal", err)
	}
	checkVictimUntouched(t, v)

	missing := filepath.Join(dir, "created-through-link")
	dangling := filepath.Join(dir, "dangling.pid")
	if err := os.Symlink(missing, dangling); err != nil {
		t.Fatal(err)
	}
	if _, err := writePidfile(dangling); err == nil {
		t.Errorf("writePidfile(dangling symlink) succeeded")
	}
	if _, err := os.Lstat(missing); err == nil {
		t.Errorf("writePidfile created %s through a dangling symlink", missing)
	}

	fifo := filepath.Join(dir, "fifo.pid")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	err = returnsWithin(t, "writePidfile(FIFO)", func() error { _, err := writePidfile(fifo); return err })
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("writePidfile(FIFO) = %v, want a not-a-regular-file refusal", err)
	}
}

// TestPidfileRegular: a regular pidfile is still written, locked and
// removed.
func TestPidfileRegular(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gsync.pid")
	if err := os.WriteFile(p, []byte("stale pid from a crashed run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	release, err := writePidfile(p)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if want := strings.TrimSpace(string(data)); want == "" || strings.Contains(want, "stale") {
		t.Errorf("pidfile = %q, want the process id", data)
	}
	release()
	if _, err := os.Lstat(p); err == nil {
		t.Errorf("pidfile still there after release")
	}
}
