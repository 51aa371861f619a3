package delay

import (
	"fmt"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/change"
)

// BenchmarkAddDistinct measures a burst of 100,000 Adds on distinct paths
// (one op = the whole burst) followed by taking them as one batch.
func BenchmarkAddDistinct(b *testing.B) {
	const n = 100_000
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("dir%03d/sub%02d/file%06d", i%500, i%37, i)
	}
	now := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		c := New(Config{Delay: time.Second, MaxDelays: 1 << 30, RollupAt: -1, Now: func() time.Time { return now }})
		for _, p := range paths {
			c.Add(Item{Op: change.Create, Path: p})
		}
		if c.Len() != n {
			b.Fatalf("Len = %d", c.Len())
		}
	}
}

// BenchmarkAddSamePath measures repeated events on one file.
func BenchmarkAddSamePath(b *testing.B) {
	now := time.Unix(0, 0)
	c := New(Config{Delay: time.Second, Now: func() time.Time { return now }})
	ops := []change.Op{change.Modify, change.Attrib, change.Modify, change.Create}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Add(Item{Op: ops[i%len(ops)], Path: "some/dir/file.txt"})
		i++
	}
	if c.Len() != 1 {
		b.Fatalf("Len = %d", c.Len())
	}
}

// BenchmarkDeleteTree measures rm -rf of a 100,000-entry tree: every entry's
// Delete, children first, each directory Delete dropping what is below it.
func BenchmarkDeleteTree(b *testing.B) {
	type ev struct {
		p   string
		dir bool
	}
	var evs []ev
	for d := range 1000 {
		dir := fmt.Sprintf("top/d%04d", d)
		for f := range 99 {
			evs = append(evs, ev{fmt.Sprintf("%s/f%02d", dir, f), false})
		}
		evs = append(evs, ev{dir, true})
	}
	evs = append(evs, ev{"top", true})
	now := time.Unix(0, 0)
	b.ReportAllocs()
	for b.Loop() {
		c := New(Config{Delay: time.Second, MaxDelays: 1 << 30, RollupAt: -1, Now: func() time.Time { return now }})
		for _, e := range evs {
			c.Add(Item{Op: change.Delete, Path: e.p, IsDir: e.dir})
		}
		if c.Len() != 1 {
			b.Fatalf("Len = %d", c.Len())
		}
	}
}
