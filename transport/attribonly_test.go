package transport

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
)

// TestSplitAttribOnly: a batch's attribute-only changes are pushed on
// their own (quick check) unless the path is gone, covered by a recursive
// path or a move of the batch, or -H keeps the batch whole.
func TestSplitAttribOnly(t *testing.T) {
	src := t.TempDir()
	for _, p := range []string{"chmod", "dir/chmod", "dir/sub/f", "moved/f", "written"} {
		testutil.WriteFile(t, filepath.Join(src, p), p)
	}
	batch := []Change{
		{Op: change.Attrib, Path: "chmod"},
		{Op: change.Modify, Path: "written"},
		{Op: change.Attrib, Path: "gone"},
		{Op: change.Create, Path: "dir/sub", IsDir: true, Recursive: true},
		{Op: change.Attrib, Path: "dir/sub/f"},
		{Op: change.Attrib, Path: "dir/chmod"},
		{Op: change.Attrib, Path: "dir", IsDir: true},
		{Op: change.Move, From: "old", Path: "moved", IsDir: true},
		{Op: change.Attrib, Path: "moved/f"},
	}
	paths := func(cs []Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Path)
		}
		return out
	}
	data, attrs := splitAttribOnly(batch, src, false)
	if want := []string{"chmod", "dir/chmod", "dir"}; !slices.Equal(paths(attrs), want) {
		t.Errorf("attribute-only %q, want %q", paths(attrs), want)
	}
	if want := []string{"written", "gone", "dir/sub", "dir/sub/f", "moved", "moved/f"}; !slices.Equal(paths(data), want) {
		t.Errorf("with -I %q, want %q", paths(data), want)
	}
	if data, attrs := splitAttribOnly(batch, src, true); len(attrs) != 0 || len(data) != len(batch) {
		t.Errorf("with -H: %d with -I, %d attribute-only; want the whole batch with -I", len(data), len(attrs))
	}
}
