package delay

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestPathSet compares pathSet with a naive list of members.
func TestPathSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "ab"}
	randPath := func() string {
		parts := make([]string, 1+rng.IntN(4))
		for i := range parts {
			parts[i] = names[rng.IntN(len(names))]
		}
		return strings.Join(parts, "/")
	}
	s := newPathSet()
	var naive []string
	for i := range 20000 {
		p := randPath()
		if rng.IntN(2) == 0 && len(naive) > 0 {
			j := rng.IntN(len(naive))
			s.remove(naive[j])
			naive = slices.Delete(naive, j, j+1)
		} else {
			s.add(p)
			naive = append(naive, p)
		}
		q := randPath()
		want := false
		var below []string
		for _, m := range naive {
			if m == q || isBelow(q, m) || isBelow(m, q) {
				want = true
			}
			if isBelow(m, q) && !slices.Contains(below, m) {
				below = append(below, m)
			}
		}
		if got := s.overlaps(q); got != want {
			t.Fatalf("step %d: overlaps(%q) = %v, want %v; members %v", i, q, got, want, naive)
		}
		got := s.below(q)
		slices.Sort(got)
		slices.Sort(below)
		if !slices.Equal(got, below) {
			t.Fatalf("step %d: below(%q) = %v, want %v", i, q, got, below)
		}
	}
	for _, m := range naive {
		s.remove(m)
	}
	if len(s.nodes) != 0 {
		t.Fatalf("%d nodes left after removing every member", len(s.nodes))
	}
}
