// Package testutil holds small helpers shared by the tests of several
// packages: files and trees, a buffer safe for concurrent use, polling
// and symlink-swap races. Only tests and test-helper packages import it;
// production code must not.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Must fails the test at once when err is not nil.
func Must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// MustMkdir creates the directory p and its parents.
func MustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

// Within runs fn and returns its error; the test fails at once when fn has
// not returned after d (what names the call in the failure).
func Within(t *testing.T, what string, d time.Duration, fn func() error) error {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- fn() }()
	select {
	case err := <-res:
		return err
	case <-time.After(d):
		t.Fatalf("%s hangs (no return within %v)", what, d)
		return nil
	}
}

// WriteFile creates the file p (and its parents) holding content, mode
// 0644.
func WriteFile(t *testing.T, p, content string) {
	t.Helper()
	MustMkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteRel creates the file rel (slash-separated, parents included) below
// root; the file holds rel itself.
func WriteRel(t *testing.T, root, rel string) {
	t.Helper()
	WriteFile(t, filepath.Join(root, filepath.FromSlash(rel)), rel)
}

// Fill creates n files f0000, f0001, ... in the directory rel below root,
// with WriteRel.
func Fill(t *testing.T, root, rel string, n int) {
	t.Helper()
	for i := range n {
		WriteRel(t, root, fmt.Sprintf("%s/f%04d", rel, i))
	}
}

// Exists reports whether p exists (without following a final symlink);
// any error of lstat(2) counts as absent.
func Exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// Eventually polls ok until it holds, failing the test when it does not
// within 15 s. It waits at least twice as long as ok took between two
// polls (5 ms to 200 ms): a costly check (a tree compared) then takes at
// most a third of a core from the processes it waits for.
func Eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		start := time.Now()
		if ok() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(min(max(5*time.Millisecond, 2*time.Since(start)), 200*time.Millisecond))
	}
}

// Buffer is a bytes.Buffer safe for concurrent use: output collected
// from several goroutines (a process's stdout and stderr, a logger) and
// read while they write. The zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Close does nothing; it lets the buffer serve as an io.WriteCloser.
func (b *Buffer) Close() error { return nil }

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
