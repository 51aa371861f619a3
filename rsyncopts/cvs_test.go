package rsyncopts

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCVSExcludes: rsync's default list, then ~/.cvsignore's words, then
// $CVSIGNORE's.
func TestCVSExcludes(t *testing.T) {
	home := t.TempDir()
	got, err := CVSExcludes(home, "")
	if err != nil || !slices.Equal(got, cvsIgnore) || len(got) != 36 {
		t.Fatalf("no .cvsignore: %d patterns, %v", len(got), err)
	}
	if err := os.WriteFile(filepath.Join(home, ".cvsignore"), []byte("*.log  build/\n\tnode_modules\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = CVSExcludes(home, "*.junk  *.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if want := append(append([]string(nil), cvsIgnore...), "*.log", "build/", "node_modules", "*.junk", "*.tmp"); !slices.Equal(got, want) {
		t.Errorf("got %q", got[len(cvsIgnore):])
	}
}
