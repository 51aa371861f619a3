package rsyncproto

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Flag bytes of rsync's compressed token stream (token.c).
const (
	tokEnd       = 0x00 // END_FLAG: the file's data ends
	tokLong      = 0x20 // TOKEN_LONG: a 32-bit token number follows
	tokRunLong   = 0x21 // TOKENRUN_LONG: the same, then a 16-bit run count
	tokData      = 0x40 // DEFLATED_DATA: + 6 high bits of the length, then its low byte
	tokRel       = 0x80 // TOKEN_REL: + 6-bit distance from the end of the last run
	tokRunRel    = 0xc0 // TOKENRUN_REL: the same, then a 16-bit run count
	maxDataCount = 16383
)

// tokenCoder sends files as rsync's compressed token stream
// (token.c:send_deflated_token, send_zstd_token, send_compressed_token):
// literal data goes through a codec in DEFLATED_DATA frames, matched
// blocks as runs of block numbers relative to the last run. One
// tokenCoder serves the whole session; begin starts each file.
type tokenCoder struct {
	out   *muxWriter
	codec codec
	name  string    // the codec's rsync name
	skip  *skipList // nil: no file is skipped

	lastToken  int32 // -1 at the start of a file, -2 after literal data
	runStart   int32
	lastRunEnd int32
	// flushPending: literal data went into the codec without a flush.
	flushPending bool
}

// codec is one compression of the token stream. Its output goes to the
// session's buffer as DEFLATED_DATA frames.
type codec interface {
	// begin starts a file; skip asks for the least compression
	// (--skip-compress).
	begin(skip bool) error
	// write compresses literal data.
	write(p []byte) error
	// flush makes everything written so far decodable by the receiver.
	flush() error
	// see adds a matched block to what the receiver's decompressor has
	// seen (token.c:see_token; only zlib's history needs it).
	see(p []byte)
}

// newTokenCoder makes the coder for the negotiated compression name at
// level (as compressLevel returned it).
func newTokenCoder(out *muxWriter, name string, level, proto int, skip *skipList) (*tokenCoder, error) {
	fw := &frameWriter{out: out}
	var c codec
	switch name {
	case CompressZlib, CompressZlibx:
		c = &deflateCodec{fw: fw, level: level, classic: name == CompressZlib, proto: proto}
	case CompressZstd:
		// Level 3 (rsync's default) is klauspost's SpeedDefault: 0.996x
		// C libzstd's bytes at 1.42x its CPU; SpeedFastest costs C's CPU
		// but 1.08x its bytes, and no other setting changes the encoder's
		// work (bench/results/zstd-codec-2026-12-03.md).
		enc, err := zstd.NewWriter(fw, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
			zstd.WithEncoderConcurrency(1),
			// C zstd's window at rsync's default level 3 (windowLog
			// 21), not the library's 8 MiB: a third of the memory
			// per session. A smaller one is faster only on synthetic
			// text; on source code it costs bytes.
			zstd.WithWindowSize(zstdWindow),
			// The stream never ends (rsync never ends it): no checksum.
			zstd.WithEncoderCRC(false))
		if err != nil {
			return nil, fmt.Errorf("start zstd: %w", err)
		}
		c = &zstdCodec{fw: fw, enc: enc}
	case CompressLZ4:
		c = &lz4Codec{out: out}
	default:
		return nil, fmt.Errorf("compression %q: %w", name, errProtocol)
	}
	return &tokenCoder{out: out, codec: c, name: name, skip: skip, lastToken: -1}, nil
}

// begin starts the token stream of one file.
func (t *tokenCoder) begin(name string) error {
	t.lastToken = -1
	return t.codec.begin(t.skip.skips(name))
}

// literal sends file data that no block matched (a -2 token: data only).
func (t *tokenCoder) literal(p []byte) error { return t.send(-2, p, nil) }

// match sends block i, whose data is p.
func (t *tokenCoder) match(i int32, p []byte) error { return t.send(i, nil, p) }

