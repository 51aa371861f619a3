package mirror

import (
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/transport"
)

// groupPaths renders groups as "op path" lists for comparison.
func groupPaths(groups [][]transport.Change) [][]string {
	out := make([][]string, len(groups))
	for i, g := range groups {
		for _, c := range g {
			s := c.Op.String() + " " + c.Path
			if c.Op == change.Move {
				s = "Move " + c.From + " " + c.Path
			}
			out[i] = append(out[i], s)
		}
	}
	return out
}

func ch(op change.Op, p string) transport.Change {
	return transport.Change{Op: op, Path: p, Recursive: op == change.Delete}
}

func mv(from, to string) transport.Change {
	return transport.Change{Op: change.Move, From: from, Path: to}
}

func TestSplitChanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		n       int
		changes []transport.Change
		want    [][]string
	}{
		{"one process keeps the batch", 1,
			[]transport.Change{ch(change.Create, "a/1"), ch(change.Create, "b/1")},
			[][]string{{"Create a/1", "Create b/1"}}},
		{"disjoint files spread", 2,
			[]transport.Change{ch(change.Create, "a/1"), ch(change.Create, "b/1"), ch(change.Create, "c/1")},
			[][]string{{"Create a/1", "Create c/1"}, {"Create b/1"}}},
		{"many files in one dir, no dir change: siblings are disjoint", 3,
			[]transport.Change{ch(change.Modify, "d/1"), ch(change.Modify, "d/2"), ch(change.Modify, "d/3"), ch(change.Modify, "d/4")},
			[][]string{{"Modify d/1", "Modify d/4"}, {"Modify d/2"}, {"Modify d/3"}}},
		{"a new dir takes its files along, in order", 4,
			[]transport.Change{ch(change.Create, "d"), ch(change.Create, "d/1"), ch(change.Create, "e/1"), ch(change.Create, "d/2")},
			[][]string{{"Create d", "Create d/1", "Create d/2"}, {"Create e/1"}}},
		{"nested dirs", 4,
			[]transport.Change{ch(change.Create, "a/b/c/f"), ch(change.Create, "x"), ch(change.Attrib, "a/b"), ch(change.Create, "a/bb/f")},
			[][]string{{"Create a/b/c/f", "Attrib a/b"}, {"Create x"}, {"Create a/bb/f"}}},
		{"delete of a dir covers its subtree", 4,
			[]transport.Change{ch(change.Modify, "top/x/deep/f"), ch(change.Delete, "top/x"), ch(change.Create, "top/y")},
			[][]string{{"Modify top/x/deep/f", "Delete top/x"}, {"Create top/y"}}},
		{"both ends of a rename count", 4,
			[]transport.Change{ch(change.Create, "a/f"), mv("a", "b"), ch(change.Modify, "b/g"), ch(change.Create, "c")},
			[][]string{{"Create a/f", "Move a b", "Modify b/g"}, {"Create c"}}},
		{"renames chain their groups", 4,
			[]transport.Change{mv("a", "b"), mv("c", "a/x"), ch(change.Create, "d"), mv("e/f", "c/g")},
			[][]string{{"Move a b", "Move c a/x", "Move e/f c/g"}, {"Create d"}}},
		{"the root overlaps everything", 4,
			[]transport.Change{ch(change.Create, "a"), {Op: change.Attrib, Path: change.Root, IsDir: true}, ch(change.Create, "b")},
			[][]string{{"Create a", "Attrib .", "Create b"}}},
		{"a name that extends another is not below it", 2,
			[]transport.Change{ch(change.Delete, "a"), ch(change.Create, "a-b"), ch(change.Create, "a.c/d")},
			[][]string{{"Delete a", "Create a.c/d"}, {"Create a-b"}}},
		{"a filter file counts as its directory", 2,
			[]transport.Change{ch(change.Modify, "d/.rsync-filter"), ch(change.Delete, "d/old"), ch(change.Create, "e")},
			[][]string{{"Modify d/.rsync-filter", "Delete d/old"}, {"Create e"}}},
	}
	mergeFile := func(p string) bool { return path.Base(p) == ".rsync-filter" }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := groupPaths(splitChanges(tt.changes, tt.n, mergeFile, nil))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSplitChangesDisjoint checks the rule on a large random-ish batch:
