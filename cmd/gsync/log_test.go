//go:build unix

package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLogFileRefusesSymlinkAndFIFO: --log-file that is a symlink or a
// FIFO is refused at startup and on SIGUSR1's reopen, and the symlink's
// target is never written.
func TestLogFileRefusesSymlinkAndFIFO(t *testing.T) {
	dir := t.TempDir()
	v := victimFile(t)
	link := filepath.Join(dir, "gsync.log")
	if err := os.Symlink(v, link); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := openLogOutput(io.Discard, link)
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("openLogOutput(symlink) = %v, want a symlink refusal", err)
	}
	checkVictimUntouched(t, v)

	fifo := filepath.Join(dir, "fifo.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	err = returnsWithin(t, "openLogOutput(FIFO)", func() error { _, _, _, err := openLogOutput(io.Discard, fifo); return err })
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("openLogOutput(FIFO) = %v, want a not-a-regular-file refusal", err)
	}

	// logrotate moved the log away and someone put a symlink in its place:
	// the reopen fails and the old file keeps the log.
	p := filepath.Join(dir, "rotated.log")
	w, reopen, closeLog, err := openLogOutput(io.Discard, p)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(v, p); err != nil {
		t.Fatal(err)
	}
	if err := reopen(); err == nil {
		t.Errorf("reopen onto a symlink succeeded")
	}
	if _, err := io.WriteString(w, "after rotation\n"); err != nil {
		t.Fatal(err)
	}
	checkVictimUntouched(t, v)
	if data, _ := os.ReadFile(p + ".1"); string(data) != "after rotation\n" {
		t.Errorf("old log = %q, want the line written after the failed reopen", data)
	}
}
