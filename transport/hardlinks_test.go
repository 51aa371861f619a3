//go:build unix

package transport

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// TestLinkIndexExpand: a push with -H lists every name of each
// multiply-linked file it sends (also a name it learns of in this push),
// forgets names that are gone, and walks recursive directories.
func TestLinkIndexExpand(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "a"), "x")
	testutil.WriteFile(t, filepath.Join(src, "c"), "y")
	testutil.MustMkdir(t, filepath.Join(src, "d"))
	testutil.MustMkdir(t, filepath.Join(src, "skip"))
	testutil.Must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "d", "b")))
	testutil.Must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "skip", "s")))
	exclude := func(rel string, _ bool) bool { return rel == "skip" }
	var x linkIndex
	x.scan(src, ".", exclude)

	push := func(paths ...string) []string {
		var set pathSet
		for _, p := range paths {
			set.add(p, p == "d")
		}
		x.expand(src, &set, exclude)
		var got []string
		for _, p := range set.list {
			got = append(got, p.Name)
		}
		return got
	}
	if got := push("a"); !slices.Equal(got, []string{"a", "d/b"}) {
		t.Errorf("push a: %q, want a and its other name d/b (not the excluded skip/s)", got)
	}
	if got := push("c"); !slices.Equal(got, []string{"c"}) {
		t.Errorf("push c (one name): %q", got)
	}
	if got := push("d"); !slices.Equal(got, []string{"d", "a"}) {
		t.Errorf("push d (recursive): %q, want a added", got)
	}
	// A new name arrives in a later batch: linked to what the target has.
	testutil.Must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "e")))
	if got := push("e"); !slices.Equal(got, []string{"e", "a", "d/b"}) {
		t.Errorf("push e (new name): %q", got)
	}
	// A new name of a file that had one name: the kernel reports no
	// event for the old name; a walk finds it.
	testutil.Must(t, os.Link(filepath.Join(src, "c"), filepath.Join(src, "d", "c2")))
	if got := push("d/c2"); !slices.Equal(got, []string{"d/c2", "c"}) {
		t.Errorf("push d/c2 (new name of a lone file): %q, want c found by a walk", got)
	}
	// A name that is gone, or now another file, is forgotten.
	testutil.Must(t, os.Remove(filepath.Join(src, "d", "b")))
	testutil.WriteFile(t, filepath.Join(src, "d", "b"), "z")
	if got := push("a"); !slices.Equal(got, []string{"a", "e"}) {
		t.Errorf("push a after d/b was replaced: %q", got)
	}
}
