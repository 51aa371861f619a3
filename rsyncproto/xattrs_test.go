package rsyncproto

import (
	"bytes"
	"crypto/md5"
	"errors"
	"strings"
	"testing"
)

// sampleXattrs is a sorted set: short, exactly maxFullDatum, and long
// values (items 2, 4 and 5 are abbreviated).
func sampleXattrs() xattrSet {
	s := xattrSet{
		newXattr("user.a", []byte("short")),
		newXattr("user.b", bytes.Repeat([]byte{'b'}, maxFullDatum+1)),
		newXattr("user.c", bytes.Repeat([]byte{'c'}, maxFullDatum)),
		newXattr("user.d", bytes.Repeat([]byte{'d'}, 4000)),
		newXattr("user.e", bytes.Repeat([]byte{'e'}, 100)),
	}
	sortXattrs(s)
	return s
}

func TestXattrSkipped(t *testing.T) {
	for name, skip := range map[string]bool{
		"system.posix_acl_access": true, "system.foo": true, "user.rsync.%stat": true, "user.rsync.%aacl": true,
		"user.rsync.x": false, "user.rsync.": false, "user.x": false, "trusted.x": false, "security.selinux": false,
	} {
		if xattrSkipped(name) != skip {
			t.Errorf("%s: skipped %v, want %v", name, !skip, skip)
		}
	}
}

