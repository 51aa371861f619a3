package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// TestOnceRefusedExitCode: gsync --once whose full sync a guard refused
// exits 1 with the reason on stderr (before: exit 0); 25 when it was
// --max-delete, as rsync (RERR_DEL_LIMIT).
func TestOnceRefusedExitCode(t *testing.T) {
	cases := map[string]struct {
		args func(src, dst string) []string
		want int
	}{
		"empty source": {func(src, dst string) []string {
			testutil.WriteRel(t, dst, "a")
			return []string{"--once", "--control-socket", "none", src, dst}
		}, exitFailure},
		"max-delete": {func(src, dst string) []string {
			testutil.WriteRel(t, src, "b")
			testutil.Fill(t, dst, "old", 5)
			return []string{"--once", "--max-delete", "2", "--control-socket", "none", src, dst}
		}, exitDeleteLimit},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
			testutil.MustMkdir(t, src)
			testutil.MustMkdir(t, dst)
			var out, errb bytes.Buffer
			if code := run(c.args(src, dst), &out, &errb); code != c.want {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, c.want, errb.String())
			}
			if !strings.Contains(errb.String(), "gsync: sync ") {
				t.Errorf("no reason on stderr:\n%s", errb.String())
			}
		})
	}
}
