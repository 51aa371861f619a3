package transport

import "testing"

func TestWalkDeletePasses(t *testing.T) {
	for _, tc := range []struct {
		missing []string
		want    int
	}{
		{nil, 0},
		{[]string{"a"}, 1},
		{[]string{"a", "b"}, 2},          // siblings: one per walk
		{[]string{"a/x", "b/y"}, 1},      // different directories
		{[]string{"a", "b/y"}, 2},        // b is skipped after a
		{[]string{"b/y", "c"}, 1},        // b is walked before c
		{[]string{"d", "d/x", "d/y"}, 1}, // removing d removes below
		{[]string{"d/a", "d/m/x", "d/m/y", "d/z/deep/f", "e"}, 3},
	} {
		if got := walkDeletePasses(tc.missing); got != tc.want {
			t.Errorf("walkDeletePasses(%q) = %d, want %d", tc.missing, got, tc.want)
		}
	}
	got := deletePassesByRoot([]string{"a", "b/c"}, []string{"a/x", "a/y", "b/c/z"})
	if got["a"] != 2 || got["b/c"] != 1 {
		t.Errorf("deletePassesByRoot = %v, want a:2 b/c:1", got)
	}
	if got := deletePassesByRoot([]string{"r"}, nil); got["r"] != 1 {
		t.Errorf("a root without listed deletions gets %d passes, want 1", got["r"])
	}
}
