package delay

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/internal/change"
)

// fakeClock is a settable clock for Config.Now.
type fakeClock struct{ t time.Time }

func (f *fakeClock) Now() time.Time          { return f.t }
func (f *fakeClock) set(d time.Duration)     { f.t = epoch.Add(d) }
func (f *fakeClock) advance(d time.Duration) { f.t = f.t.Add(d) }

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// queue returns the queued items in order (test helper).
func (c *Collator) queue() []Item {
	var out []Item
	for e := c.head; e != nil; e = e.next {
		out = append(out, e.it)
	}
	return out
}

// check verifies the collator's indexes against its queue.
func (c *Collator) check(t *testing.T) {
	t.Helper()
	n, plain, moves := 0, 0, 0
	var prev *entry
	for e := c.head; e != nil; e = e.next {
		if e.prev != prev {
			t.Fatalf("broken back link at %v", e.it)
		}
		prev = e
		n++
		if e.it.Op == change.Move {
			moves++
			if c.byDest[e.it.Path] != e {
				t.Fatalf("move %v not indexed by destination", e.it)
			}
			continue
		}
		plain++
		if c.byPath[e.it.Path] != e {
			t.Fatalf("item %v not indexed by path", e.it)
		}
	}
	if c.tail != prev || n != c.n {
		t.Fatalf("tail/len mismatch: n=%d counted %d", c.n, n)
	}
	if len(c.byPath) != plain || len(c.byDest) != moves {
		t.Fatalf("index sizes %d/%d, queue has %d plain and %d moves", len(c.byPath), len(c.byDest), plain, moves)
	}
}

// Shorthands for table rows.
func cr(p string) Item        { return Item{Op: change.Create, Path: p} }
func crd(p string) Item       { return Item{Op: change.Create, Path: p, IsDir: true} }
func crr(p string) Item       { return Item{Op: change.Create, Path: p, IsDir: true, Recursive: true} }
func mo(p string) Item        { return Item{Op: change.Modify, Path: p} }
func at(p string) Item        { return Item{Op: change.Attrib, Path: p} }
func atd(p string) Item       { return Item{Op: change.Attrib, Path: p, IsDir: true} }
func de(p string) Item        { return Item{Op: change.Delete, Path: p, Recursive: true} }
func mor(p string) Item       { return Item{Op: change.Modify, Path: p, Recursive: true} }
func ded(p string) Item       { return Item{Op: change.Delete, Path: p, IsDir: true, Recursive: true} }
func mv(from, to string) Item { return Item{Op: change.Move, From: from, Path: to} }
func mvd(from, to string) Item {
	return Item{Op: change.Move, From: from, Path: to, IsDir: true}
}

// Pseudo-steps for table rows besides Items.
const (
	stepNext = "next" // take a batch into flight
	stepDone = "done" // end it successfully
	stepFull = "full" // AddFull
)

