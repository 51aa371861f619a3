//go:build unix

package ops

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
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
	_, err := WritePidfile(link)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("WritePidfile(symlink) = %v, want a symlink refusal", err)
	}
	checkVictimUntouched(t, v)

	missing := filepath.Join(dir, "created-through-link")
	dangling := filepath.Join(dir, "dangling.pid")
	if err := os.Symlink(missing, dangling); err != nil {
		t.Fatal(err)
	}
	if _, err := WritePidfile(dangling); err == nil {
		t.Errorf("WritePidfile(dangling symlink) succeeded")
	}
	if _, err := os.Lstat(missing); err == nil {
		t.Errorf("writePidfile created %s through a dangling symlink", missing)
	}

	fifo := filepath.Join(dir, "fifo.pid")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	err = within(t, "WritePidfile(FIFO)", func() error { _, err := WritePidfile(fifo); return err })
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("WritePidfile(FIFO) = %v, want a not-a-regular-file refusal", err)
	}
}

// TestPidfileRegular: a regular pidfile is still written, locked and
// removed.
func TestPidfileRegular(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gsync.pid")
	if err := os.WriteFile(p, []byte("stale pid from a crashed run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	release, err := WritePidfile(p)
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

func TestPidfileLocked(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pid")
	release, err := WritePidfile(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("pidfile holds %q", b)
	}
	if _, err := WritePidfile(p); err == nil {
		t.Error("second writer got the locked pidfile")
	}
	release()
	if _, err := os.Stat(p); err == nil {
		t.Error("pidfile not removed")
	}
}

// TestLogFileRefusesSymlinkAndFIFO: a --log-file that is a symlink or a
// FIFO is refused at startup and on SIGUSR1's reopen, lsyncd's logfile on
// every write, and the symlink's target is never written.
func TestLogFileRefusesSymlinkAndFIFO(t *testing.T) {
	dir := t.TempDir()
	v := victimFile(t)
	link := filepath.Join(dir, "gsync.log")
	if err := os.Symlink(v, link); err != nil {
		t.Fatal(err)
	}
	_, err := OpenLogFile(link)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("OpenLogFile(symlink) = %v, want a symlink refusal", err)
	}
	checkVictimUntouched(t, v)

	fifo := filepath.Join(dir, "fifo.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	err = within(t, "OpenLogFile(FIFO)", func() error { _, err := OpenLogFile(fifo); return err })
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("OpenLogFile(FIFO) = %v, want a not-a-regular-file refusal", err)
	}

	// logrotate moved the log away and someone put a symlink in its place:
	// the reopen fails and the old file keeps the log.
	p := filepath.Join(dir, "rotated.log")
	w, err := OpenLogFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(v, p); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err == nil {
		t.Errorf("reopen onto a symlink succeeded")
	}
	if _, err := io.WriteString(w, "after rotation\n"); err != nil {
		t.Fatal(err)
	}
	checkVictimUntouched(t, v)
	if data, _ := os.ReadFile(p + ".1"); string(data) != "after rotation\n" {
		t.Errorf("old log = %q, want the line written after the failed reopen", data)
	}

	if _, err := (AppendFile{Path: link}).Write([]byte("x\n")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("AppendFile(symlink).Write = %v, want a symlink refusal", err)
	}
	checkVictimUntouched(t, v)
}

// within fails the test when fn does not return within a generous bound
// (a FIFO opened without O_NONBLOCK blocks forever).
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	return testutil.Within(t, what, 10*time.Second, fn)
}
