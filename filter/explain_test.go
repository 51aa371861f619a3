package filter

import "testing"

func TestDecide(t *testing.T) {
	s, err := New([]string{"*.tmp", "/build/", "cache"}, []string{"+ keep.tmp", "- secret*"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rel  string
		dir  bool
		ok   bool
		want Decision
	}{
		{rel: "a/b.txt"},
		{rel: "a/b.tmp", ok: true, want: Decision{Excluded: true, Path: "a/b.tmp", Rule: "*.tmp", Index: 0}},
		{rel: "a/keep.tmp", ok: true, want: Decision{Path: "a/keep.tmp", Rule: "+ keep.tmp", Filter: true}},
		{rel: "build/x/y.c", ok: true, want: Decision{Excluded: true, Path: "build", Rule: "/build/", Index: 1}},
		{rel: "src/build", dir: true},
		{rel: "src/cache/f", ok: true, want: Decision{Excluded: true, Path: "src/cache", Rule: "cache", Index: 2}},
		{rel: "secrets/keep.tmp", ok: true, want: Decision{Excluded: true, Path: "secrets", Rule: "- secret*", Filter: true, Index: 1}},
		{rel: "."},
	} {
		got, ok := s.Decide(tc.rel, tc.dir)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Decide(%q) = %+v, %v; want %+v, %v", tc.rel, got, ok, tc.want, tc.ok)
		}
		if ok && got.Excluded != s.Excluded(tc.rel, tc.dir) || !ok && s.Excluded(tc.rel, tc.dir) {
			t.Errorf("Decide(%q) disagrees with Excluded", tc.rel)
		}
	}
}