func TestCollapseRules(t *testing.T) {
	// A Delete of a directory added as input (not yet Recursive).
	deIn := func(p string) Item { return Item{Op: change.Delete, Path: p, IsDir: true} }
	tests := []struct {
		name  string
		steps []any
		want  []Item
	}{
		// Same path, Attrib first.
		{"attrib+attrib", []any{at("f"), at("f")}, []Item{at("f")}},
		{"attrib+modify", []any{at("f"), mo("f")}, []Item{mo("f")}},
		{"attrib+create", []any{at("f"), cr("f")}, []Item{cr("f")}},
		{"attrib+delete", []any{at("f"), de("f")}, []Item{de("f")}},
		// Modify first.
		{"modify+attrib", []any{mo("f"), at("f")}, []Item{mo("f")}},
		{"modify+modify", []any{mo("f"), mo("f")}, []Item{mo("f")}},
		{"modify+create", []any{mo("f"), cr("f")}, []Item{cr("f")}},
		{"modify+delete", []any{mo("f"), de("f")}, []Item{de("f")}},
		// Create first.
		{"create+attrib", []any{cr("f"), at("f")}, []Item{cr("f")}},
		{"create+modify", []any{cr("f"), mo("f")}, []Item{cr("f")}},
		{"create+create", []any{cr("f"), cr("f")}, []Item{cr("f")}},
		// Safety fix: not "nothing", the target may hold the path already.
		{"create+delete", []any{cr("f"), de("f")}, []Item{de("f")}},
		{"create dir+delete dir", []any{crd("d"), deIn("d")}, []Item{ded("d")}},
		// Delete first.
		{"delete+create file", []any{de("f"), cr("f")}, []Item{mor("f")}},
		{"delete+create dir", []any{de("d"), crd("d")}, []Item{crr("d")}},
		{"delete dir+create file", []any{deIn("d"), cr("d")}, []Item{mor("d")}},
		{"delete+modify", []any{de("f"), mo("f")}, []Item{mor("f")}},
		{"delete+attrib", []any{de("f"), at("f")}, []Item{mor("f")}},
		{"delete+delete", []any{de("f"), de("f")}, []Item{de("f")}},
		// IsDir from the newer item, Recursive ORed.
		{"isdir from newer", []any{cr("x"), crd("x")}, []Item{crd("x")}},
		{"recursive ored", []any{crr("d"), atd("d")}, []Item{crr("d")}},
		{"recursive ored into modify", []any{Item{Op: change.Modify, Path: "d", IsDir: true, Recursive: true}, mo("d")},
			[]Item{{Op: change.Modify, Path: "d", Recursive: true}}},
		// The merged item keeps the old item's slot.
		{"keeps slot", []any{at("x"), mo("y"), cr("x")}, []Item{cr("x"), mo("y")}},
		{"distinct paths", []any{cr("a"), cr("b"), mo("a/b")}, []Item{cr("a"), cr("b"), mo("a/b")}},
		// Directory deletes.
		{"dir delete is recursive", []any{deIn("d")}, []Item{ded("d")}},
		{"dir delete drops below", []any{cr("d/x"), mo("d/y/z"), cr("dx"), mo("e"), deIn("d")},
			[]Item{cr("dx"), mo("e"), ded("d")}},
		{"dir delete merges and drops", []any{crd("d"), cr("d/x"), deIn("d")}, []Item{ded("d")}},
		{"dir delete keeps moves below", []any{mv("d/a", "e"), deIn("d")}, []Item{mv("d/a", "e"), ded("d")}},
		{"file delete keeps below", []any{cr("d/x"), de("d")}, []Item{cr("d/x"), de("d")}},
		// New move against queued non-moves: split.
		{"move plain", []any{mv("a", "b")}, []Item{mv("a", "b")}},
		{"move vs from", []any{mo("a"), mv("a", "b")}, []Item{de("a"), cr("b")}},
		{"move vs path", []any{mo("b"), mv("a", "b")}, []Item{cr("b"), de("a")}},
		{"move vs ancestor of from", []any{atd("d"), mv("d/x", "y")}, []Item{atd("d"), de("d/x"), cr("y")}},
		{"move vs below from", []any{mo("d/x"), mvd("d", "e")}, []Item{ded("d"), crr("e")}},
		{"move vs ancestor of path", []any{crd("n"), mv("x", "n/y")}, []Item{crd("n"), de("x"), cr("n/y")}},
		{"move vs below path", []any{mo("e/z"), mvd("d", "e")}, []Item{mo("e/z"), ded("d"), crr("e")}},
		{"move components not prefixes", []any{mo("ab"), mo("a/bc"), mv("a/b", "c")},
			[]Item{mo("ab"), mo("a/bc"), mv("a/b", "c")}},
		// New move against queued moves: split.
		{"move vs move from", []any{mv("a", "b"), mv("a", "c")}, []Item{mv("a", "b"), de("a"), cr("c")}},
		{"move chain", []any{mv("a", "b"), mv("b", "c")}, []Item{de("a"), de("b"), cr("c")}},
		{"move onto moved source", []any{mv("a", "b"), mv("c", "a")}, []Item{mv("a", "b"), de("c"), cr("a")}},
		{"move same destination", []any{mv("a", "b"), mv("c", "b")}, []Item{de("a"), de("c"), cr("b")}},
		{"move vs move below", []any{mv("d/x", "y"), mvd("d", "e")}, []Item{mv("d/x", "y"), ded("d"), crr("e")}},
		{"move vs move into dest", []any{mvd("a", "b"), mv("b/x", "c")}, []Item{mvd("a", "b"), de("b/x"), cr("c")}},
		{"move vs move unrelated", []any{mv("a", "b"), mv("c", "d"), mv("ab", "bc")},
			[]Item{mv("a", "b"), mv("c", "d"), mv("ab", "bc")}},
		// New non-move against queued moves.
		{"create on move dest", []any{mv("a", "b"), cr("b")}, []Item{de("a"), cr("b")}},
		{"delete on move dest", []any{mv("a", "b"), de("b")}, []Item{de("a"), de("b")}},
		{"dir delete on move dest", []any{mvd("a", "b"), deIn("b")}, []Item{ded("a"), ded("b")}},
		{"modify on move dest", []any{mv("a", "b"), mo("b")}, []Item{mv("a", "b"), mo("b")}},
		{"attrib on move dest", []any{mv("a", "b"), at("b")}, []Item{mv("a", "b"), at("b")}},
		{"create on move source", []any{mv("a", "b"), cr("a")}, []Item{mv("a", "b"), cr("a")}},
		{"create below move dest", []any{mvd("a", "b"), cr("b/x")}, []Item{mvd("a", "b"), cr("b/x")}},
		{"degrade merges source item", []any{mvd("a", "b"), crd("a"), cr("a/x"), deIn("b")},
			[]Item{crr("a"), cr("a/x"), ded("b")}},
		{"degrade drops below source", []any{mvd("a", "b"), cr("a/x"), deIn("b")}, []Item{ded("a"), ded("b")}},
		{"degrade then merge dest", []any{mv("a", "b"), mo("b"), de("b")}, []Item{de("a"), de("b")}},
		// Moves against the in-flight batch (safety fix).
		{"move vs in-flight", []any{mo("d/x"), stepNext, mvd("d", "e")}, []Item{ded("d"), crr("e")}},
		{"move vs in-flight move", []any{mv("a", "b"), stepNext, mv("b", "c")}, []Item{de("b"), cr("c")}},
		{"move after done", []any{mo("d/x"), stepNext, stepDone, mvd("d", "e")}, []Item{mvd("d", "e")}},
		{"move vs in-flight full", []any{stepFull, stepNext, mv("a", "b")}, []Item{de("a"), cr("b")}},
		{"move behind queued full", []any{stepFull, mv("a", "b")}, []Item{de("a"), cr("b")}},
		{"no merge with in-flight", []any{cr("f"), stepNext, de("f")}, []Item{de("f")}},
		// Full sync.
		{"full drops queued", []any{crr("a"), de("b"), at("c"), mvd("d", "e"), stepFull}, nil},
		// The full sync's quick check may miss a same-size same-mtime
		// rewrite: file content changes stay queued, as Modify.
		{"full keeps file content", []any{cr("a"), mv("b", "c"), mo("f"), at("g"), stepFull}, []Item{mo("a"), mo("c"), mo("f")}},
		{"full then adds", []any{crr("a"), stepFull, mo("b")}, []Item{mo("b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: epoch}
			c := New(Config{Delay: 0, Now: clk.Now})
			var id uint64
			for _, s := range tt.steps {
				switch s := s.(type) {
				case Item:
					c.Add(s)
				case string:
					switch s {
					case stepNext:
						b, ok := c.Next()
						if !ok {
							t.Fatal("Next: nothing due")
						}
						id = b.ID
					case stepDone:
						c.Done(id, nil, time.Time{})
					case stepFull:
						c.AddFull()
					}
				}
				c.check(t)
			}
			if diff := cmp.Diff(tt.want, c.queue()); diff != "" {
				t.Errorf("queue (-want +got):\n%s", diff)
			}
			if c.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d", c.Len(), len(tt.want))
			}
		})
	}
}

