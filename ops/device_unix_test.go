//go:build unix

package ops

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStatusFileOnDevice: a statusFile that is a FIFO or a character
// device is written in place and stays what it was; a FIFO without a
// reader is skipped without blocking; /dev/stdout is the process's
// standard output, written through a copy of the descriptor (whatever it
// is: a regular file here) and never replaced; a symlink is replaced, not
// written through (it could lead anywhere: /dev/mem).
func TestStatusFileOnDevice(t *testing.T) {
	dir := t.TempDir()
	b := NewBoard("test")
	b.Add("Sync1")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	fifo := filepath.Join(dir, "status.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// No reader yet: skipped, at once.
	if err := within(t, "write to a FIFO without a reader", NewStatusWriter(fifo, 0, log, b).write); err != nil {
		t.Errorf("write to a FIFO without a reader = %v, want it skipped", err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range []string{fifo, os.DevNull} {
		if err := within(t, "write "+p, NewStatusWriter(p, 0, log, b).write); err != nil {
			t.Errorf("write status to %s: %v", p, err)
		}
	}
	if fi, err := os.Stat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("FIFO replaced: %v, %v", fi, err)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("%s replaced: %v, %v", os.DevNull, fi, err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "Lsyncd status report at ") {
		t.Errorf("FIFO reader got %q, %v; want the status report", line, err)
	}

	// /dev/stdout while standard output is a regular file.
	out := filepath.Join(dir, "stdout.txt")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(1)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Dup2(int(f.Fd()), 1)
	werr := NewStatusWriter("/dev/stdout", 0, log, b).write()
	syscall.Dup2(saved, 1)
	syscall.Close(saved)
	f.Close()
	if werr != nil {
		t.Errorf("write status to /dev/stdout: %v", werr)
	}
	if data, _ := os.ReadFile(out); !strings.HasPrefix(string(data), "Lsyncd status report at ") {
		t.Errorf("standard output got %q", data)
	}
	if fi, err := os.Lstat("/dev/stdout"); err != nil || fi.Mode().IsRegular() {
		t.Errorf("/dev/stdout replaced: %v, %v", fi, err)
	}

	v := victimFile(t)
	vlink := filepath.Join(dir, "status.link")
	if err := os.Symlink(v, vlink); err != nil {
		t.Fatal(err)
	}
	if err := NewStatusWriter(vlink, 0, log, b).write(); err != nil {
		t.Errorf("write over a planted symlink: %v", err)
	}
	checkVictimUntouched(t, v)
	if fi, err := os.Lstat(vlink); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("planted symlink not replaced: %v, %v", fi, err)
	}
	dlink := filepath.Join(dir, "null.link")
	if err := os.Symlink(os.DevNull, dlink); err != nil {
		t.Fatal(err)
	}
	if err := NewStatusWriter(dlink, 0, log, b).write(); err != nil {
		t.Errorf("write over a symlink to a device: %v", err)
	}
	if fi, err := os.Lstat(dlink); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("symlink to a device not replaced: %v, %v", fi, err)
	}
}

// TestAppendFileOnDevice: lsyncd's logfile on a FIFO or a character
// device is written in place; a FIFO without a reader drops the line.
func TestAppendFileOnDevice(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "log.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := within(t, "log to a FIFO without a reader", func() error {
		_, err := AppendFile{Path: fifo}.Write([]byte("lost\n"))
		return err
	}); err != nil {
		t.Errorf("log to a FIFO without a reader = %v", err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range []string{fifo, os.DevNull} {
		if _, err := (AppendFile{Path: p}).Write([]byte("hello\n")); err != nil {
			t.Errorf("log to %s: %v", p, err)
		}
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Errorf("FIFO reader got %q, %v", line, err)
	}
}