// TestXattrEncoder checks xattrs.c:send_xattr's bytes and its cache: an
// equal set is sent as its index + 1 and shares the sent set's states.
func TestXattrEncoder(t *testing.T) {
	enc := newXattrEncoder()
	s := sampleXattrs()
	got, sent := enc.appendSet(nil, s)
	want := []byte{0, 5}
	for _, c := range []struct {
		name  string
		value []byte
	}{{"user.a", []byte("short")}, {"user.b", bytes.Repeat([]byte{'b'}, 33)}, {"user.c", bytes.Repeat([]byte{'c'}, 32)},
		{"user.d", bytes.Repeat([]byte{'d'}, 4000)}, {"user.e", bytes.Repeat([]byte{'e'}, 100)}} {
		want = appendVarint(want, int32(len(c.name)+1))
		want = appendVarint(want, int32(len(c.value)))
		want = append(append(want, c.name...), 0)
		if len(c.value) > maxFullDatum {
			sum := md5.Sum(c.value)
			want = append(want, sum[:]...)
		} else {
			want = append(want, c.value...)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("literal set\n% x\nwant\n% x", got, want)
	}
	got, shared := enc.appendSet(nil, sampleXattrs())
	if !bytes.Equal(got, []byte{1}) {
		t.Errorf("repeated set % x, want 01", got)
	}
	shared[1].state = xstateDone
	if sent[1].state != xstateDone {
		t.Error("an entry with an equal set does not share the sent set")
	}
	other := sampleXattrs()
	other[3] = newXattr("user.d", bytes.Repeat([]byte{'D'}, 4000)) // same length, other checksum
	if got, _ := enc.appendSet(nil, other); got[0] != 0 {
		t.Errorf("a set differing in a long value was sent as index %d", got[0])
	}
	if got, _ := enc.appendSet(nil, nil); !bytes.Equal(got, []byte{0, 0}) {
		t.Errorf("empty set % x, want 00 00", got)
	}
	if got, _ := enc.appendSet(nil, xattrSet{}); !bytes.Equal(got, []byte{3}) {
		t.Errorf("second empty set % x, want 03", got)
	}
}

func request(nums ...int32) []byte {
	var b []byte
	for _, n := range nums {
		b = appendVarint(b, n)
	}
	return append(b, 0)
}

func TestXattrRequest(t *testing.T) {
	s := sampleXattrs()
	if err := readXattrRequest(&wireReader{r: bytes.NewReader(request(2, 2))}, s); err != nil {
		t.Fatal(err)
	}
	for i, x := range s {
		if want := map[int]uint8{1: xstateTodo, 3: xstateTodo, 4: xstateAbbrev}[i]; x.state != want {
			t.Errorf("item %d state %d, want %d", i+1, x.state, want)
		}
	}
	values := map[string][]byte{"user.b": []byte("B now"), "user.d": bytes.Repeat([]byte{'x'}, 3000)}
	reply, errs := appendXattrReply(nil, s, func(name string) ([]byte, error) { return values[name], nil })
	want := []byte{2, 5}
	want = append(want, "B now"...)
	want = appendVarint(want, 2)
	want = appendVarint(want, 3000)
	want = append(append(want, values["user.d"]...), 0)
	if len(errs) != 0 || !bytes.Equal(reply, want) {
		t.Errorf("reply % x (%v), want % x", reply, errs, want)
	}
	if s[1].state != xstateDone || s[3].state != xstateDone {
		t.Error("sent values not marked done")
	}
	// Asked again: the receiver has them.
	if err := readXattrRequest(&wireReader{r: bytes.NewReader(request(2))}, s); !errors.Is(err, errProtocol) {
		t.Errorf("a value asked for twice: %v", err)
	}
	// A value that cannot be read again goes out empty, with an error.
	s = sampleXattrs()
	mustReadRequest(t, s, request(5))
	reply, errs = appendXattrReply(nil, s, func(string) ([]byte, error) { return nil, errors.New("gone") })
	if len(errs) != 1 || !bytes.Equal(reply, []byte{5, 0, 0}) {
		t.Errorf("failed re-read: reply % x errs %v", reply, errs)
	}
}

func mustReadRequest(t *testing.T, s xattrSet, b []byte) {
	t.Helper()
	if err := readXattrRequest(&wireReader{r: bytes.NewReader(b)}, s); err != nil {
		t.Fatal(err)
	}
}

// TestXattrRequestHostile: numbers out of range, of values that were not
// abbreviated, overflowing sums, an empty set and a truncated request are
// refused.
func TestXattrRequestHostile(t *testing.T) {
	for name, c := range map[string]struct {
		set xattrSet
		b   []byte
	}{
		"zero item":       {sampleXattrs(), request(-1)},
		"negative":        {sampleXattrs(), request(2, -5)},
		"beyond the set":  {sampleXattrs(), request(6)},
		"short value":     {sampleXattrs(), request(1)},
		"exactly 32":      {sampleXattrs(), request(3)},
		"same item twice": {sampleXattrs(), request(2, 2, -2)},
		"overflow":        {sampleXattrs(), request(0x7fffffff, 0x7fffffff, 0x7fffffff)},
		"empty set":       {nil, request(1)},
		"truncated":       {sampleXattrs(), appendVarint(nil, 2)},
		"bad varint":      {sampleXattrs(), []byte{0xff, 1}},
	} {
		err := readXattrRequest(&wireReader{r: bytes.NewReader(c.b)}, c.set)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestXattrSent: without Options.XattrFilter, or when it does not rule
// (no x rule given), the system namespace and rsync's own names are not
// sent; when it rules, its answer decides, the system namespace
// included, and rsync's own names are still not sent
// (xattrs.c:rsync_xal_get).
func TestXattrSent(t *testing.T) {
	var asked []string
	ruling := func(rel, name string) (bool, bool) {
		asked = append(asked, rel+" "+name)
		return strings.HasPrefix(name, "user.secret"), true
	}
	silent := func(rel, name string) (bool, bool) { return true, false }
	for _, c := range []struct {
		filter func(rel, name string) (bool, bool)
		name   string
		want   bool
	}{
		{nil, "user.a", true}, {nil, "system.posix_acl_access", false}, {nil, "user.rsync.%stat", false},
		{silent, "user.secret", true}, {silent, "system.x", false},
		{ruling, "user.secret.key", false}, {ruling, "user.a", true}, {ruling, "system.posix_acl_access", true},
		{ruling, "trusted.t", true}, {ruling, "user.rsync.%stat", false},
	} {
		o := &Options{XattrFilter: c.filter}
		if got := o.xattrSent("d/f", c.name); got != c.want {
			t.Errorf("xattrSent(%q) with filter %v = %v, want %v", c.name, c.filter != nil, got, c.want)
		}
	}
	if len(asked) == 0 || asked[0] != "d/f user.secret.key" {
		t.Errorf("XattrFilter asked %q, want the entry's name and the xattr name", asked)
	}
}