func TestAddBadOpPanics(t *testing.T) {
	c := New(Config{})
	defer func() {
		if recover() == nil {
			t.Fatal("Add of Op 0 did not panic")
		}
	}()
	c.Add(Item{Path: "x"})
}

// names returns the paths of a batch.
func names(b Batch) string {
	if b.Full {
		return "FULL"
	}
	var s []string
	for _, it := range b.Items {
		s = append(s, it.Path)
	}
	return strings.Join(s, ",")
}

// expectNone asserts that Next hands out nothing.
func expectNone(t *testing.T, c *Collator) {
	t.Helper()
	if b, ok := c.Next(); ok {
		t.Fatalf("Next = %s, want nothing", names(b))
	}
}

// expectBatch asserts that Next hands out a batch with these paths.
func expectBatch(t *testing.T, c *Collator, want string) Batch {
	t.Helper()
	b, ok := c.Next()
	if !ok {
		t.Fatalf("Next = nothing, want %s", want)
	}
	if got := names(b); got != want {
		t.Fatalf("Next = %s, want %s", got, want)
	}
	return b
}

func expectDue(t *testing.T, c *Collator, want time.Duration) {
	t.Helper()
	got, ok := c.Due()
	if !ok {
		t.Fatalf("Due = none, want %v", want)
	}
	if !got.Equal(epoch.Add(want)) {
		t.Fatalf("Due = %v, want %v", got.Sub(epoch), want)
	}
}