// end closes the file's token stream.
func (t *tokenCoder) end() error { return t.send(-1, nil, nil) }

// send is token.c:send_deflated_token's frame: first the run of block
// numbers that this token does not continue, then the literal data (and,
// unless more data follows, a flush), then END_FLAG at the end of the
// file or, for a block, its data into the codec's history.
func (t *tokenCoder) send(token int32, lit, matched []byte) error {
	switch {
	case t.lastToken == -1:
		t.lastRunEnd, t.runStart, t.flushPending = 0, token, false
	case t.lastToken == -2:
		t.runStart = token
	case len(lit) != 0 || token != t.lastToken+1 || token >= t.runStart+65536:
		t.appendRun()
		t.lastRunEnd, t.runStart = t.lastToken, token
	}
	t.lastToken = token
	if len(lit) != 0 || t.flushPending {
		if len(lit) != 0 {
			if err := t.codec.write(lit); err != nil {
				return fmt.Errorf("compress file data: %w", err)
			}
		}
		if token != -2 {
			if err := t.codec.flush(); err != nil {
				return fmt.Errorf("compress file data: %w", err)
			}
		}
		t.flushPending = token == -2
	}
	if token == -1 {
		t.out.buf = append(t.out.buf, tokEnd)
	} else if token >= 0 {
		t.codec.see(matched)
	}
	return nil
}

// appendRun writes the run of blocks runStart..lastToken.
func (t *tokenCoder) appendRun() {
	r := t.runStart - t.lastRunEnd
	n := t.lastToken - t.runStart
	b := t.out.buf
	if r >= 0 && r <= 63 {
		flag := byte(tokRel)
		if n != 0 {
			flag = tokRunRel
		}
		b = append(b, flag+byte(r))
	} else {
		flag := byte(tokLong)
		if n != 0 {
			flag = tokRunLong
		}
		b = appendInt(append(b, flag), t.runStart)
	}
	if n != 0 {
		b = append(b, byte(n), byte(n>>8))
	}
	t.out.buf = b
}

// appendFrame appends p (at most maxDataCount bytes) as one
// DEFLATED_DATA frame.
func appendFrame(b, p []byte) []byte {
	return append(append(b, tokData|byte(len(p)>>8), byte(len(p))), p...)
}

// frameWriter takes a streaming codec's output and frames it.
type frameWriter struct {
	out  *muxWriter
	pend []byte // output not framed yet
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.pend = append(f.pend, p...)
	return len(p), nil
}

// emit frames the pending output: every byte with all, else only whole
// frames (fewer, fuller frames while data keeps coming).
func (f *frameWriter) emit(all bool) {
	p := f.pend
	for len(p) >= maxDataCount || (all && len(p) > 0) {
		n := min(len(p), maxDataCount)
		f.out.buf = appendFrame(f.out.buf, p[:n])
		p = p[n:]
	}
	f.pend = append(f.pend[:0], p...)
}

// syncMarker ends every sync flush of a deflate stream: the empty
// stored block's LEN and NLEN, which rsync leaves off the wire and the
// receiver puts back (token.c:recv_deflated_token).
var syncMarker = []byte{0, 0, 0xff, 0xff}

