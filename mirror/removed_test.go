package mirror

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
)

// TestOwnRemovals: the delete of a file gsync removed itself is dropped
// once; a path that exists again, other paths and moves go through.
func TestOwnRemovals(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "back"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var o ownRemovals
	o.note([]string{"gone", "back", "moved"})
	changes := []transport.Change{
		{Op: change.Delete, Path: "gone"},
		{Op: change.Create, Path: "back"},
		{Op: change.Delete, Path: "other"},
		{Op: change.Move, Path: "moved", From: "x"},
	}
	got := o.filter(src, changes)
	var paths []string
	for _, c := range got {
		paths = append(paths, c.Path)
	}
	if len(paths) != 3 || paths[0] != "back" || paths[1] != "other" || paths[2] != "moved" {
		t.Errorf("kept %q, want back, other, moved", paths)
	}
	if len(o) != 1 {
		t.Errorf("remembers %d paths after the filter, want 1 (moved)", len(o))
	}
	// A second delete of "gone" is a real one.
	if got := o.filter(src, changes[:1]); len(got) != 1 {
		t.Error("the delete of gone was dropped twice")
	}
	o.note(make([]string, maxOwnRemovals+1))
	if len(o) != 1 {
		t.Errorf("over the cap: %d paths kept", len(o))
	}
}
