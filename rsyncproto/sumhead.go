package rsyncproto

import "fmt"

// Limits of a sum head (io.c:read_sum_head, rsync.h).
const (
	// maxBlockSize is rsync.h MAX_BLOCK_SIZE (protocol >= 30),
	// oldMaxBlockSize OLD_MAX_BLOCK_SIZE (below 30).
	maxBlockSize    = 1 << 17
	oldMaxBlockSize = 1 << 29
	// maxSumCount: a C sender allocates one struct sum_buf (24 bytes
	// since 3.4.0, 40 before) per block (sender.c:receive_sums) under
	// --max-alloc, 1 GiB by default (util2.c:my_alloc), so no rsync
	// sender accepts more than 1 GiB/24 (44.7M) blocks, and 3.3 and older
	// no more than 26.8M. 2^25 blocks describe a 4 TiB basis file at
	// MAX_BLOCK_SIZE (generator.c:sum_sizes_sqroot).
	maxSumCount = 1 << 25
	// maxKeptSumBytes bounds the block sums kept of one head (sum1 plus
	// sum2, 20 bytes a block with 16-byte sums: 13M blocks, a 1.6 TiB
	// basis at MAX_BLOCK_SIZE). Blocks past it are read and dropped: the
	// delta then matches only the kept ones, which is correct (any block
	// index below count may be sent, or none).
	maxKeptSumBytes = 256 << 20
)

// sumHead is io.c:read_sum_head plus the block sums. sum1 and sum2 hold
// the first len(sum1) blocks only (see readSumHeadFor); count is what the
// peer sent and what is echoed.
type sumHead struct {
	count, blength, s2length, remainder int32
	sum1                                []uint32
	sum2                                []byte // len(sum1) * s2length
}

// readSumHeadFor reads and validates a sum head and its block sums
// (io.c:read_sum_head, sender.c:receive_sums). fileSize is the size of
// the file to be sent (-1: unknown): blocks beyond the ones that file
// could hold, and beyond maxKeptSumBytes, are read but not kept (the
// basis on the receiver may be larger than our file; a block past our
// size can never match). The memory kept grows with the data actually
// read (readSums).
func readSumHeadFor(r *wireReader, proto int, digestLen int, fileSize int64) (*sumHead, error) {
	h, err := readSumHead(r, proto, digestLen)
	if err != nil || h.count == 0 {
		return h, err
	}
	h.readSums(r, h.keepCount(fileSize))
	return h, r.err
}

// readSumHead reads and validates a sum head without the block sums
// (io.c:read_sum_head; with --append no sums follow it).
func readSumHead(r *wireReader, proto int, digestLen int) (*sumHead, error) {
	h := &sumHead{count: r.int32(), blength: r.int32()}
	if proto >= 27 {
		h.s2length = r.int32()
	} else {
		h.s2length = 2
	}
	h.remainder = r.int32()
	if r.err != nil {
		return nil, r.err
	}
	if err := h.check(proto, digestLen); err != nil {
		return nil, err
	}
	return h, nil
}

// flength is the length of the receiver's file a sum head describes
// (sender.c:receive_sums, for --append).
func (h *sumHead) flength() int64 {
	n := int64(h.count) * int64(h.blength)
	if h.remainder != 0 {
		n -= int64(h.blength - h.remainder)
	}
	return n
}

// sumChunk is up to sumChunkLen blocks' sums, read before the total is
// trusted.
type sumChunk struct {
	sum1 []uint32
	sum2 []byte
}

const sumChunkLen = 1 << 16

// readSums reads count block sums and keeps the first keep of them. They
// are gathered in chunks sized by what arrived, then copied into exact
// flat slices: the kept sums cost their wire size, twice for a moment,
// and a peer that claims blocks it never sends makes us allocate at most
// one chunk more than it sent.
func (h *sumHead) readSums(r *wireReader, keep int) {
	s2 := int(h.s2length)
	buf := make([]byte, s2)
	var chunks []sumChunk
	kept := 0
	for i := 0; i < int(h.count) && r.err == nil; i++ {
		sum1 := uint32(r.int32())
		r.read(buf)
		if i >= keep || r.err != nil {
			continue
		}
		if len(chunks) == 0 || len(chunks[len(chunks)-1].sum1) == sumChunkLen {
			n := min(sumChunkLen, keep-i)
			chunks = append(chunks, sumChunk{sum1: make([]uint32, 0, n), sum2: make([]byte, 0, n*s2)})
		}
		c := &chunks[len(chunks)-1]
		c.sum1 = append(c.sum1, sum1)
		c.sum2 = append(c.sum2, buf...)
		kept++
	}
	if r.err != nil || kept == 0 {
		return
	}
	if len(chunks) == 1 {
		h.sum1, h.sum2 = chunks[0].sum1, chunks[0].sum2
		return
	}
	h.sum1 = make([]uint32, 0, kept)
	h.sum2 = make([]byte, 0, kept*s2)
	for i := range chunks {
		h.sum1 = append(h.sum1, chunks[i].sum1...)
		h.sum2 = append(h.sum2, chunks[i].sum2...)
		chunks[i] = sumChunk{}
	}
}

// check applies io.c:read_sum_head's limits and ours.
func (h *sumHead) check(proto, digestLen int) error {
	maxBlock := int32(maxBlockSize)
	if proto < 30 {
		maxBlock = oldMaxBlockSize
	}
	switch {
	case h.count < 0 || h.count > maxSumCount:
		return fmt.Errorf("sum head: block count %d (at most %d): %w", h.count, maxSumCount, errProtocol)
	case h.blength < 0 || h.blength > maxBlock || (h.count > 0 && h.blength == 0):
		return fmt.Errorf("sum head: block length %d (at most %d): %w", h.blength, maxBlock, errProtocol)
	case h.s2length < 0 || int(h.s2length) > digestLen:
		return fmt.Errorf("sum head: checksum length %d (at most %d): %w", h.s2length, digestLen, errProtocol)
	case h.remainder < 0 || h.remainder > h.blength:
		return fmt.Errorf("sum head: remainder %d (block length %d): %w", h.remainder, h.blength, errProtocol)
	}
	return nil
}

// keepCount is how many of the blocks are worth keeping: no more than a
// file of fileSize bytes spans (plus one), and no more than
// maxKeptSumBytes.
func (h *sumHead) keepCount(fileSize int64) int {
	keep := int64(h.count)
	if fileSize >= 0 {
		keep = min(keep, fileSize/int64(h.blength)+1)
	}
	return int(min(keep, maxKeptSumBytes/(4+int64(h.s2length))))
}

func (h *sumHead) appendHead(b []byte, proto int) []byte {
	b = appendInt(b, h.count)
	b = appendInt(b, h.blength)
	if proto >= 27 {
		b = appendInt(b, h.s2length)
	}
	return appendInt(b, h.remainder)
}
