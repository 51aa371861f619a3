package rsyncproto

import "fmt"

// sumHead is io.c:read_sum_head plus the block sums.
type sumHead struct {
	count, blength, s2length, remainder int32
	sum1                                []uint32
	sum2                                []byte // count * s2length
}

// readSumHead reads and validates a sum head and its block sums.
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
	maxBlock := int32(1 << 17)
	if proto < 30 {
		maxBlock = 1 << 29
	}
	switch {
	case h.count < 0 || h.count > 1<<26:
		return nil, fmt.Errorf("sum head: count %d: %w", h.count, errProtocol)
	case h.blength < 0 || h.blength > maxBlock || (h.count > 0 && h.blength == 0):
		return nil, fmt.Errorf("sum head: block length %d: %w", h.blength, errProtocol)
	case h.s2length < 0 || int(h.s2length) > digestLen:
		return nil, fmt.Errorf("sum head: s2length %d: %w", h.s2length, errProtocol)
	case h.remainder < 0 || h.remainder > h.blength:
		return nil, fmt.Errorf("sum head: remainder %d: %w", h.remainder, errProtocol)
	}
	if h.count > 0 {
		// Grow with the data actually read: a bogus count cannot make us
		// allocate more than the peer sends.
		n := min(int(h.count), 4096)
		h.sum1 = make([]uint32, 0, n)
		h.sum2 = make([]byte, 0, n*int(h.s2length))
		buf := make([]byte, h.s2length)
		for i := int32(0); i < h.count && r.err == nil; i++ {
			h.sum1 = append(h.sum1, uint32(r.int32()))
			r.read(buf)
			h.sum2 = append(h.sum2, buf...)
		}
	}
	return h, r.err
}

func (h *sumHead) appendHead(b []byte, proto int) []byte {
	b = appendInt(b, h.count)
	b = appendInt(b, h.blength)
	if proto >= 27 {
		b = appendInt(b, h.s2length)
	}
	return appendInt(b, h.remainder)
}
