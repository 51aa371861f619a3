package rsyncproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Message tags (rsync.h enum msgcode); on the wire a frame header is
// ((mplexBase + tag) << 24) | length (io.c:send_msg, read_a_msg).
const (
	mplexBase     = 7
	msgData       = 0
	msgErrorXfer  = 1
	msgInfo       = 2
	msgError      = 3
	msgWarning    = 4
	msgErrorSock  = 5
	msgLog        = 6
	msgClient     = 7
	msgErrorUTF8  = 8
	msgRedo       = 9
	msgStats      = 10
	msgIOError    = 22
	msgIOTimeout  = 33
	msgNoop       = 42
	msgErrorExit  = 86
	msgSuccess    = 100
	msgDeleted    = 101
	msgNoSend     = 102
	maxFrame      = 32 * 1024  // MSG_DATA payload per frame we emit
	flushAt       = 256 * 1024 // buffered bytes that trigger a write
	maxMsgPayload = 0xffffff
)

// conn counts bytes and stamps activity for the idle watchdog.
type conn struct {
	rw      io.ReadWriter
	read    atomic.Int64
	written atomic.Int64
	last    atomic.Int64 // unix nanoseconds of the last activity
}

func newConn(rw io.ReadWriter) *conn {
	c := &conn{rw: rw}
	c.touch()
	return c
}

func (c *conn) touch() { c.last.Store(time.Now().UnixNano()) }

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.rw.Read(p)
	if n > 0 {
		c.read.Add(int64(n))
		c.touch()
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.rw.Write(p)
	if n > 0 {
		c.written.Add(int64(n))
		c.touch()
	}
	return n, err
}

// interrupt unblocks pending I/O: a deadline in the past if the stream
// supports it, and Close if it is a Closer.
func (c *conn) interrupt() {
	if d, ok := c.rw.(interface{ SetDeadline(time.Time) error }); ok {
		_ = d.SetDeadline(time.Unix(1, 0))
	}
	if cl, ok := c.rw.(io.Closer); ok {
		_ = cl.Close()
	}
}

// muxWriter buffers the outgoing protocol stream and, once multiplexing is
// on (protocol >= 30), frames it as MSG_DATA (io.c:send_msg, io_flush).
// Only the session goroutine writes.
type muxWriter struct {
	w      io.Writer
	framed bool
	buf    []byte
	frames []byte // framing buffer of flush, kept between calls
	hdr    [4]byte
	err    error
}

func (m *muxWriter) writeRaw(p []byte) {
	if m.err != nil {
		return
	}
	_, m.err = m.w.Write(p)
}

// flush writes everything buffered.
func (m *muxWriter) flush() error {
	if m.err != nil || len(m.buf) == 0 {
		m.buf = m.buf[:0]
		return m.err
	}
	if !m.framed {
		m.writeRaw(m.buf)
		m.buf = m.buf[:0]
		return m.err
	}
	out := m.frames[:0] // reused: no allocation per flush
	for p := m.buf; len(p) > 0; {
		n := min(len(p), maxFrame)
		out = binary.LittleEndian.AppendUint32(out, uint32(mplexBase+msgData)<<24|uint32(n))
		out = append(out, p[:n]...)
		p = p[n:]
	}
	m.buf = m.buf[:0]
	m.frames = out
	m.writeRaw(out)
	return m.err
}

// maybeFlush writes once enough data is buffered.
func (m *muxWriter) maybeFlush() error {
	if len(m.buf) >= flushAt {
		return m.flush()
	}
	return m.err
}

// msg sends an out-of-band message after the buffered data.
func (m *muxWriter) msg(tag int, payload []byte) error {
	if !m.framed {
		return fmt.Errorf("send message %d: output not multiplexed", tag)
	}
	if err := m.flush(); err != nil {
		return err
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(mplexBase+tag)<<24|uint32(len(payload)))
	m.writeRaw(append(b, payload...))
	return m.err
}

func (m *muxWriter) msgInt(tag int, v int32) error {
	return m.msg(tag, appendInt(nil, v))
}

// peerMsg is an out-of-band message from the server.
type peerMsg struct {
	tag     int
	payload []byte
}

// demux reads the server's multiplexed stream in its own goroutine
// (io.c:read_a_msg): MSG_DATA goes to an unbounded buffer that Read serves,
// every other message to handle. The goroutine ends at EOF or on error.
type demux struct {
	mu     sync.Mutex
	cond   sync.Cond
	data   []byte
	err    error // terminal error of the data stream
	handle func(peerMsg) error
	done   chan struct{}
}

func newDemux(handle func(peerMsg) error) *demux {
	d := &demux{handle: handle, done: make(chan struct{})}
	d.cond.L = &d.mu
	return d
}

func (d *demux) stop(err error) {
	d.mu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.cond.Broadcast()
	d.mu.Unlock()
}

// run reads frames until the stream ends.
func (d *demux) run(r io.Reader) {
	defer close(d.done)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.ErrUnexpectedEOF {
				err = fmt.Errorf("read message header: %w", io.EOF)
			}
			d.stop(err)
			return
		}
		h := binary.LittleEndian.Uint32(hdr[:])
		tag := int(h>>24) - mplexBase
		n := int(h & 0xffffff)
		if tag < 0 {
			d.stop(fmt.Errorf("read frame: bad header %#08x: %w", h, errProtocol))
			return
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			d.stop(fmt.Errorf("read frame payload (tag %d, %d bytes): %w", tag, n, err))
			return
		}
		if tag == msgData {
			if n == 0 {
				continue // keep-alive
			}
			d.mu.Lock()
			d.data = append(d.data, p...)
			d.cond.Broadcast()
			d.mu.Unlock()
			continue
		}
		if err := d.handle(peerMsg{tag: tag, payload: p}); err != nil {
			d.stop(err)
			return
		}
	}
}

// Read serves MSG_DATA bytes; it blocks until data or the end of the stream.
func (d *demux) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.data) == 0 && d.err == nil {
		d.cond.Wait()
	}
	if len(d.data) == 0 {
		return 0, d.err
	}
	n := copy(p, d.data)
	d.data = d.data[n:]
	if len(d.data) == 0 {
		d.data = nil
	}
	return n, nil
}

// errEndOfStream is how the data stream ends when the peer closes.
var errEndOfStream = errors.New("connection closed by the peer")
