package rsyncproto

import (
	"bytes"
	"io"
	"testing"
)

func FuzzVarint(f *testing.F) {
	f.Add([]byte{0x81, 0xff}, 3)
	f.Add([]byte{0xf0, 0xff, 0xff, 0xff, 0xff}, 4)
	f.Add([]byte{0xfc, 1, 2, 3, 4, 5, 6, 7, 8}, 3)
	f.Fuzz(func(t *testing.T, b []byte, min int) {
		r := &wireReader{r: bytes.NewReader(b)}
		v := r.varint()
		if r.err == nil {
			r2 := &wireReader{r: bytes.NewReader(appendVarint(nil, v))}
			if r2.varint() != v {
				t.Fatalf("varint %d does not round-trip", v)
			}
		}
		if min < 1 || min > 8 {
			min = 3
		}
		r = &wireReader{r: bytes.NewReader(b)}
		l := r.varlong(min)
		if r.err == nil && (min == 3 || min == 4) {
			r2 := &wireReader{r: bytes.NewReader(appendVarlong(nil, l, min))}
			if r2.varlong(min) != l {
				t.Fatalf("varlong %d does not round-trip", l)
			}
		}
	})
}

func FuzzNdx(f *testing.F) {
	f.Add([]byte{0x01, 0x02, 0xfe, 0x80, 0x01, 0x00, 0x00, 0x00, 0xff, 0x01}, true)
	f.Fuzz(func(t *testing.T, b []byte, modern bool) {
		proto := 27
		if modern {
			proto = 31
		}
		in := newNdxState()
		r := &wireReader{r: bytes.NewReader(b)}
		var vals []int32
		for i := 0; i < 100 && r.err == nil; i++ {
			v := in.readNdx(r, proto)
			if r.err == nil {
				vals = append(vals, v)
			}
		}
		out := newNdxState()
		var enc []byte
		for _, v := range vals {
			enc = out.appendNdx(enc, v, proto)
		}
		dec := newNdxState()
		r = &wireReader{r: bytes.NewReader(enc)}
		for _, v := range vals {
			if got := dec.readNdx(r, proto); got != v {
				t.Fatalf("ndx %d decoded as %d", v, got)
			}
		}
	})
}

func FuzzDemux(f *testing.F) {
	f.Add(append(frame(msgData, []byte("abc")), frame(msgInfo, []byte("hi\n"))...))
	f.Add(append(frame(msgErrorExit, []byte{1, 0, 0, 0}), 0xff))
	f.Add(frame(msgIOError, []byte{2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newSession(newConn(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(nil), io.Discard}), nil, &Options{})
		d := newDemux(s.handleMsg)
		d.run(bytes.NewReader(b))
		io.ReadAll(d)
	})
}

func FuzzFlist(f *testing.F) {
	enc := newFlistEncoder(flistOpts{proto: 31, varint: true, owner: true, devices: true, hardLinks: true}, nil, nil)
	var seed []byte
	for _, e := range sampleEntries() {
		seed = enc.appendEntry(seed, e)
	}
	f.Add(append(seed, 0, 0), uint8(0))
	f.Add([]byte{0x19, 1, '.', 0, 0x10, 0, 0, 0x28, 0x7d, 0x93, 0x65, 0xed, 0x41, 0, 0, 0}, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, variant uint8) {
		opts := []flistOpts{
			{proto: 31, varint: true, owner: true, group: true, devices: true, hardLinks: true, checksum: true, csumLen: 16},
			{proto: 30, devices: true, hardLinks: true},
			{proto: 29, owner: true, devices: true, hardLinks: true},
			{proto: 27, devices: true, hardLinks: true, checksum: true, csumLen: 16},
		}
		decodeFlist(&wireReader{r: bytes.NewReader(b)}, opts[int(variant)%len(opts)])
	})
}

func FuzzSumHead(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 0xbc, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, uint8(31))
	f.Fuzz(func(t *testing.T, b []byte, proto uint8) {
		p := 27 + int(proto)%6
		h, err := readSumHead(&wireReader{r: bytes.NewReader(b)}, p, 16)
		if err == nil && h.count > 0 && len(h.sum1) != int(h.count) {
			t.Fatal("sum count mismatch")
		}
	})
}

// FuzzTokens decodes a simple token stream (token.c:simple_recv_token) and
// checks that our matcher's output rebuilds the file.
func FuzzTokens(f *testing.F) {
	f.Add([]byte("hello world, hello world, hello world"), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, blen uint8) {
		if len(data) > 4096 {
			data = data[:4096]
		}
		bl := int(blen%64) + 1
		basis := append([]byte(nil), data...)
		if len(basis) > 3 {
			basis[len(basis)/2] ^= 1
		}
		got := deltaRoundTrip(t, basis, data, bl)
		if !bytes.Equal(got, data) {
			t.Fatalf("rebuilt %q want %q", got, data)
		}
	})
}
