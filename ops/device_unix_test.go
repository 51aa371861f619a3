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

// TestStatusFileOnDevice: a statusFile that is a FIFO, a character device
// or a symlink to one (/dev/stdout is /proc/self/fd/1) is written in
// place and stays what it was; a FIFO without a reader is skipped
// without blocking; a symlink to a regular file is refused and left
// alone.
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
	link := filepath.Join(dir, "stdout")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, link, os.DevNull} {
		if err := within(t, "write "+p, NewStatusWriter(p, 0, log, b).write); err != nil {
			t.Errorf("write status to %s: %v", p, err)
		}
	}
	if fi, err := os.Stat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("FIFO replaced: %v, %v", fi, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v, %v", fi, err)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("%s replaced: %v, %v", os.DevNull, fi, err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "Lsyncd status report at ") {
		t.Errorf("FIFO reader got %q, %v; want the status report", line, err)
	}

	v := victimFile(t)
	vlink := filepath.Join(dir, "status.link")
	if err := os.Symlink(v, vlink); err != nil {
		t.Fatal(err)
	}
	if err := NewStatusWriter(vlink, 0, log, b).write(); err == nil || !strings.Contains(err.Error(), "refusing to replace it") {
		t.Errorf("write through a symlink to a regular file = %v, want a refusal", err)
	}
	checkVictimUntouched(t, v)
	if fi, err := os.Lstat(vlink); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v, %v", fi, err)
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