// every change lands in exactly one group, in batch order, and no path of
// one group overlaps a path of another.
func TestSplitChangesDisjoint(t *testing.T) {
	t.Parallel()
	var changes []transport.Change
	for i := range 600 {
		d := fmt.Sprintf("d%d", i%37)
		switch i % 7 {
		case 0:
			changes = append(changes, ch(change.Create, d))
		case 1:
			from := fmt.Sprintf("%s/f%d", d, i)
			if i%50 == 1 { // a few moves across directories join theirs
				from = fmt.Sprintf("d%d/f%d", i%11, i)
			}
			changes = append(changes, mv(from, fmt.Sprintf("%s/g%d", d, i)))
		case 2:
			changes = append(changes, ch(change.Delete, fmt.Sprintf("%s/s%d", d, i%5)))
		default:
			changes = append(changes, ch(change.Modify, fmt.Sprintf("%s/s%d/f%d", d, i%5, i)))
		}
	}
	seen := map[string]bool{} // a batch lists a path once (but for moves)
	changes = slices.DeleteFunc(changes, func(c transport.Change) bool {
		k := fmt.Sprint(c)
		defer func() { seen[k] = true }()
		return seen[k]
	})
	groups := splitChanges(changes, 4, nil, nil)
	if len(groups) < 2 {
		t.Fatalf("%d group(s), want several", len(groups))
	}
	pos := map[string]int{} // a change's position in the batch
	for i, c := range changes {
		pos[fmt.Sprint(c)] = i
	}
	n := 0
	for gi, g := range groups {
		last := -1
		for _, c := range g {
			n++
			if p := pos[fmt.Sprint(c)]; p <= last {
				t.Errorf("group %d: %v out of batch order", gi, c)
			} else {
				last = p
			}
			for gj, h := range groups {
				if gj == gi {
					continue
				}
				for _, d := range h {
					for _, a := range touched(c) {
						for _, b := range touched(d) {
							if a == b || strings.HasPrefix(b, a+"/") {
								t.Fatalf("group %d's %v overlaps group %d's %v", gi, c, gj, d)
							}
						}
					}
				}
			}
		}
	}
	if n != len(changes) {
		t.Errorf("%d changes in the groups, want %d", n, len(changes))
	}
}

func touched(c transport.Change) []string {
	if c.Op == change.Move {
		return []string{c.Path, c.From}
	}
	return []string{c.Path}
}

// TestSplitChangesLinked: the changes linked says so of (-H: those that
// may send a name of a multiply linked file) stay in one group, the
// first, whatever their paths; the others spread as before.
func TestSplitChangesLinked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		n       int
		changes []transport.Change
		linked  []string
		want    [][]string
	}{
		{"linked names in different dirs join", 3,
			[]transport.Change{ch(change.Create, "a/1"), ch(change.Create, "b/1"), ch(change.Create, "c/1"), ch(change.Create, "d/1")},
			[]string{"a/1", "d/1"},
			[][]string{{"Create a/1", "Create d/1"}, {"Create b/1"}, {"Create c/1"}}},
		{"the linked set takes the first group even when smaller", 2,
			[]transport.Change{ch(change.Create, "d"), ch(change.Create, "d/1"), ch(change.Create, "d/2"), ch(change.Create, "x"), ch(change.Create, "y")},
			[]string{"x", "y"},
			[][]string{{"Create x", "Create y"}, {"Create d", "Create d/1", "Create d/2"}}},
		{"a linked name joins what overlaps it", 3,
			[]transport.Change{ch(change.Create, "d"), ch(change.Create, "d/1"), ch(change.Create, "e/1"), ch(change.Create, "f")},
			[]string{"d/1", "f"},
			[][]string{{"Create d", "Create d/1", "Create f"}, {"Create e/1"}}},
		{"nothing linked", 2,
			[]transport.Change{ch(change.Create, "a"), ch(change.Create, "b")},
			nil,
			[][]string{{"Create a"}, {"Create b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			linked := func(c transport.Change) bool { return slices.Contains(tt.linked, c.Path) }
			got := groupPaths(splitChanges(tt.changes, tt.n, nil, linked))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHardLinkedChanges: with -H, the changes kept together are those of
// a regular file with several names at the source, and of subtrees (a
// recursive change, a moved directory); not a deletion, a single-name
// file, a symlink to a linked file, a directory alone, or a path gone.
func TestHardLinkedChanges(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	testutil.WriteRel(t, src, "one")
	testutil.WriteRel(t, src, "l1")
	testutil.WriteRel(t, src, "sub/x")
	if err := os.Link(filepath.Join(src, "l1"), filepath.Join(src, "sub", "l2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("l1", filepath.Join(src, "sym")); err != nil {
		t.Fatal(err)
	}
	m := &Mirror{src: src, log: slog.New(slog.DiscardHandler)}
	linked, done := m.hardLinked()
	defer done()
	for _, tt := range []struct {
		c    transport.Change
		want bool
	}{
		{ch(change.Create, "one"), false},
		{ch(change.Modify, "l1"), true},
		{ch(change.Create, "sub/l2"), true},
		{transport.Change{Op: change.Delete, Path: "l1"}, false},
		{ch(change.Create, "sym"), false},
		{transport.Change{Op: change.Create, Path: "sub", IsDir: true}, false},
		{transport.Change{Op: change.Modify, Path: "sub", IsDir: true, Recursive: true}, true},
		{transport.Change{Op: change.Move, From: "old", Path: "sub", IsDir: true}, true},
		{transport.Change{Op: change.Move, From: "old", Path: "one"}, false},
		{transport.Change{Op: change.Move, From: "old", Path: "l1"}, true},
		{ch(change.Create, "gone"), false},
	} {
		if got := linked(tt.c); got != tt.want {
			t.Errorf("%s %s: linked %v, want %v", tt.c.Op, tt.c.Path, got, tt.want)
		}
	}
}
