package rsyncproto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestVarintExamples(t *testing.T) {
	for _, c := range []struct {
		v    int32
		want string
	}{{0, "00"}, {0x1ff, "81ff"}, {123456789, "e715cd5b"}, {0x80, "8080"}, {16384, "c00040"}, {-1, "f0ffffffff"}} {
		if got := fmt.Sprintf("%x", appendVarint(nil, c.v)); got != c.want {
			t.Errorf("varint %d = %s, want %s", c.v, got, c.want)
		}
	}
	for _, c := range []struct {
		v    int64
		min  int
		want string
	}{{4096, 3, "000010"}, {12, 3, "000c00"}, {1704164648, 4, "65287d93"}} {
		if got := fmt.Sprintf("%x", appendVarlong(nil, c.v, c.min)); got != c.want {
			t.Errorf("varlong %d = %s, want %s", c.v, got, c.want)
		}
	}
	s := newNdxState()
	b := s.appendNdx(nil, 0, 31)
	b = s.appendNdx(b, 2, 31)
	b = s.appendNdx(b, 3, 31)
	b = s.appendNdx(b, 1, 31)
	b = s.appendNdx(b, ndxDone, 31)
	b = s.appendNdx(b, ndxFlistEOF, 31)
	if got := fmt.Sprintf("%x", b); got != "010201fe8001000000ff01" {
		t.Errorf("ndx = %s", got)
	}
}

func TestRoundTrips(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 1<<31 - 1, -1, 1 << 40, -1 << 62, 1<<63 - 1} {
		for _, min := range []int{3, 4} {
			r := &wireReader{r: bytes.NewReader(appendVarlong(nil, v, min))}
			if got := r.varlong(min); got != v || r.err != nil {
				t.Errorf("varlong(%d,%d) = %d %v", v, min, got, r.err)
			}
		}
		r := &wireReader{r: bytes.NewReader(appendVarint(nil, int32(v)))}
		if got := r.varint(); got != int32(v) || r.err != nil {
			t.Errorf("varint(%d) = %d %v", int32(v), got, r.err)
		}
	}
}

func sampleEntries() []*entry {
	return []*entry{
		{name: ".", mode: sIFDIR | 0o755, size: 4096, mtime: 1704164648, topDir: true},
		{name: "a\nb", mode: sIFREG | 0o4755, size: 12, mtime: 1704164645, nsec: 123456789, uid: 1000, gid: 100, dev: 5, ino: 9, hlinked: true},
		{name: "a\nc", mode: sIFREG | 0o4755, size: 12, mtime: 1704164645, nsec: 123456789, uid: 1000, gid: 100, dev: 5, ino: 9, hlinked: true},
		{name: "big", mode: sIFREG | 0o644, size: 1 << 33, mtime: 5},
		{name: "dir", mode: sIFDIR | 0o1777, size: 4096, mtime: 1, noContent: true},
		{name: "dir/" + strings.Repeat("x", 300), mode: sIFLNK | 0o777, size: 3, mtime: 1, x: &entryExt{link: "t\xff]"}},
		{name: "dir/chr", mode: sIFCHR | 0o600, x: &entryExt{rdevMaj: 1, rdevMin: 3, rdevRaw: 0x103}},
		{name: "dir/fifo", mode: sIFIFO | 0o644},
	}
}

// TestFlistRoundTrip decodes what the encoder wrote, for every protocol form.
func TestFlistRoundTrip(t *testing.T) {
	for _, o := range []flistOpts{
		{proto: 32, varint: true, owner: true, group: true, devices: true, specials: true, hardLinks: true, checksum: true, csumLen: 16},
		{proto: 31, varint: false, devices: true, specials: true, hardLinks: true},
		{proto: 30, varint: true, owner: true, devices: true, specials: true},
		{proto: 29, owner: true, group: true, devices: true, specials: true, hardLinks: true, checksum: true, csumLen: 16},
		{proto: 27, devices: true, specials: true, hardLinks: true, checksum: true, csumLen: 16},
	} {
		t.Run(fmt.Sprint(o.proto, o.varint), func(t *testing.T) {
			list := sampleEntries()
			if o.hardLinks {
				assignHardLinks(list, o.proto)
			}
			enc := newFlistEncoder(o, nil, nil)
			var b []byte
			for _, e := range list {
				b = enc.appendEntry(b, e)
			}
			b = append(b, 0)
			got, err := decodeFlist(&wireReader{r: bytes.NewReader(b)}, o)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if len(got) != len(list) {
				t.Fatalf("decoded %d entries, want %d", len(got), len(list))
			}
			for i, e := range list {
				g := got[i]
				if g.name != e.name || g.mode != e.mode || g.mtime != e.mtime || g.link() != e.link() {
					t.Errorf("entry %d: got %+v want %+v", i, g, e)
				}
				if (e.isReg() || e.isDir()) && g.size != e.size {
					t.Errorf("entry %d size %d want %d", i, g.size, e.size)
				}
				if o.proto >= 31 && g.nsec != e.nsec {
					t.Errorf("entry %d nsec", i)
				}
				if o.owner && g.uid != e.uid {
					t.Errorf("entry %d uid %d", i, g.uid)
				}
				if o.proto >= 30 && e.isDir() && g.noContent != e.noContent {
					t.Errorf("entry %d noContent", i)
				}
				gMaj, gMin, _ := g.rdev()
				eMaj, eMin, _ := e.rdev()
				if e.isDev() && o.proto >= 28 && (gMaj != eMaj || gMin != eMin) {
					t.Errorf("entry %d rdev %d:%d", i, gMaj, gMin)
				}
			}
		})
	}
}

