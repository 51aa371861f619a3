package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// write creates the file rel (and its parents) below root.
func write(t *testing.T, root, rel string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	mustMkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(rel), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fill creates n files in the directory rel below root.
func fill(t *testing.T, root, rel string, n int) {
	t.Helper()
	for i := range n {
		write(t, root, fmt.Sprintf("%s/f%04d", rel, i))
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestOnceRefusedExits1: gsync --once whose full sync a guard refused
// exits 1 with the reason on stderr (before: exit 0).
func TestOnceRefusedExits1(t *testing.T) {
	cases := map[string]func(src, dst string) []string{
		"empty source": func(src, dst string) []string {
			write(t, dst, "a")
			return []string{"--once", "--control-socket", "none", src, dst}
		},
		"max-delete": func(src, dst string) []string {
			write(t, src, "b")
			fill(t, dst, "old", 5)
			return []string{"--once", "--max-delete", "2", "--control-socket", "none", src, dst}
		},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
			mustMkdir(t, src)
			mustMkdir(t, dst)
			var out, errb bytes.Buffer
			if code := run(args(src, dst), &out, &errb); code != exitFailure {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFailure, errb.String())
			}
			if !strings.Contains(errb.String(), "gsync: sync ") {
				t.Errorf("no reason on stderr:\n%s", errb.String())
			}
		})
	}
}