func expectNoDue(t *testing.T, c *Collator) {
	t.Helper()
	if got, ok := c.Due(); ok {
		t.Fatalf("Due = %v, want none", got.Sub(epoch))
	}
}

func TestDelaySemantics(t *testing.T) {
	// lsyncd: delay 3, a at 0, b at 2 -> one batch at 3 with both; c at 3.5
	// -> its own batch at 6.5.
	clk := &fakeClock{t: epoch}
	c := New(Config{Delay: sec(3), Now: clk.Now})
	expectNoDue(t, c)
	c.Add(cr("a"))
	clk.set(sec(2))
	c.Add(cr("b"))
	expectDue(t, c, sec(3))
	clk.set(sec(2.999))
	expectNone(t, c)
	clk.set(sec(3))
	b := expectBatch(t, c, "a,b")
	if !c.InFlight() || c.Len() != 0 {
		t.Fatalf("InFlight=%v Len=%d after Next", c.InFlight(), c.Len())
	}
	clk.set(sec(3.5))
	c.Add(cr("c"))
	expectNoDue(t, c) // in flight
	clk.set(sec(7))
	expectNone(t, c) // in flight, although c is due
	c.Done(b.ID, nil, time.Time{})
	expectDue(t, c, sec(6.5))
	b2 := expectBatch(t, c, "c")
	if b2.ID <= b.ID {
		t.Fatalf("batch IDs %d then %d", b.ID, b2.ID)
	}
}

func TestMergeKeepsEarliestDue(t *testing.T) {
	clk := &fakeClock{t: epoch}
	c := New(Config{Delay: sec(10), Now: clk.Now})
	c.Add(at("a"))
	clk.set(sec(1))
	c.Add(mo("b"))
	clk.set(sec(5))
	c.Add(cr("a")) // replaces the Attrib in its slot, due stays 10
	expectDue(t, c, sec(10))
	clk.set(sec(10))
	expectBatch(t, c, "a,b")
}

func TestMaxDelays(t *testing.T) {
	clk := &fakeClock{t: epoch}
	c := New(Config{Delay: time.Hour, MaxDelays: 3, Now: clk.Now})
	c.Add(cr("a"))
	c.Add(mo("a")) // merged: still one item
	c.Add(cr("b"))
	expectNone(t, c)
	expectDue(t, c, time.Hour)
	clk.set(sec(1))
	c.Add(cr("c"))
	expectDue(t, c, sec(1))
	expectBatch(t, c, "a,b,c")

	// Default 1000.
	c = New(Config{Delay: time.Hour, Now: clk.Now})
	for i := range 999 {
		c.Add(cr(strings.Repeat("x", i+1)))
	}
	expectNone(t, c)
	c.Add(cr("y"))
	if b, ok := c.Next(); !ok || len(b.Items) != 1000 {
		t.Fatalf("Next with 1000 queued: ok=%v len=%d", ok, len(b.Items))
	}
}

