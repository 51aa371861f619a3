package rsyncproto

import (
	"crypto/md5"
	"encoding/binary"
	"hash"

	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
	//lint:ignore SA1019 MD4 is what rsync peers below protocol 30 (or that offer nothing better) use: wire compatibility, not security
	"golang.org/x/crypto/md4"
)

// csumKind is a negotiated checksum algorithm (checksum.c).
type csumKind int

const (
	csumMD4 csumKind = iota + 1
	csumMD5
	csumXXH64
	csumXXH3
	csumXXH128
)

// ourChecksums is our checksum preference list, strongest first.
const ourChecksums = "xxh128 xxh3 xxh64 md5 md4"

func csumByName(name string) csumKind {
	switch name {
	case "xxh128":
		return csumXXH128
	case "xxh3":
		return csumXXH3
	case "xxh64":
		return csumXXH64
	case "md5":
		return csumMD5
	case "md4":
		return csumMD4
	}
	return 0
}

func (k csumKind) String() string {
	switch k {
	case csumXXH128:
		return "xxh128"
	case csumXXH3:
		return "xxh3"
	case csumXXH64:
		return "xxh64"
	case csumMD5:
		return "md5"
	case csumMD4:
		return "md4"
	}
	return "none"
}

// digestLen is checksum.c:csum_len_for_type.
func (k csumKind) digestLen() int {
	switch k {
	case csumXXH64, csumXXH3:
		return 8
	}
	return 16
}

// sumConfig is what the session negotiated for checksums.
type sumConfig struct {
	kind      csumKind
	seed      int32
	proto     int
	seedFirst bool // CF_CHKSUM_SEED_FIX: md5 block sums put the seed first
}

// blockSum computes the strong checksum of one block (checksum.c:get_checksum2).
func (c *sumConfig) blockSum(dst, block []byte) []byte {
	var seed [4]byte
	binary.LittleEndian.PutUint32(seed[:], uint32(c.seed))
	switch c.kind {
	case csumXXH128:
		h := xxh3.Hash128Seed(block, uint64(int64(c.seed)))
		dst = binary.LittleEndian.AppendUint64(dst, h.Lo)
		return binary.LittleEndian.AppendUint64(dst, h.Hi)
	case csumXXH3:
		return binary.LittleEndian.AppendUint64(dst, xxh3.HashSeed(block, uint64(int64(c.seed))))
	case csumXXH64:
		d := xxhash.NewWithSeed(uint64(int64(c.seed)))
		d.Write(block)
		return binary.LittleEndian.AppendUint64(dst, d.Sum64())
	case csumMD5:
		h := md5.New()
		if c.seed != 0 && c.seedFirst {
			h.Write(seed[:])
		}
		h.Write(block)
		if c.seed != 0 && !c.seedFirst {
			h.Write(seed[:])
		}
		return h.Sum(dst)
	default: // md4: seed after the data (checksum.c:get_checksum2, built-in MD4)
		h := md4.New()
		h.Write(block)
		if c.seed != 0 {
			h.Write(seed[:])
		}
		return h.Sum(dst)
	}
}

// fileHash returns the whole-file checksum state (checksum.c:sum_init):
// unseeded except MD4 below protocol 30, which hashes the seed first.
func (c *sumConfig) fileHash() hash.Hash {
	switch c.kind {
	case csumXXH128:
		return xxh3.New128()
	case csumXXH3:
		return xxh3.New()
	case csumXXH64:
		return xxhash.New()
	case csumMD5:
		return md5.New()
	default:
		h := md4.New()
		if c.proto < 30 {
			var seed [4]byte
			binary.LittleEndian.PutUint32(seed[:], uint32(c.seed))
			h.Write(seed[:])
		}
		return h
	}
}

// fileSum finishes h in rsync's byte order (xxh digests little-endian).
func (c *sumConfig) fileSum(h hash.Hash) []byte {
	switch c.kind {
	case csumXXH128:
		s := h.(*xxh3.Hasher128).Sum128()
		b := binary.LittleEndian.AppendUint64(nil, s.Lo)
		return binary.LittleEndian.AppendUint64(b, s.Hi)
	case csumXXH3:
		return binary.LittleEndian.AppendUint64(nil, h.(*xxh3.Hasher).Sum64())
	case csumXXH64:
		return binary.LittleEndian.AppendUint64(nil, h.(*xxhash.Digest).Sum64())
	}
	return h.Sum(nil)
}

// listSum is the --checksum file-list digest (checksum.c:file_checksum):
// always unseeded.
func (c *sumConfig) listHash() hash.Hash {
	if c.kind == csumMD4 {
		return md4.New()
	}
	return c.fileHash()
}

// rollsum is checksum.c:get_checksum1 over signed bytes.
func rollsum(buf []byte) (s1, s2 uint32) {
	// Eight bytes per step break the s1 -> s2 dependency chain, like the
	// unrolled loop of checksum.c:get_checksum1: over c0..c7,
	// s2 gains 8*s1 + 8*c0 + 7*c1 + ... + 1*c7.
	for len(buf) >= 8 {
		c0, c1, c2, c3 := sb(buf[0]), sb(buf[1]), sb(buf[2]), sb(buf[3])
		c4, c5, c6, c7 := sb(buf[4]), sb(buf[5]), sb(buf[6]), sb(buf[7])
		s2 += 8*s1 + 8*c0 + 7*c1 + 6*c2 + 5*c3 + 4*c4 + 3*c5 + 2*c6 + c7
		s1 += c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7
		buf = buf[8:]
	}
	for _, c := range buf {
		s1 += sb(c)
		s2 += s1
	}
	return s1, s2
}

// sb widens a byte as rsync does: as a signed char (schar).
func sb(c byte) uint32 { return uint32(int32(int8(c))) }
