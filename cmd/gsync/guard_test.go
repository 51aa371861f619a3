package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// TestOnceRefusedExits1: gsync --once whose full sync a guard refused
// exits 1 with the reason on stderr (before: exit 0).
func TestOnceRefusedExits1(t *testing.T) {
	cases := map[string]func(src, dst string) []string{
		"empty source": func(src, dst string) []string {
			testutil.WriteRel(t, dst, "a")
			return []string{"--once", "--control-socket", "none", src, dst}
		},
		"max-delete": func(src, dst string) []string {
			testutil.WriteRel(t, src, "b")
			testutil.Fill(t, dst, "old", 5)
			return []string{"--once", "--max-delete", "2", "--control-socket", "none", src, dst}
		},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
			testutil.MustMkdir(t, src)
			testutil.MustMkdir(t, dst)
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
