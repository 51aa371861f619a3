package mirror

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
)

func TestMountsBelow(t *testing.T) {
	info := `22 1 0:21 / / rw - ext4 /dev/sda1 rw
45 22 0:40 / /srv/src/cache rw - tmpfs none rw
46 22 0:41 / /srv/src/with\040space rw - tmpfs none rw
47 22 0:42 / /srv/src rw - ext4 /dev/sdb1 rw
48 22 0:43 / /srv/srcother rw - tmpfs none rw
49 45 0:44 / /srv/src/cache/deep rw - tmpfs none rw
`
	got, err := mountsBelow(strings.NewReader(info), "/srv/src")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cache", "cache/deep", "with space"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mountsBelow = %q, want %q", got, want)
	}
}

// TestNestedMountsVanished: a mount point that is missing or shows
// another device is vanished.
func TestNestedMountsVanished(t *testing.T) {
	devs := map[string]uint64{"/s/a": 7, "/s/b": 8, "/s/c": 9}
	n := &nestedMounts{src: "/s", points: map[string]uint64{"a": 7, "b": 8, "c": 9}, devOf: func(p string) (uint64, error) {
		d, ok := devs[p]
		if !ok {
			return 0, fmt.Errorf("stat %s: gone", p)
		}
		return d, nil
	}}
	if v := n.vanished(); len(v) != 0 {
		t.Fatalf("vanished = %q with every mount in place", v)
	}
	devs["/s/b"] = 1 // unmounted: the directory below shows the parent's device
	delete(devs, "/s/c")
	if v := n.vanished(); !reflect.DeepEqual(v, []string{"b", "c"}) {
		t.Errorf("vanished = %q, want [b c]", v)
	}
	var none *nestedMounts
	if v := none.vanished(); v != nil {
		t.Errorf("nil nestedMounts: vanished = %q", v)
	}
}

func TestHoldAcrossMounts(t *testing.T) {
	changes := []transport.Change{
		{Op: change.Delete, Path: "m/sub/f"},                           // inside: held
		{Op: change.Delete, Path: "m", IsDir: true},                    // the mount point: held
		{Op: change.Delete, Path: "top", IsDir: true},                  // above: held
		{Op: change.Modify, Path: "top", IsDir: true, Recursive: true}, // above: narrowed
		{Op: change.Modify, Path: "other/f"},                           // unrelated: kept
		{Op: change.Delete, Path: "other/g"},                           // unrelated: kept
		{Op: change.Move, From: "top/m2/x", Path: "other/x"},           // from inside: held
	}
	kept, held := holdAcrossMounts(changes, []string{"m", "top/m2"})
	want := []transport.Change{
		{Op: change.Modify, Path: "top", IsDir: true},
		{Op: change.Modify, Path: "other/f"},
		{Op: change.Delete, Path: "other/g"},
	}
	if !reflect.DeepEqual(kept, want) {
		t.Errorf("kept = %+v\nwant %+v", kept, want)
	}
	if len(held) != 5 {
		t.Errorf("held = %q, want 5 paths", held)
	}
}

func TestMountExcludes(t *testing.T) {
	pats, skipped := mountExcludes([]string{"cache", "a b/c", "odd[1]"})
	if !reflect.DeepEqual(pats, []string{"/cache/*", "/a b/c/*"}) || !reflect.DeepEqual(skipped, []string{"odd[1]"}) {
		t.Errorf("mountExcludes = %q, %q", pats, skipped)
	}
}