func TestSortOrder(t *testing.T) {
	type n struct {
		name string
		dir  bool
	}
	in := []n{{"a/x", false}, {"b", false}, {"a.b/y", false}, {"a.b", true}, {"a+", true}, {"B", true}, {"a", true}, {"a.txt", false}, {"a b", false}, {"Z", false}, {"+plus", false}, {".", true}}
	var list []*entry
	for _, x := range in {
		m := uint32(sIFREG)
		if x.dir {
			m = sIFDIR
		}
		list = append(list, &entry{name: x.name, mode: m})
	}
	names := func() string {
		var s []string
		for _, e := range list {
			s = append(s, e.name)
		}
		return strings.Join(s, ",")
	}
	sortEntries(list, 31)
	if got, want := names(), ".,+plus,Z,a b,a.txt,b,B,a+,a.b,a.b/y,a,a/x"; got != want {
		t.Errorf("p31 order %s\nwant %s", got, want)
	}
	sortEntries(list, 27)
	if got, want := names(), "+plus,.,B,Z,a,a b,a+,a.b,a.b/y,a.txt,a/x,b"; got != want {
		t.Errorf("p27 order %s\nwant %s", got, want)
	}
}

func TestScopeRules(t *testing.T) {
	fl := &fileList{missing: []string{"gone", `we*ird[1]?`, "x]y", `b\s`}, scoped: []Path{{Name: "rec", Recursive: true}}}
	got := strings.Join(scopeRules([]string{"- *.tmp"}, fl, 31), "|")
	want := `+ /gone|+ /we\*ird\[1\]\?|+ /x]y|+ /b\s|+ /rec|- /*|- *.tmp`
	if got != want {
		t.Errorf("rules\n%s\nwant\n%s", got, want)
	}

	// Nested roots, ancestors, directories outside the scope, and a user
	// include rule that must not reach outside it (lsyncd filter lists).
	fl = &fileList{
		missing: []string{"a/b/gone", "rec/sub/gone"},
		scoped:  []Path{{Name: "rec", Recursive: true}},
		list: []*entry{{name: ".", mode: sIFDIR}, {name: "a", mode: sIFDIR}, {name: "a/b", mode: sIFDIR},
			{name: "p", mode: sIFDIR}, {name: "p/file", mode: 0o100644}, {name: "rec", mode: sIFDIR}, {name: "rec/sub", mode: sIFDIR}},
	}
	got = strings.Join(scopeRules([]string{"- /ab**", "+ /a**", "- /**"}, fl, 31), "|")
	want = `+ /a/b/gone|+ /a/b|+ /a|+ /rec|- /*|- /a/b/*|- /a/*|- /p/*|- /ab**|+ /a**|- /**`
	if got != want {
		t.Errorf("rules\n%s\nwant\n%s", got, want)
	}
	// Below protocol 29 the protections are bare patterns.
	got = strings.Join(scopeRules([]string{"- *.o", "-p core", "P keep", ":C .cvsignore"}, &fileList{missing: []string{"d/x"}}, 28), "|")
	if want := `+ /d/x|+ /d|/*|/d/*|*.o|core`; got != want {
		t.Errorf("protocol 28 rules\n%s\nwant\n%s", got, want)
	}
	if got := scopeRules([]string{"- *.o"}, &fileList{scopeAll: true}, 31); strings.Join(got, "|") != "- *.o" {
		t.Errorf("scopeAll rules %q", got)
	}
}

// frame builds a server frame for the demux fuzz seed.
func frame(tag int, p []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(mplexBase+tag)<<24|uint32(len(p))), p...)
}
