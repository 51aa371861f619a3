package ops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/gsync/gsync/mirror"
)

// WritePidfile writes the process id to path and locks it; release
// removes it. Unlike lsyncd 2.2 (#438) the pidfile is written in the
// foreground too. A pidfile that cannot be opened or is locked by another
// running instance is a mirror.ConfigError.
func WritePidfile(path string) (release func(), err error) {
	f, err := OpenRegular(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, mirror.ConfigError{Err: fmt.Errorf("pidfile: %w", err)}
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, mirror.ConfigError{Err: fmt.Errorf("pidfile %s is locked by another running instance: %w", path, err)}
	}
	if err = f.Truncate(0); err == nil {
		_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write pidfile %s: %w", path, err)
	}
	return func() {
		os.Remove(path)
		f.Close()
	}, nil
}

// ErrNoReader is returned for a FIFO that no process has open for
// reading: writing to it would block.
var ErrNoReader = errors.New("a FIFO without a reader")

// LogFile is gsync's --log-file: opened for appending (created 0640),
// never through a symlink or into a FIFO (OpenRegular), and reopened on
// request (SIGUSR1, after logrotate moved it away) while other goroutines
// log.
type LogFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// OpenLogFile opens path as a LogFile.
func OpenLogFile(path string) (*LogFile, error) {
	l := &LogFile{path: path}
	if err := l.Reopen(); err != nil {
		return nil, err
	}
	return l, nil
}

// Reopen opens the path again and closes the file it replaces.
func (l *LogFile) Reopen() error {
	f, err := OpenRegular(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Write appends p to the file open now.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Close closes the file.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// AppendFile is lsyncd's settings.logfile: each write appends to the file
// opened for that write only (so logrotate needs no signal), never through
// a symlink or into a FIFO.
type AppendFile struct{ Path string }

// Write appends p. A character device or FIFO (logfile = "/dev/stdout")
// is written in place, like lsyncd's fopen; a FIFO nobody reads drops p.
func (a AppendFile) Write(p []byte) (int, error) {
	f, isDevice, err := OpenDevice(a.Path, os.O_APPEND)
	switch {
	case isDevice && errors.Is(err, ErrNoReader):
		return len(p), nil
	case isDevice && err != nil:
		return 0, fmt.Errorf("open log file: %w", err)
	case !isDevice:
		if f, err = OpenRegular(a.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
			return 0, fmt.Errorf("open log file: %w", err)
		}
	}
	n, err := f.Write(p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// Tee writes every write to all of Writers, one write at a time; a
// failing writer does not stop the others.
type Tee struct {
	mu      sync.Mutex
	Writers []io.Writer
}

// Write writes p to every writer and reports it all written.
func (t *Tee) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.Writers {
		w.Write(p)
	}
	return len(p), nil
}