func TestOneBatchInFlight(t *testing.T) {
	clk := &fakeClock{t: epoch}
	c := New(Config{Delay: 0, Now: clk.Now})
	c.Add(cr("a"))
	b := expectBatch(t, c, "a")
	c.Add(cr("b"))
	for range 3 {
		clk.advance(time.Hour)
		expectNone(t, c)
	}
	c.Done(b.ID, nil, time.Time{})
	expectBatch(t, c, "b")
}

func TestDoneRetry(t *testing.T) {
	clk := &fakeClock{t: epoch}
	c := New(Config{Delay: sec(1), Now: clk.Now})
	c.Add(cr("a"))
	c.Add(cr("b"))
	clk.set(sec(1))
	b := expectBatch(t, c, "a,b")
	c.Add(cr("c"))
	c.Add(mo("a")) // queued while a is in flight: not merged with it
	clk.set(sec(3))
	c.Done(b.ID, b.Items, epoch.Add(sec(8)))
	// Retry items in front, the queued Modify a merged into the retried Create a.
	if diff := cmp.Diff([]Item{cr("a"), cr("b"), cr("c")}, c.queue()); diff != "" {
		t.Fatalf("queue after Done (-want +got):\n%s", diff)
	}
	expectDue(t, c, sec(8))
	clk.set(sec(7.9))
	expectNone(t, c)
	clk.set(sec(8))
	b = expectBatch(t, c, "a,b,c")

	// notBefore without retry items still holds back the next batch.
	c.Add(cr("d"))
	clk.set(sec(20))
	c.Done(b.ID, nil, epoch.Add(sec(25)))
	expectDue(t, c, sec(25))
	expectNone(t, c)
	clk.set(sec(25))
	b = expectBatch(t, c, "d")

	// A retried move is split: the failed batch may have renamed it and
	// synced a new m after it.
	c.Done(b.ID, nil, time.Time{})
	c.Add(mvd("m", "n"))
	clk.set(sec(30))
	b = expectBatch(t, c, "n")
	c.Add(mo("m/x"))
	c.Done(b.ID, b.Items, time.Time{})
	if diff := cmp.Diff([]Item{ded("m"), crr("n"), mo("m/x")}, c.queue()); diff != "" {
		t.Fatalf("queue after retried move (-want +got):\n%s", diff)
	}
}

func TestDoneWrongIDPanics(t *testing.T) {
	c := New(Config{})
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("Done with nothing in flight", func() { c.Done(1, nil, time.Time{}) })
	c.Add(cr("a"))
	b, ok := c.Next()
	if !ok {
		t.Fatal("nothing due with Delay 0")
	}
	mustPanic("Done with a wrong id", func() { c.Done(b.ID+1, nil, time.Time{}) })
	c.Done(b.ID, nil, time.Time{})
	mustPanic("Done twice", func() { c.Done(b.ID, nil, time.Time{}) })
}