// deflateCodec is zlib and zlibx: a raw deflate stream per file
// (token.c:send_deflated_token, deflateInit2 with -15 window bits),
// sync-flushed before every token with the trailing 00 00 ff ff cut.
//
// Classic zlib (rsync's -z without negotiation) also puts every matched
// block into the compressor's history: rsync's own zlib inserts it with
// Z_INSERT_ONLY, and the receiver adds the same bytes to its window as a
// stored block (token.c:see_deflate_token). Go's deflate has no insert
// mode, but a sync-flushed stream is byte aligned and the receiver's
// inflater stands between blocks, so the compressor may catch up with
// the receiver's window in either of two exact ways before literal data
// that follows matched blocks: compress the matched bytes and flush,
// throwing that output away (its window then holds them as the
// receiver's does), or restart it with the last 32 KiB the receiver
// has seen (literal and matched data, in order) as its dictionary. Its
// back references then reach only bytes both windows hold. hist keeps
// those bytes; catchUp picks the cheaper way.
type deflateCodec struct {
	fw      *frameWriter
	level   int
	classic bool
	proto   int

	w, stored *flate.Writer // at level, and at level 0 for skipped files
	cur       *flate.Writer
	written   bool // data written since the last flush

	hist []byte // classic: the receiver's last window of data
	// unseen counts the bytes at the end of hist (matched data) that
	// the compressor has not had yet.
	unseen int
}

// deflateLevels maps a zlib level (what rsync's --compress-level means,
// and what the receiver is told) to klauspost/compress's deflate level
// that comes closest to C zlib's output size at about its CPU cost:
// klauspost's level 6 puts 1.065x zlib 6's bytes on the wire for the
// 100 MB text of bench/daemon.sh, its level 8 1.01x, in the time zlib 6
// takes (and its 7 compresses worse than its 6). Measured on that text:
// zlib 3 and 4 match klauspost 4, zlib 5 its 5, zlib 6 to 8 its 8.
var deflateLevels = [10]int{0, 1, 2, 4, 4, 5, 8, 8, 8, 9}

// deflateLevel is the klauspost/compress level for zlib level l.
func deflateLevel(l int) int {
	if l < 0 || l >= len(deflateLevels) {
		return flate.DefaultCompression
	}
	return deflateLevels[l]
}

// zstdWindow is the zstd window gsync compresses with.
const zstdWindow = 1 << 21

// deflateWindow is the window of rsync's deflate streams (-15 bits).
const deflateWindow = 1 << 15

func (d *deflateCodec) begin(skip bool) error {
	var err error
	switch {
	case skip && d.stored == nil:
		d.stored, err = flate.NewWriter(d.fw, flate.NoCompression)
	case !skip && d.w == nil:
		d.w, err = flate.NewWriter(d.fw, deflateLevel(d.level))
	}
	if err != nil {
		return fmt.Errorf("start deflate: %w", err)
	}
	d.cur = d.w
	if skip {
		d.cur = d.stored
	}
	// deflateReset: a new stream for every file. ResetDict, never
	// Reset: Reset would refill the window with the last dictionary.
	d.cur.ResetDict(d.fw, nil)
	d.hist, d.unseen, d.written = d.hist[:0], 0, false
	return nil
}

// catchUp gives the compressor the matched data the receiver added to
// its window since the compressor last had data. It runs only after a
// sync flush (send flushes before every token): less than a window of
// it is compressed and flushed with the output discarded, more restarts
// the compressor on the window (cheaper than compressing it).
func (d *deflateCodec) catchUp() error {
	if d.unseen == 0 {
		return nil
	}
	n := d.unseen
	d.unseen = 0
	if n >= deflateWindow {
		d.cur.ResetDict(d.fw, d.window())
		return nil
	}
	keep := len(d.fw.pend)
	if _, err := d.cur.Write(d.hist[len(d.hist)-n:]); err != nil {
		return err
	}
	if err := d.cur.Flush(); err != nil {
		return err
	}
	d.fw.pend = d.fw.pend[:keep]
	return nil
}

func (d *deflateCodec) write(p []byte) error {
	if err := d.catchUp(); err != nil {
		return err
	}
	if _, err := d.cur.Write(p); err != nil {
		return err
	}
	d.written = true
	if d.classic {
		d.remember(p)
	}
	d.fw.emit(false)
	return nil
}

