package rsyncproto

import (
	"bytes"
	"testing"
)

// deltaRoundTrip computes receiver sums of basis, runs the matcher over
// data and applies the resulting tokens to basis (receiver.c:receive_data).
func deltaRoundTrip(t *testing.T, basis, data []byte, blen int) []byte {
	t.Helper()
	cfg := sumConfig{kind: csumXXH128, seed: -12345, proto: 31}
	h := &sumHead{blength: int32(blen), s2length: 16}
	for off := 0; off < len(basis); off += blen {
		end := min(off+blen, len(basis))
		s1, s2 := rollsum(basis[off:end])
		h.sum1 = append(h.sum1, s1&0xffff|s2<<16)
		h.sum2 = cfg.blockSum(h.sum2, basis[off:end])
		h.count++
		h.remainder = int32((end - off) % blen)
	}
	var wire bytes.Buffer
	s := newSession(newConn(&wire), nil, &Options{})
	s.sums = cfg
	m := matcher{s: s, h: h}
	if _, err := m.send(bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if err := s.out.flush(); err != nil {
		t.Fatal(err)
	}
	r := &wireReader{r: &wire}
	var out []byte
	for i := 0; ; i++ {
		n := r.int32()
		if r.err != nil {
			t.Fatalf("token stream: %v", r.err)
		}
		if n == 0 {
			break
		}
		if n > 0 {
			if n > chunkSize {
				t.Fatalf("literal of %d bytes", n)
			}
			out = append(out, r.bytes(int(n))...)
			continue
		}
		idx := int(-(n + 1))
		if idx >= int(h.count) {
			t.Fatalf("block %d out of range", idx)
		}
		off := idx * blen
		out = append(out, basis[off:min(off+blen, len(basis))]...)
	}
	sum := r.bytes(16)
	fh := cfg.fileHash()
	fh.Write(data)
	if !bytes.Equal(sum, cfg.fileSum(fh)) {
		t.Fatal("whole-file checksum mismatch")
	}
	return out
}

func TestMatcher(t *testing.T) {
	basis := pseudoRandom(100000, 3)
	data := append([]byte(nil), basis...)
	data[50000] ^= 1
	data = append(data[:70000], append([]byte("inserted"), data[70000:]...)...)
	if got := deltaRoundTrip(t, basis, data, 700); !bytes.Equal(got, data) {
		t.Fatal("rebuilt file differs")
	}
	if got := deltaRoundTrip(t, basis, nil, 700); len(got) != 0 {
		t.Fatal("empty file")
	}
	if got := deltaRoundTrip(t, basis[:1000], basis[500:], 700); !bytes.Equal(got, basis[500:]) {
		t.Fatal("tail")
	}
}

// TestShortFile: a file that shrank while being sent is padded with zeros
// and its checksum spoiled, so the receiver discards it (match.c).
func TestShortFile(t *testing.T) {
	s := newSession(newConn(&bytes.Buffer{}), nil, &Options{})
	s.sums = sumConfig{kind: csumMD5, proto: 31}
	m := matcher{s: s, h: &sumHead{}}
	short, err := m.send(bytes.NewReader([]byte("abc")), 10)
	if err != nil || !short {
		t.Fatalf("short=%v err=%v", short, err)
	}
	b := s.out.buf
	if len(b) != 4+10+4+16 || !bytes.Equal(b[4:14], []byte("abc\x00\x00\x00\x00\x00\x00\x00")) {
		t.Fatalf("stream %x", b)
	}
}
