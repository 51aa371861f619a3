package rsyncproto

import (
	"math/rand/v2"
	"testing"
)

// rollsumRef is the plain definition of rsync's weak checksum
// (checksum.c:get_checksum1 without unrolling).
func rollsumRef(buf []byte) (s1, s2 uint32) {
	for _, c := range buf {
		s1 += uint32(int32(int8(c)))
		s2 += s1
	}
	return s1, s2
}

func TestRollsumMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		a1, a2 := rollsum(buf)
		b1, b2 := rollsumRef(buf)
		if a1 != b1 || a2 != b2 {
			t.Fatalf("len %d: rollsum = %#x,%#x, want %#x,%#x", n, a1, a2, b1, b2)
		}
	}
}

func BenchmarkRollsum(b *testing.B) {
	buf := make([]byte, 8192)
	for i := range buf {
		buf[i] = byte(i * 131)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		rollsum(buf)
	}
}
