package mirror

import (
	"reflect"
	"testing"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/internal/change"
)

func TestHandoverTake(t *testing.T) {
	h := NewHandover()
	h.put("/s", false, []delay.Item{{Op: change.Modify, Path: "a"}, {Op: change.Modify, Path: "sub/b"}})
	h.put("/s", true, []delay.Item{{Op: change.Move, From: "sub/x", Path: "y"}})
	h.put("/other/inner", true, []delay.Item{{Op: change.Create, Path: "c"}})

	// A new root inside the old one takes what lies below it.
	full, items := h.take("/s/sub")
	want := []delay.Item{{Op: change.Modify, Path: "b"}, {Op: change.Delete, Path: "x", Recursive: true}}
	// The rest stays for the old root: the move's destination among it.
	if !full || !reflect.DeepEqual(items, want) {
		t.Errorf("take(/s/sub) = %t, %+v; want true, %+v", full, items, want)
	}
	// The same root takes the rest.
	full, items = h.take("/s")
	want = []delay.Item{{Op: change.Modify, Path: "a"}, {Op: change.Create, Path: "y"}}
	if full || !reflect.DeepEqual(items, want) {
		t.Errorf("take(/s) = %t, %+v; want false, %+v", full, items, want)
	}
	// A root above an old one: its full sync becomes a recursive sync.
	full, items = h.take("/other")
	want = []delay.Item{{Op: change.Modify, Path: "inner", IsDir: true, Recursive: true}, {Op: change.Create, Path: "inner/c"}}
	if full || !reflect.DeepEqual(items, want) {
		t.Errorf("take(/other) = %t, %+v; want false, %+v", full, items, want)
	}
	if full, items := h.take("/s"); full || len(items) != 0 {
		t.Errorf("taken twice: %t, %+v", full, items)
	}
	var none *Handover
	none.put("/s", true, nil)
	if full, items := none.take("/s"); full || items != nil {
		t.Error("a nil handover carried something")
	}
}
