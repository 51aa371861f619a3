package rsyncproto

import (
	"encoding/binary"
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
	maxMsgPayload = 0xffffff   // the 24-bit length of a frame header
)

// Limits on what the peer's multiplexed stream may make us hold.
const (
	// bigPathBufLen is rsync.h BIGPATHBUFLEN (MAXPATHLEN+1024, at least
	// 4096+1024): the buffer io.c:read_a_msg reads a text message into.
	bigPathBufLen = 5120
	// maxMsgText is the longest text message (MSG_INFO, MSG_ERROR, ...,
	// MSG_DELETED) rsync accepts: io.c:read_a_msg ends the session with
	// "multiplexing overflow" when msg_bytes >= sizeof line.
	maxMsgText = bigPathBufLen - 1
	// maxDemuxData is how much MSG_DATA the demux reads ahead of the
	// session before it stops reading the connection (flow control).
	// rsync's own read-ahead is its input buffer (io.c:perform_io,
	// IO_BUFFER_SIZE 32 KiB); the peer's generator and receiver run
	// concurrently, so a full buffer only pauses the generator.
	maxDemuxData = 1 << 20
	// maxDataAfterEnd is how much MSG_DATA is read and dropped after the
	// session stopped reading, while waiting for the peer's last messages.
	maxDataAfterEnd = 1 << 20
	// maxTextWithoutProgress bounds the message text a peer may send
	// while the transfer does not move (no file data read or written): a
	// flood of MSG_INFO ends the session. rsync's receiver sends one
	// message per failed file, interleaved with the transfer.
	maxTextWithoutProgress = 16 << 20
)

// conn counts bytes and stamps activity for the idle watchdog. Before
// multiplexing every byte read is activity; after it, the demux decides
// (message text is not: see demux.run).
type conn struct {
	rw      io.ReadWriter
	read    atomic.Int64
	written atomic.Int64
	last    atomic.Int64 // unix nanoseconds of the last activity
	muxed   atomic.Bool  // reads no longer count as activity by themselves
	// progress counts transfer steps: writes and MSG_DATA payloads read.
	progress atomic.Int64
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
		if !c.muxed.Load() {
			c.touch()
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.rw.Write(p)
	if n > 0 {
		c.written.Add(int64(n))
		c.progressed()
		c.touch()
	}
	return n, err
}

// progressed counts a step of the transfer (data read or written).
func (c *conn) progressed() { c.progress.Add(1) }

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

// peerMsg is an out-of-band message from the server. The payload is only
// valid during the handler call.
type peerMsg struct {
	tag     int
	payload []byte
}

// demux reads the server's multiplexed stream in its own goroutine
// (io.c:read_a_msg): MSG_DATA goes to a buffer of at most maxDemuxData
// bytes that Read serves, every other message to handle. The goroutine
// ends at EOF, on error, or once the session released it and the peer
// sent more than maxDataAfterEnd bytes of data.
type demux struct {
	mu       sync.Mutex
	cond     sync.Cond
	data     []byte // buffered MSG_DATA; unread from off
	off      int
	err      error // terminal error of the data stream
	released bool  // the session reads no more data: drop it
	dropped  int   // data bytes dropped after release
	handle   func(peerMsg) error
	c        *conn // activity stamps; nil in unit tests
	done     chan struct{}

	scratch  []byte
	text     int64 // message text bytes since progress was last seen
	progress int64 // c.progress() when text was reset
}

func newDemux(handle func(peerMsg) error, c *conn) *demux {
	d := &demux{handle: handle, c: c, done: make(chan struct{}), scratch: make([]byte, 32*1024)}
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

// release tells the demux that the session reads no more data: what is
// buffered is dropped and later data is read and dropped, up to
// maxDataAfterEnd bytes.
func (d *demux) release() {
	d.mu.Lock()
	d.released = true
	d.data, d.off = nil, 0
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
		n := int(h & maxMsgPayload)
		if tag < 0 {
			d.stop(fmt.Errorf("read frame: bad header %#08x: %w", h, errProtocol))
			return
		}
		var err error
		if tag == msgData {
			err = d.readData(r, n)
		} else {
			err = d.readMsg(r, tag, n)
		}
		if err != nil {
			d.stop(err)
			return
		}
	}
}

// readData moves one MSG_DATA payload of n bytes into the buffer, waiting
// for room as the session consumes it.
func (d *demux) readData(r io.Reader, n int) error {
	d.activity()
	for n > 0 {
		room, err := d.waitRoom()
		if err != nil {
			return err
		}
		p := d.scratch[:min(n, room, len(d.scratch))]
		if _, err := io.ReadFull(r, p); err != nil {
			return fmt.Errorf("read frame payload (MSG_DATA, %d bytes): %w", n, err)
		}
		n -= len(p)
		if d.c != nil {
			d.c.progressed()
			d.c.touch()
		}
		if err := d.deliver(p); err != nil {
			return err
		}
	}
	return nil
}

// waitRoom blocks until the buffer has room and returns how much.
func (d *demux) waitRoom() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for !d.released && len(d.data)-d.off >= maxDemuxData && d.err == nil {
		d.cond.Wait()
	}
	switch {
	case d.released:
		return len(d.scratch), nil
	case d.err != nil:
		return 0, d.err
	}
	return maxDemuxData - (len(d.data) - d.off), nil
}

