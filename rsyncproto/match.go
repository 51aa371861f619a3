package rsyncproto

import (
	"bytes"
	"fmt"
	"hash"
	"io"
	"slices"
)

// chunkSize is the largest literal token (token.c CHUNK_SIZE).
const chunkSize = 32 * 1024

// matcher sends one file as a token stream against the receiver's block
// sums (match.c:match_sums, hash_search; token.c:simple_send_token).
type matcher struct {
	s       *session
	h       *sumHead
	name    string // the file's name, for --skip-compress
	mode    sendMode
	fh      hash.Hash
	literal int64
	matched int64

	r     io.Reader
	left  int64 // bytes still to read to reach the fstat size
	short bool
	buf   []byte
	base  int64 // the file offset of buf[0]
	pos   int   // window start in buf
	lit   int   // start of pending literal data in buf
}

// fill makes at least need bytes available from pos, unless the file ends.
func (m *matcher) fill(need int) {
	for len(m.buf)-m.pos < need && m.left > 0 {
		if m.lit > 256*1024 {
			// Drop consumed bytes.
			n := copy(m.buf, m.buf[m.lit:])
			m.buf = m.buf[:n]
			m.base += int64(m.lit)
			m.pos -= m.lit
			m.lit = 0
		}
		want := int(min(m.left, int64(max(need, 256*1024))))
		start := len(m.buf)
		m.buf = slices.Grow(m.buf, want)[:start+want]
		n, err := io.ReadFull(m.r, m.buf[start:])
		if err != nil {
			// The file shrank or failed: send zeros like map_ptr does and
			// spoil the checksum so that the receiver discards the file.
			m.short = true
			clear(m.buf[start+n:])
		}
		m.left -= int64(want)
	}
}

// emitLiteral sends buf[lit:end] as literal tokens of at most chunkSize.
func (m *matcher) emitLiteral(end int) error {
	for m.lit < end {
		n := min(end-m.lit, chunkSize)
		p := m.buf[m.lit : m.lit+n]
		if m.s.tok != nil {
			if err := m.s.tok.literal(p); err != nil {
				return err
			}
		} else {
			m.s.out.buf = appendInt(m.s.out.buf, int32(n))
			m.s.out.buf = append(m.s.out.buf, p...)
		}
		m.fh.Write(p)
		m.literal += int64(n)
		m.lit += n
		if err := m.s.out.maybeFlush(); err != nil {
			return fmt.Errorf("send file data: %w", m.s.cause(err))
		}
	}
	return nil
}

func (m *matcher) blockLen(i int32) int {
	if i == m.h.count-1 && m.h.remainder != 0 {
		return int(m.h.remainder)
	}
	return int(m.h.blength)
}

// send streams size bytes of r. It reports whether the file was shorter
// than size (the data then ends in zeros and the checksum is spoiled).
func (m *matcher) send(r io.Reader, size int64) (short bool, err error) {
	m.r, m.left = r, size
	m.fh = m.s.sums.fileHash()
	if m.s.tok != nil {
		if err := m.s.tok.begin(m.name); err != nil {
			return false, err
		}
	}
	if m.mode.appendMode > 0 {
		m.skipAppended()
	}
	if m.h.count == 0 || m.mode.appendMode > 0 {
		for m.left > 0 || m.lit < len(m.buf) {
			m.fill(chunkSize)
			if err := m.emitLiteral(len(m.buf)); err != nil {
				return false, err
			}
			m.base += int64(len(m.buf))
			m.buf, m.pos, m.lit = m.buf[:0], 0, 0
		}
	} else if err := m.delta(); err != nil {
		return false, err
	}
	sum := m.s.sums.fileSum(m.fh)
	if m.short {
		for i := range sum {
			sum[i] ^= 0xff
		}
	}
	if m.s.tok != nil {
		if err := m.s.tok.end(); err != nil {
			return false, err
		}
	} else {
		m.s.out.buf = appendInt(m.s.out.buf, 0)
	}
	m.s.out.buf = append(m.s.out.buf, sum...)
	return m.short, m.s.out.maybeFlush()
}

// delta finds the receiver's blocks in the file with the rolling checksum.
func (m *matcher) delta() error {
	h := m.h
	blen := int(h.blength)
	s2len := int(h.s2length)
	table := make(map[uint32][]int32, len(h.sum1))
	for i, v := range h.sum1 {
		table[v] = append(table[v], int32(i))
	}
	var strong []byte
	wantNext := int32(0)
	var s1, s2 uint32
	valid := false
	for {
		m.fill(blen + 1)
		avail := len(m.buf) - m.pos
		if avail == 0 {
			break
		}
		wl := blen
		if avail < blen {
			// Only the short last block can still match, at one position.
			rem := int(h.remainder)
			if rem == 0 || avail < rem {
				break
			}
			if avail > rem {
				m.pos = len(m.buf) - rem
				valid = false
			}
			wl = rem
		}
		if !valid {
			s1, s2 = rollsum(m.buf[m.pos : m.pos+wl])
			valid = true
		}
		sum := s1&0xffff | s2<<16
		found := int32(-1)
		if cands, ok := table[sum]; ok {
			strong = m.s.sums.blockSum(strong[:0], m.buf[m.pos:m.pos+wl])
			for _, c := range cands {
				if m.mode.updating && int64(c)*int64(blen) < m.base+int64(m.pos) {
					// match.c:hash_search: the receiver has written
					// over that block already (--inplace).
					continue
				}
				if m.blockLen(c) != wl || !bytes.Equal(strong[:s2len], h.sum2[int(c)*s2len:int(c+1)*s2len]) {
					continue
				}
				if found < 0 || c == wantNext {
					found = c
				}
				if c == wantNext {
					break
				}
			}
		}
		if found >= 0 {
			if err := m.emitLiteral(m.pos); err != nil {
				return err
			}
			if m.s.tok != nil {
				if err := m.s.tok.match(found, m.buf[m.pos:m.pos+wl]); err != nil {
					return err
				}
			} else {
				m.s.out.buf = appendInt(m.s.out.buf, -(found + 1))
			}
			m.fh.Write(m.buf[m.pos : m.pos+wl])
			m.matched += int64(wl)
			m.pos += wl
			m.lit = m.pos
			wantNext = found + 1
			valid = false
			if err := m.s.out.maybeFlush(); err != nil {
				return fmt.Errorf("send file data: %w", m.s.cause(err))
			}
			continue
		}
		if wl < blen {
			break // the tail did not match
		}
		// Roll one byte (signed chars, checksum.c:get_checksum1).
		out := uint32(int32(int8(m.buf[m.pos])))
		if m.pos+blen < len(m.buf) {
			in := uint32(int32(int8(m.buf[m.pos+blen])))
			s1 += in - out
			s2 += s1 - uint32(blen)*out
		} else {
			valid = false
		}
		m.pos++
		if m.pos-m.lit >= chunkSize {
			if err := m.emitLiteral(m.pos); err != nil {
				return err
			}
		}
	}
	m.pos = len(m.buf)
	return m.emitLiteral(len(m.buf))
}

// skipAppended passes over the part of the file the receiver has
// (--append: match.c:match_sums), summing it for --append-verify; a
// file shorter than that part is sent short.
func (m *matcher) skipAppended() {
	n := min(m.h.flength(), m.left)
	w := io.Discard
	if m.mode.appendMode == 2 {
		w = m.fh
	}
	got, err := io.CopyN(w, m.r, n)
	if err != nil || got < n {
		m.short = true
	}
	m.left -= n
	m.base = n
}