func TestAddFull(t *testing.T) {
	clk := &fakeClock{t: epoch}
	c := New(Config{Delay: sec(10), Now: clk.Now})
	c.Add(crr("a"))
	c.Add(mvd("b", "c"))
	c.AddFull()
	if c.Len() != 0 {
		t.Fatalf("Len after AddFull = %d", c.Len())
	}
	clk.set(sec(1))
	c.Add(de("d"))
	c.Add(mo("k")) // kept behind the full sync, due at 11
	c.AddFull()    // drops d, still one full sync
	clk.set(sec(2))
	c.Add(cr("e"))
	expectDue(t, c, 0)
	f := expectBatch(t, c, "FULL") // at once, no delay
	expectNone(t, c)
	clk.set(sec(5))
	c.Done(f.ID, nil, time.Time{})
	expectDue(t, c, sec(11))
	expectNone(t, c)
	clk.set(sec(12))
	b := expectBatch(t, c, "k,e")

	// A full sync asked for while a batch is in flight goes next; the
	// batch's retry items are covered by it and dropped, but for file
	// content changes.
	c.Add(crd("g"))
	c.AddFull()
	c.Add(cr("h"))
	c.Done(b.ID, append(b.Items, de("x")), epoch.Add(sec(13)))
	if diff := cmp.Diff([]Item{mo("k"), mo("e"), cr("h")}, c.queue()); diff != "" {
		t.Fatalf("queue (-want +got):\n%s", diff)
	}
	expectDue(t, c, sec(13)) // the full sync respects notBefore
	expectNone(t, c)
	clk.set(sec(13))
	f = expectBatch(t, c, "FULL")

	// A failed full sync is retried by AddFull after Done.
	c.Done(f.ID, nil, epoch.Add(sec(20)))
	c.AddFull()
	clk.set(sec(19))
	expectNone(t, c)
	clk.set(sec(20))
	expectBatch(t, c, "FULL")
}

func TestDelayZero(t *testing.T) {
	clk := &fakeClock{t: epoch}
	c := New(Config{Now: clk.Now})
	c.Add(cr("a"))
	expectDue(t, c, 0)
	b := expectBatch(t, c, "a")
	c.Add(cr("b"))
	c.Add(cr("c"))
	c.Done(b.ID, nil, time.Time{})
	expectBatch(t, c, "b,c")
}

// TestMoveGuard: a move that overlaps a batch that ended within MoveGuard
// is split (the watcher may have delivered it late, after the batch read
// the source); later moves stay renames.
func TestMoveGuard(t *testing.T) {
	clk := &fakeClock{t: epoch}
	c := New(Config{Now: clk.Now, MoveGuard: 500 * time.Millisecond})
	c.Add(Item{Op: change.Modify, Path: "d/x"})
	b, ok := c.Next()
	if !ok {
		t.Fatal("no batch")
	}
	c.Done(b.ID, nil, time.Time{})

	clk.advance(100 * time.Millisecond)
	c.Add(Item{Op: change.Move, From: "d", Path: "e", IsDir: true}) // overlaps d/x
	c.Add(Item{Op: change.Move, From: "f", Path: "g"})              // unrelated
	b, _ = c.Next()
	want := []Item{
		{Op: change.Delete, Path: "d", IsDir: true, Recursive: true},
		{Op: change.Create, Path: "e", IsDir: true, Recursive: true},
		{Op: change.Move, From: "f", Path: "g"},
	}
	if len(b.Items) != len(want) {
		t.Fatalf("batch %v, want %v", b.Items, want)
	}
	for i := range want {
		if b.Items[i] != want[i] {
			t.Errorf("item %d = %v, want %v", i, b.Items[i], want[i])
		}
	}
	c.Done(b.ID, nil, time.Time{})

	// Past the guard the same move is a rename again.
	clk.advance(time.Second)
	c.Add(Item{Op: change.Move, From: "e", Path: "d", IsDir: true})
	b, _ = c.Next()
	if len(b.Items) != 1 || b.Items[0].Op != change.Move {
		t.Errorf("after the guard: batch %v, want one Move", b.Items)
	}
}

func TestWaiting(t *testing.T) {
	c := New(Config{Delay: time.Hour})
	c.Add(Item{Op: change.Create, Path: "a"})
	c.Add(Item{Op: change.Modify, Path: "a"}) // merges into Create a
	c.Add(Item{Op: change.Delete, Path: "b"})
	c.Add(Item{Op: change.Attrib, Path: "c"})
	got := c.Waiting(2)
	if len(got) != 2 || got[0] != (Item{Op: change.Create, Path: "a"}) || got[1].Op != change.Delete || got[1].Path != "b" {
		t.Errorf("Waiting(2) = %v, want [Create a, Delete b]", got)
	}
	if n := len(c.Waiting(10)); n != 3 || c.Len() != 3 {
		t.Errorf("Waiting(10) has %d items, Len %d; want 3 and 3", n, c.Len())
	}
}
