package rsyncproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// errProtocol marks malformed input from the peer (rsync exit code 12).
var errProtocol = errors.New("protocol data stream error")

// appendInt appends an int32 in little-endian order (io.c:write_int).
func appendInt(b []byte, v int32) []byte {
	return binary.LittleEndian.AppendUint32(b, uint32(v))
}

// appendShort appends a uint16 in little-endian order (io.c:write_shortint).
func appendShort(b []byte, v uint16) []byte {
	return binary.LittleEndian.AppendUint16(b, v)
}

// appendLongint appends an int32, or ff ff ff ff and an int64 when the value
// does not fit in 0..0x7fffffff (io.c:write_longint).
func appendLongint(b []byte, v int64) []byte {
	if v >= 0 && v <= 0x7fffffff {
		return appendInt(b, int32(v))
	}
	b = appendInt(b, -1)
	return binary.LittleEndian.AppendUint64(b, uint64(v))
}

// appendVarint appends the rsync varint form of v (io.c:write_varint).
func appendVarint(b []byte, v int32) []byte {
	var x [5]byte
	binary.LittleEndian.PutUint32(x[1:], uint32(v))
	cnt := 4
	for cnt > 1 && x[cnt] == 0 {
		cnt--
	}
	bit := byte(1) << (8 - cnt)
	if x[cnt] >= bit {
		cnt++
		x[0] = ^(bit - 1)
	} else if cnt > 1 {
		x[0] = x[cnt] | ^(bit*2 - 1)
	} else {
		x[0] = x[cnt]
	}
	return append(b, x[:cnt]...)
}

// appendVarlong appends v with at least minBytes bytes (io.c:write_varlong).
func appendVarlong(b []byte, v int64, minBytes int) []byte {
	var x [9]byte
	binary.LittleEndian.PutUint64(x[1:], uint64(v))
	cnt := 8
	for cnt > minBytes && x[cnt] == 0 {
		cnt--
	}
	bit := byte(1) << (7 - cnt + minBytes)
	if x[cnt] >= bit {
		cnt++
		x[0] = ^(bit - 1)
	} else if cnt > minBytes {
		x[0] = x[cnt] | ^(bit*2 - 1)
	} else {
		x[0] = x[cnt]
	}
	return append(b, x[:cnt]...)
}

// appendVstring appends a length-prefixed string (io.c:write_vstring).
func appendVstring(b []byte, s string) []byte {
	if len(s) > 0x7fff {
		s = s[:0x7fff]
	}
	if len(s) >= 0x80 {
		b = append(b, byte(len(s)>>8)|0x80)
	}
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// wireReader decodes rsync primitives from a stream. The first error sticks:
// later reads return zero values, and err reports it.
type wireReader struct {
	r   io.Reader
	err error
	n   int64
	buf [16]byte
}

func (r *wireReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *wireReader) read(p []byte) bool {
	if r.err != nil {
		return false
	}
	n, err := io.ReadFull(r.r, p)
	r.n += int64(n)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		r.fail(err)
		return false
	}
	return true
}

func (r *wireReader) byte() byte {
	if !r.read(r.buf[:1]) {
		return 0
	}
	return r.buf[0]
}

func (r *wireReader) short() uint16 {
	if !r.read(r.buf[:2]) {
		return 0
	}
	return binary.LittleEndian.Uint16(r.buf[:2])
}

func (r *wireReader) int32() int32 {
	if !r.read(r.buf[:4]) {
		return 0
	}
	return int32(binary.LittleEndian.Uint32(r.buf[:4]))
}

// extraBytes returns the number of bytes that follow a varint prefix byte.
func extraBytes(ch byte) int {
	n := 0
	for ch&0x80 != 0 {
		n++
		ch <<= 1
	}
	return n
}

// varint decodes io.c:read_varint.
func (r *wireReader) varint() int32 {
	ch := r.byte()
	n := extraBytes(ch)
	if n > 4 {
		r.fail(fmt.Errorf("read varint: prefix %#x: %w", ch, errProtocol))
		return 0
	}
	var x [8]byte
	if n > 0 && !r.read(x[:n]) {
		return 0
	}
	if n < 4 {
		x[n] = ch & (1<<(8-n) - 1)
	}
	return int32(binary.LittleEndian.Uint32(x[:4]))
}

func (r *wireReader) vstring() string {
	l := int(r.byte())
	if l&0x80 != 0 {
		l = (l&0x7f)<<8 | int(r.byte())
	}
	return string(r.bytes(l))
}

func (r *wireReader) bytes(n int) []byte {
	if n < 0 || n > 1<<26 {
		r.fail(fmt.Errorf("read %d bytes: %w", n, errProtocol))
		return nil
	}
	p := make([]byte, n)
	if !r.read(p) {
		return nil
	}
	return p
}

// Special file-list indexes (rsync.h).
const (
	ndxDone        = -1
	ndxFlistEOF    = -2
	ndxDelStats    = -3
	ndxFlistOffset = -101
)

// ndxState keeps the delta state of one direction's ndx stream
// (io.c:write_ndx / read_ndx). The zero value is not ready: use newNdxState.
type ndxState struct {
	prevPos, prevNeg int32
}

func newNdxState() ndxState { return ndxState{prevPos: -1, prevNeg: 1} }

// appendNdx encodes ndx for protocol proto (io.c:write_ndx).
func (s *ndxState) appendNdx(b []byte, ndx int32, proto int) []byte {
	if proto < 30 {
		return appendInt(b, ndx)
	}
	var diff int32
	if ndx >= 0 {
		diff = ndx - s.prevPos
		s.prevPos = ndx
	} else if ndx == ndxDone {
		return append(b, 0)
	} else {
		b = append(b, 0xff)
		ndx = -ndx
		diff = ndx - s.prevNeg
		s.prevNeg = ndx
	}
	switch {
	case diff > 0 && diff < 0xfe:
		return append(b, byte(diff))
	case diff < 0 || diff > 0x7fff:
		return append(b, 0xfe, byte(ndx>>24)|0x80, byte(ndx), byte(ndx>>8), byte(ndx>>16))
	default:
		return append(b, 0xfe, byte(diff>>8), byte(diff))
	}
}

// readNdx decodes one ndx (io.c:read_ndx).
func (s *ndxState) readNdx(r *wireReader, proto int) int32 {
	if proto < 30 {
		return r.int32()
	}
	b := r.byte()
	prev := &s.prevPos
	if b == 0xff {
		b = r.byte()
		prev = &s.prevNeg
	} else if b == 0 {
		return ndxDone
	}
	var num int32
	if b == 0xfe {
		b0, b1 := r.byte(), r.byte()
		if b0&0x80 != 0 {
			b2, b3 := r.byte(), r.byte()
			num = int32(uint32(b1) | uint32(b2)<<8 | uint32(b3)<<16 | uint32(b0&0x7f)<<24)
		} else {
			num = int32(uint32(b0)<<8|uint32(b1)) + *prev
		}
	} else {
		num = int32(b) + *prev
	}
	if r.err != nil {
		return 0
	}
	if num < 0 {
		// io.c:read_ndx keeps the magnitude, below 2^31, in *prev_ptr;
		// a negative one is an overflowing difference from a corrupt
		// stream (and -num would overflow again).
		r.fail(fmt.Errorf("read file index: magnitude %d out of range", num))
		return 0
	}
	*prev = num
	if prev == &s.prevNeg {
		num = -num
	}
	return num
}