// deliver appends p for Read, or drops it after release.
func (d *demux) deliver(p []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.released {
		d.dropped += len(p)
		if d.dropped > maxDataAfterEnd {
			return fmt.Errorf("peer sent more than %d bytes of data after the end of the transfer: %w", maxDataAfterEnd, errProtocol)
		}
		return nil
	}
	if len(d.data)+len(p) > cap(d.data) {
		d.makeRoom(len(p))
	}
	d.data = append(d.data, p...)
	d.cond.Broadcast()
	return nil
}

// makeRoom compacts the buffer, or reallocates it: small while little is
// buffered, then once at its full size (maxDemuxData), so that a peer
// that fills it costs one allocation, not a series; d.mu held.
func (d *demux) makeRoom(n int) {
	unread := len(d.data) - d.off
	if unread+n <= cap(d.data) {
		d.data = d.data[:copy(d.data, d.data[d.off:])]
		d.off = 0
		return
	}
	c := max(2*cap(d.data), unread+n, 4096)
	if c > 64<<10 {
		c = max(maxDemuxData, unread+n)
	}
	buf := make([]byte, unread, c)
	copy(buf, d.data[d.off:])
	d.data, d.off = buf, 0
}

// readMsg reads one non-data message, checking its length as
// io.c:read_a_msg does, and hands it to the handler.
func (d *demux) readMsg(r io.Reader, tag, n int) error {
	if err := checkMsgLen(tag, n); err != nil {
		return err
	}
	if n > len(d.scratch) {
		return fmt.Errorf("message %d of %d bytes: %w", tag, n, errProtocol)
	}
	p := d.scratch[:n]
	if _, err := io.ReadFull(r, p); err != nil {
		return fmt.Errorf("read frame payload (tag %d, %d bytes): %w", tag, n, err)
	}
	if isTextMsg(tag) {
		if err := d.countText(n); err != nil {
			return err
		}
	} else {
		d.activity()
	}
	return d.handle(peerMsg{tag: tag, payload: p})
}

// activity stamps the idle watchdog.
func (d *demux) activity() {
	if d.c != nil {
		d.c.touch()
	}
}

// countText charges n bytes of message text against the budget of text
// without progress. Text is no activity for the idle watchdog either, so
// a peer that only talks ends with --timeout, or here.
func (d *demux) countText(n int) error {
	var p int64
	if d.c != nil {
		p = d.c.progress.Load()
	}
	if p != d.progress {
		d.progress, d.text = p, 0
	}
	d.text += int64(n)
	if d.text > maxTextWithoutProgress {
		return &ExitError{Code: ExitStreamIO, Msg: fmt.Sprintf("peer sent more than %d MiB of messages without advancing the transfer", maxTextWithoutProgress>>20)}
	}
	return nil
}

// isTextMsg reports whether tag carries text for the user.
func isTextMsg(tag int) bool {
	switch tag {
	case msgErrorXfer, msgInfo, msgError, msgWarning, msgErrorSock, msgLog, msgClient, msgErrorUTF8:
		return true
	}
	return false
}

// checkMsgLen enforces the payload sizes io.c:read_a_msg accepts.
func checkMsgLen(tag, n int) error {
	ok := true
	switch tag {
	case msgIOError, msgIOTimeout, msgSuccess, msgNoSend:
		ok = n == 4
	case msgNoop:
		ok = n == 0
	case msgErrorExit:
		ok = n == 0 || n == 4
	case msgDeleted:
		ok = n <= maxMsgText
	default:
		if isTextMsg(tag) && n > maxMsgText {
			return fmt.Errorf("multiplexing overflow: message %d of %d bytes (rsync allows %d): %w", tag, n, maxMsgText, errProtocol)
		}
		ok = n <= maxMsgText
	}
	if !ok {
		return fmt.Errorf("invalid message %d of %d bytes: %w", tag, n, errProtocol)
	}
	return nil
}

// ready reports whether Read would not block: data is buffered or the
// stream ended.
func (d *demux) ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.data) > d.off || d.err != nil
}

// Read serves MSG_DATA bytes; it blocks until data or the end of the stream.
func (d *demux) Read(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.data) == d.off && d.err == nil {
		d.cond.Wait()
	}
	if len(d.data) == d.off {
		return 0, d.err
	}
	n := copy(p, d.data[d.off:])
	d.off += n
	if d.off == len(d.data) {
		d.data, d.off = d.data[:0], 0
	}
	d.cond.Broadcast() // room for the reader goroutine
	return n, nil
}
