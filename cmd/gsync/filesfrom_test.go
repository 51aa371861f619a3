package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gsync/gsync/filter"
)

// TestFilesFrom: --files-from's lines become rules that keep exactly the
// listed paths, their parents and what lies below listed directories,
// with the excludes still deciding inside them.
func TestFilesFrom(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list")
	if err := os.WriteFile(list, []byte("# c\n./a/b/f\n\n/d/\n;x\na/b/f\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths, err := readFilesFrom(list, false)
	if err != nil || !slices.Equal(paths, []string{"a/b/f", "d", "a/b/f"}) {
		t.Fatalf("paths %q, %v", paths, err)
	}
	rules, err := filesFromRules(paths, nil, []string{"*.tmp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := filter.New(nil, rules)
	if err != nil {
		t.Fatalf("rules %q: %v", rules, err)
	}
	for _, tc := range []struct {
		rel   string
		isDir bool
		out   bool
	}{
		{"a", true, false}, {"a/b", true, false}, {"a/b/f", false, false}, {"a/b/g", false, true},
		{"a/c", true, true}, {"d", true, false}, {"d/e/x", false, false}, {"d/x.tmp", false, true},
		{"top", false, true}, {"dd", true, true},
	} {
		if got := set.Excluded(tc.rel, tc.isDir); got != tc.out {
			t.Errorf("%s excluded = %v, want %v (rules %q)", tc.rel, got, tc.out, rules)
		}
	}
	// NUL-separated; "." lists everything.
	if err := os.WriteFile(list, []byte("x\x00.\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if paths, err := readFilesFrom(list, true); err != nil || paths != nil {
		t.Errorf("with .: %q, %v", paths, err)
	}
	for _, bad := range []string{"a*b\n", "\n# only a comment\n"} {
		if err := os.WriteFile(list, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readFilesFrom(list, false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := readFilesFrom("-", false); err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("stdin: %v", err)
	}
}
