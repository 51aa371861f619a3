package delay

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/internal/change"
)

func rolled(p string) Item { return Item{Op: change.Modify, Path: p, IsDir: true, Recursive: true} }

func TestRollup(t *testing.T) {
	tests := []struct {
		name     string
		rollupAt int
		add      []Item
		want     []Item
		full     bool
	}{
		{"below threshold", 4, []Item{cr("a/b/c"), cr("a/b/d"), cr("a/e/f"), mo("g")},
			[]Item{cr("a/b/c"), cr("a/b/d"), cr("a/e/f"), mo("g")}, false},
		// 5 items > 4: level 2 leaves a/b, a/e, g = 3 > 2; level 1 leaves a, g.
		{"to top level", 4, []Item{cr("a/b/c"), cr("a/b/d"), cr("a/e/f"), mo("g"), cr("a/e/h")},
			[]Item{rolled("a"), mo("g")}, false},
		// Level 2 is small enough: x/1 and x/2 keep their own items.
		{"deepest level that fits", 6, []Item{cr("x/1"), cr("x/d/a/1"), cr("x/d/a/2"), cr("x/d/b/1"),
			cr("x/d/b/2"), cr("x/d/b/3"), cr("x/2")},
			[]Item{cr("x/1"), rolled("x/d"), cr("x/2")}, false},
		{"merges the directory's own item", 4, []Item{crd("a"), cr("a/b/c"), cr("a/b/d"), cr("a/e"), cr("a/f")},
			[]Item{{Op: change.Create, Path: "a", IsDir: true, Recursive: true}}, false},
		{"absorbs later items below", 4, []Item{cr("a/1"), cr("a/2"), cr("a/3"), cr("a/4"), cr("a/5"),
			de("a/6"), mv("a/1", "a/7"), mo("b")},
			[]Item{rolled("a"), mo("b")}, false},
		{"splits moves", 6, []Item{mv("m", "n"), cr("a/1"), cr("a/2"), cr("a/3"), cr("a/4"), cr("a/5"), cr("a/6")},
			[]Item{de("m"), rolled("a"), cr("n")}, false},
		{"move into rolled dir", 4, []Item{cr("a/1"), cr("a/2"), cr("a/3"), cr("a/4"), cr("a/5"), mvd("z", "a/z")},
			[]Item{rolled("a"), ded("z")}, false},
		{"too many top-level names", 4, []Item{cr("a"), cr("b"), cr("c"), cr("d"), cr("e")}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: epoch}
			c := New(Config{Delay: time.Hour, MaxDelays: 100, RollupAt: tt.rollupAt, Now: clk.Now})
			for _, it := range tt.add {
				c.Add(it)
				c.check(t)
				clk.advance(time.Second)
			}
			if diff := cmp.Diff(tt.want, c.queue()); diff != "" {
				t.Errorf("queue (-want +got):\n%s", diff)
			}
			if c.full != tt.full {
				t.Errorf("full sync queued = %v, want %v", c.full, tt.full)
			}
			// Rolled up: due at once.
			due, ok := c.Due()
			if rolledUp := len(tt.want) != len(tt.add); ok && rolledUp == due.After(clk.t) {
				t.Errorf("Due = %v at %v; rolled up: %v", due.Sub(epoch), clk.t.Sub(epoch), rolledUp)
			}
		})
	}
}

func TestRollupDisabled(t *testing.T) {
	c := New(Config{MaxDelays: 1 << 30, RollupAt: -1, Now: (&fakeClock{t: epoch}).Now})
	for i := range 3 * DefaultRollupAt {
		c.Add(cr(fmt.Sprintf("d/f%d", i)))
	}
	if c.Len() != 3*DefaultRollupAt {
		t.Fatalf("Len = %d, want %d", c.Len(), 3*DefaultRollupAt)
	}
}

func TestRollupKeptOverRetry(t *testing.T) {
	clk := &fakeClock{t: epoch}
	c := New(Config{MaxDelays: 100, RollupAt: 4, Now: clk.Now})
	c.Add(cr("x"))
	b, _ := c.Next()
	for i := range 5 {
		c.Add(cr(fmt.Sprintf("a/%d", i)))
	}
	c.Done(b.ID, []Item{mo("x")}, time.Time{})
	c.Add(cr("a/new"))
	c.check(t)
	if diff := cmp.Diff([]Item{mo("x"), rolled("a")}, c.queue()); diff != "" {
		t.Errorf("queue (-want +got):\n%s", diff)
	}
}

// millionEvents feeds n Create events on distinct files, 100 per
// directory in 10,000 directories below 100 top-level ones, to c.
func millionEvents(c *Collator, n int) {
	for i := range n {
		c.Add(Item{Op: change.Create, Path: fmt.Sprintf("top%02d/dir%04d/file%07d", i%100, (i/100)%10_000, i)})
	}
}

// TestRollupBoundsMemory queues a million events while a batch is in
// flight (nothing drains the queue) and checks that the heap stays within
// a generous bound; without the roll-up the queue alone takes hundreds of
// MB.
func TestRollupBoundsMemory(t *testing.T) {
	const n = 1_000_000
	const bound = 64 << 20
	clk := &fakeClock{t: epoch}
	c := New(Config{Now: clk.Now})
	c.Add(cr("first"))
	if _, ok := c.Next(); !ok {
		t.Fatal("no first batch")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	millionEvents(c, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	c.check(t)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d events: %d items queued, heap grew %d KiB", n, c.Len(), grown>>10)
	if c.Len() > DefaultRollupAt {
		t.Errorf("Len = %d, want <= %d", c.Len(), DefaultRollupAt)
	}
	if grown > bound {
		t.Errorf("heap grew by %d bytes for %d events, want < %d", grown, n, bound)
	}
	runtime.KeepAlive(c)
}

// BenchmarkRollupMillion measures queueing a million events with the
// default roll-up; it reports the heap held by the full queue per event.
func BenchmarkRollupMillion(b *testing.B) {
	const n = 1_000_000
	clk := &fakeClock{t: epoch}
	b.ReportAllocs()
	var held int64
	for b.Loop() {
		c := New(Config{Delay: time.Second, Now: clk.Now})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		millionEvents(c, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = int64(after.HeapAlloc) - int64(before.HeapAlloc)
		runtime.KeepAlive(c)
	}
	b.ReportMetric(float64(held), "heap-bytes")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()*float64(b.N), "events/s")
}