func (d *deflateCodec) flush() error {
	if !d.written {
		return nil
	}
	if err := d.cur.Flush(); err != nil {
		return err
	}
	d.written = false
	n := len(d.fw.pend)
	if n < len(syncMarker) || !bytes.Equal(d.fw.pend[n-len(syncMarker):], syncMarker) {
		return fmt.Errorf("deflate flush did not end in a sync marker")
	}
	d.fw.pend = d.fw.pend[:n-len(syncMarker)]
	d.fw.emit(true)
	return nil
}

// see adds a matched block to hist as the receiver adds it to its
// window: in stored blocks of at most 0xffff bytes, each of which, below
// protocol 31, repeats the block's first bytes (the data-duplicating
// bug token.c keeps for old peers).
func (d *deflateCodec) see(p []byte) {
	if !d.classic {
		return
	}
	off := 0
	for left := len(p); left > 0; {
		n := min(left, 0xffff)
		left -= n
		d.remember(p[off : off+n])
		d.unseen += n
		if d.proto >= 31 {
			off += n
		}
	}
}

// remember appends p to hist, which keeps at least the last
// deflateWindow bytes and at most twice as many.
func (d *deflateCodec) remember(p []byte) {
	if len(p) >= deflateWindow {
		d.hist = append(d.hist[:0], p[len(p)-deflateWindow:]...)
		return
	}
	if len(d.hist)+len(p) > 2*deflateWindow {
		keep := min(len(d.hist), deflateWindow-len(p))
		d.hist = append(d.hist[:0], d.hist[len(d.hist)-keep:]...)
	}
	d.hist = append(d.hist, p...)
}

// window is the part of hist a restarted compressor may refer to.
func (d *deflateCodec) window() []byte {
	if len(d.hist) > deflateWindow {
		return d.hist[len(d.hist)-deflateWindow:]
	}
	return d.hist
}

// zstdCodec is one zstd stream for the whole session, flushed (not
// ended) before every token (token.c:send_zstd_token: ZSTD_e_flush); the
// receiver keeps one decompression context for the session.
type zstdCodec struct {
	fw  *frameWriter
	enc *zstd.Encoder
}

func (z *zstdCodec) begin(bool) error { return nil }

func (z *zstdCodec) write(p []byte) error {
	if _, err := z.enc.Write(p); err != nil {
		return err
	}
	z.fw.emit(false)
	return nil
}

func (z *zstdCodec) flush() error {
	if err := z.enc.Flush(); err != nil {
		return err
	}
	z.fw.emit(true)
	return nil
}

func (z *zstdCodec) see([]byte) {}

// lz4Codec sends LZ4 blocks that decompress alone, one per frame
// (token.c:send_compressed_token): at most maxDataCount bytes of input
// each, halved until the block fits a frame.
type lz4Codec struct {
	out  *muxWriter
	c    lz4.Compressor
	pend []byte // literal data not compressed yet
	dst  []byte
}

func (l *lz4Codec) begin(bool) error { return nil }

func (l *lz4Codec) write(p []byte) error {
	l.pend = append(l.pend, p...)
	return l.compress(false)
}

func (l *lz4Codec) flush() error { return l.compress(true) }

// compress sends the pending data as blocks: all of it, or only whole
// maxDataCount blocks.
func (l *lz4Codec) compress(all bool) error {
	if l.dst == nil {
		l.dst = make([]byte, lz4.CompressBlockBound(maxDataCount))
	}
	p := l.pend
	for len(p) >= maxDataCount || (all && len(p) > 0) {
		in := min(len(p), maxDataCount)
		for {
			n, err := l.c.CompressBlock(p[:in], l.dst)
			if err != nil {
				return fmt.Errorf("lz4: %w", err)
			}
			if n == 0 {
				return fmt.Errorf("lz4 compressed %d bytes to nothing", in)
			}
			if n <= maxDataCount {
				l.out.buf = appendFrame(l.out.buf, l.dst[:n])
				break
			}
			in /= 2
		}
		p = p[in:]
	}
	l.pend = append(l.pend[:0], p...)
	return nil
}

func (l *lz4Codec) see([]byte) {}
