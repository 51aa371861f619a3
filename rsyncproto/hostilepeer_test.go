package rsyncproto

// The hostile-peer harness: an in-process scripted rsync daemon (TCP on
// 127.0.0.1) and a scripted "rsync --server" (over net.Pipe). Both speak
// the real protocol as far as the receiver's side goes (greeting, module,
// server args, version exchange, compat flags, checksum negotiation, seed,
// filter list, file list) and then follow a script that may misbehave.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// peerMode selects which side of gsync the scripted peer plays against.
type peerMode int

const (
	modeServer peerMode = iota // rsync --server over a remote-shell pipe (PushServer)
	modeDaemon                 // rsync daemon over TCP (DialDaemon + Push)
)

func (m peerMode) String() string {
	if m == modeDaemon {
		return "daemon"
	}
	return "server"
}

// markerSpy sees every byte the client writes to the peer: it counts them
// and remembers whether marker ever went by (across read boundaries).
type markerSpy struct {
	r      io.Reader
	marker []byte
	tail   []byte
	found  atomic.Bool
	n      atomic.Int64
}

func (s *markerSpy) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.n.Add(int64(n))
	}
	if k := len(s.marker) - 1; n > 0 && k > 0 {
		// The marker may straddle reads: look at the kept tail joined
		// with the start of p, then at p; keep p's last k bytes.
		if s.tail == nil {
			s.tail = make([]byte, 0, 2*k)
		}
		joint := append(s.tail, p[:min(n, k)]...)
		if bytes.Contains(joint, s.marker) || bytes.Contains(p[:n], s.marker) {
			s.found.Store(true)
		}
		s.tail = append(s.tail[:0], joint[max(0, len(joint)-k):]...)
		if n >= k {
			s.tail = append(s.tail[:0], p[n-k:n]...)
		}
	}
	return n, err
}

// hostilePeer is the receiver side of one session.
type hostilePeer struct {
	conn   net.Conn
	spy    *markerSpy
	raw    *bufio.Reader // client bytes, unframed (handshake)
	in     *wireReader   // client's protocol stream (deframed at >= 30)
	proto  int
	compat uint32
	sums   sumConfig
	opts   Options
	ndxOut ndxState
	list   []*entry
	wrote  atomic.Int64 // bytes the peer managed to write
	// greeting overrides the daemon greeting line (without "\n").
	greeting string
	// record, if set, receives a copy of every byte the peer writes.
	record *bytes.Buffer
}

func (p *hostilePeer) write(b []byte) error {
	if p.record != nil {
		p.record.Write(b)
	}
	n, err := p.conn.Write(b)
	p.wrote.Add(int64(n))
	return err
}

// msg writes one multiplexed frame (header and payload apart: no copy).
func (p *hostilePeer) msg(tag int, payload []byte) error {
	hdr := binary.LittleEndian.AppendUint32(nil, uint32(mplexBase+tag)<<24|uint32(len(payload)))
	if err := p.write(hdr); err != nil || len(payload) == 0 {
		return err
	}
	return p.write(payload)
}

// bigMsg writes a frame header announcing n bytes, then n zero bytes
// from a small buffer.
func (p *hostilePeer) bigMsg(tag, n int) error {
	if err := p.write(binary.LittleEndian.AppendUint32(nil, uint32(mplexBase+tag)<<24|uint32(n))); err != nil {
		return err
	}
	zero := make([]byte, 64<<10)
	for n > 0 {
		k := min(n, len(zero))
		if err := p.write(zero[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// data sends b as MSG_DATA frames.
func (p *hostilePeer) data(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), maxMsgPayload)
		if err := p.msg(msgData, b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// handshakeServer is the server half of the remote-shell version exchange.
func (p *hostilePeer) handshakeServer() error {
	var v [4]byte
	if _, err := io.ReadFull(p.raw, v[:]); err != nil {
		return fmt.Errorf("read client version: %w", err)
	}
	return p.write(appendInt(nil, int32(p.proto)))
}

// handshakeDaemon is the daemon half of clientserver.c: greeting, module,
// @RSYNCD: OK, then the server arguments.
func (p *hostilePeer) handshakeDaemon() error {
	g := p.greeting
	if g == "" {
		g = fmt.Sprintf("@RSYNCD: %d.0", p.proto)
	}
	if err := p.write([]byte(g + "\n")); err != nil {
		return err
	}
	for i := 0; i < 2; i++ { // client greeting, module name
		if _, err := p.raw.ReadString('\n'); err != nil {
			return fmt.Errorf("read client line: %w", err)
		}
	}
	if err := p.write([]byte("@RSYNCD: OK\n")); err != nil {
		return err
	}
	sep := byte('\n')
	if p.proto >= 30 {
		sep = 0
	}
	for {
		arg, err := p.raw.ReadString(sep)
		if err != nil {
			return fmt.Errorf("read server args: %w", err)
		}
		if len(arg) == 1 {
			return nil
		}
	}
}

// setup is the server half of compat.c:setup_protocol; then the client's
// output is deframed (protocol >= 30).
func (p *hostilePeer) setup() error {
	p.ndxOut = newNdxState()
	p.sums = sumConfig{kind: csumMD4, proto: p.proto}
	if p.proto >= 30 {
		p.compat = cfVarintFlistFlags | cfSafeFlist | cfChksumSeedFix
		if err := p.write(appendVarint(nil, int32(p.compat))); err != nil {
			return err
		}
		r := &wireReader{r: p.raw}
		if r.vstring(); r.err != nil {
			return fmt.Errorf("read checksum list: %w", r.err)
		}
		if err := p.write(appendVstring(nil, "xxh128 md5 md4")); err != nil {
			return err
		}
		p.sums = sumConfig{kind: csumXXH128, proto: p.proto, seedFirst: true}
	}
	p.sums.seed = 0x1234567
	if err := p.write(appendInt(nil, p.sums.seed)); err != nil {
		return err
	}
	if p.proto < 30 {
		p.in = &wireReader{r: p.raw}
		return nil
	}
	dm := newDemux(func(peerMsg) error { return nil }, nil)
	go dm.run(p.raw)
	p.in = &wireReader{r: dm}
	return nil
}

// readLists reads the filter list (when the client deletes) and the file
// list (exclude.c:recv_filter_list, flist.c:recv_file_list).
func (p *hostilePeer) readLists() error {
	if sendFilterList(&p.opts, 32) {
		for {
			n := p.in.int32()
			if n == 0 || p.in.err != nil {
				break
			}
			p.in.bytes(int(n))
		}
	}
	fo := flistOpts{proto: p.proto, varint: p.compat&cfVarintFlistFlags != 0, devices: p.opts.Devices, specials: p.opts.Specials}
	list, err := decodeFlist(p.in, fo)
	if err != nil {
		return fmt.Errorf("read file list: %w", err)
	}
	if p.proto < 30 {
		p.in.int32() // io_error
	}
	p.list = list
	return p.in.err
}

// open performs everything up to and including the file list.
func (p *hostilePeer) open(mode peerMode) error {
	var err error
	if mode == modeDaemon {
		err = p.handshakeDaemon()
	} else {
		err = p.handshakeServer()
	}
	if err == nil {
		err = p.setup()
	}
	if err == nil {
		err = p.readLists()
	}
	return err
}

// index returns the list position of name, or fails the test.
func (p *hostilePeer) index(t testing.TB, name string) int32 {
	for i, e := range p.list {
		if e.name == name {
			return int32(i)
		}
	}
	t.Errorf("%q not in the file list the client sent", name)
	return 0
}

// request asks for a file's data (rsync.c:write_ndx_and_attrs plus
// io.c:write_sum_head) with the given sum head and block sums.
func (p *hostilePeer) request(ndx int32, head sumHead, sums []byte) error {
	b := p.ndxOut.appendNdx(nil, ndx, p.proto)
	if p.proto >= 29 {
		b = appendShort(b, itemTransfer)
	}
	b = head.appendHead(b, p.proto)
	if err := p.send(b); err != nil {
		return err
	}
	return p.send(sums)
}

// send writes protocol data: framed (the server's output is always
// multiplexed from the seed on).
func (p *hostilePeer) send(b []byte) error { return p.data(b) }

// done sends NDX_DONE.
func (p *hostilePeer) done() error {
	return p.send(p.ndxOut.appendNdx(nil, ndxDone, p.proto))
}

// readFileData reads the sender's answer to a whole-file request: the
// echoed item and sum head, the literal tokens and the checksum
// (sender.c:send_files, token.c:simple_send_token).
func (p *hostilePeer) readFileData(in *ndxState) ([]byte, error) {
	in.readNdx(p.in, p.proto)
	if p.proto >= 29 {
		p.in.short()
	}
	for i := 0; i < 4 && (i != 2 || p.proto >= 27); i++ {
		p.in.int32() // the echoed sum head, without sums
	}
	var out []byte
	for p.in.err == nil {
		n := p.in.int32()
		if n == 0 {
			break
		}
		if n < 0 {
			continue // a block of the basis
		}
		out = append(out, p.in.bytes(int(n))...)
	}
	p.in.bytes(p.sums.kind.digestLen())
	return out, p.in.err
}

// behave finishes the session like a real receiver: it asks for every
// regular file whole, then walks the phases and the goodbye
// (sender.c:send_files, main.c:read_final_goodbye).
func (p *hostilePeer) behave() error {
	in := newNdxState()
	for i, e := range p.list {
		if !e.isReg() {
			continue
		}
		if err := p.request(int32(i), sumHead{}, nil); err != nil {
			return err
		}
		if _, err := p.readFileData(&in); err != nil {
			return fmt.Errorf("read data of %q: %w", e.name, err)
		}
	}
	return p.end(&in)
}

// behaveDelta is behave with each file requested against block sums of
// its own content in src (generator.c:generate_and_send_sums).
func (p *hostilePeer) behaveDelta(src string) error {
	in := newNdxState()
	for i, e := range p.list {
		if !e.isReg() {
			continue
		}
		basis, err := os.ReadFile(filepath.Join(src, e.name))
		if err != nil {
			return err
		}
		head, sums := p.blockSums(basis, 700, 16)
		if err := p.request(int32(i), head, sums); err != nil {
			return err
		}
		if _, err := p.readFileData(&in); err != nil {
			return fmt.Errorf("read data of %q: %w", e.name, err)
		}
	}
	return p.end(&in)
}

// blockSums computes a sum head and its sums for basis.
func (p *hostilePeer) blockSums(basis []byte, blength, s2length int) (sumHead, []byte) {
	h := sumHead{blength: int32(blength), s2length: int32(s2length), remainder: int32(len(basis) % blength)}
	var out []byte
	for off := 0; off < len(basis); off += blength {
		block := basis[off:min(off+blength, len(basis))]
		s1, s2 := rollsum(block)
		out = appendInt(out, int32(s1&0xffff|s2<<16))
		out = append(out, p.sums.blockSum(nil, block)[:s2length]...)
		h.count++
	}
	return h, out
}

// end walks the phases and the goodbye after the requests.
func (p *hostilePeer) end(in *ndxState) error {
	phases := 2
	if p.proto < 29 {
		phases = 1
	}
	for i := 0; i <= phases; i++ {
		if err := p.done(); err != nil {
			return err
		}
		if in.readNdx(p.in, p.proto); p.in.err != nil {
			return p.in.err
		}
	}
	if err := p.done(); err != nil || p.proto < 31 {
		return err
	}
	if in.readNdx(p.in, p.proto); p.in.err != nil {
		return p.in.err
	}
	return p.done()
}

// exit ends the session like a real server after its last word.
func (p *hostilePeer) exit(err error) error {
	if err == nil {
		p.conn.Close()
	}
	return err
}

// drain reads and drops what the client writes until it closes.
func (p *hostilePeer) drain() {
	if p.in != nil {
		_, _ = io.Copy(io.Discard, p.in.r)
		return
	}
	_, _ = io.Copy(io.Discard, p.raw)
}

// peerRun is one scripted session's outcome.
type peerRun struct {
	res      *Result
	err      error
	peer     *hostilePeer
	leaked   bool  // the marker went to the peer
	received int64 // bytes the client wrote
	warns    int   // Options.Warn calls
}

// runHostile runs one push of req against a peer following script, in
// mode. The client has ctxTimeout to finish; a push that does not return
// within a generous guard fails the test as hung (a hang detector, not a
// timing assertion).
func runHostile(t testing.TB, mode peerMode, proto int, req Request, marker string, script func(p *hostilePeer) error) peerRun {
	t.Helper()
	var warns atomic.Int64
	userWarn := req.Options.Warn
	req.Options.Warn = func(msg string) {
		warns.Add(1)
		if userWarn != nil {
			userWarn(msg)
		}
	}
	p := &hostilePeer{proto: proto, opts: req.Options}
	clientConn, serverConn, cleanup := peerConns(t, mode)
	defer cleanup()
	p.conn = serverConn
	p.spy = &markerSpy{r: serverConn, marker: []byte(marker)}
	p.raw = bufio.NewReader(p.spy)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := script(p); err != nil {
			t.Logf("peer script: %v", err)
		}
		p.drain()
	}()
	// A bound for a hung session only: the floods take over 20 s with
	// -race on a loaded 2-core machine, and a test expecting its own
	// error must not see this deadline first.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	type out struct {
		res *Result
		err error
	}
	ch := make(chan out, 1)
	go func() {
		res, err := pushTo(ctx, mode, clientConn, req)
		clientConn.Close()
		ch <- out{res, err}
	}()
	var o out
	select {
	case o = <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("push did not return (hung)")
	}
	serverConn.Close()
	wg.Wait()
	return peerRun{res: o.res, err: o.err, peer: p, leaked: p.spy.found.Load(),
		received: p.spy.n.Load(), warns: int(warns.Load())}
}

// pushTo runs the client side of a push in mode over c.
func pushTo(ctx context.Context, mode peerMode, c net.Conn, req Request) (*Result, error) {
	if mode == modeServer {
		return PushServer(ctx, c, req)
	}
	d, err := DialDaemon(ctx, c, DaemonConfig{Module: "m", Timeout: req.Options.Timeout})
	if err != nil {
		return nil, err
	}
	req.Dest = "m/"
	return d.Push(ctx, req)
}

// peerConns returns the client's and the peer's ends of a connection:
// net.Pipe for a remote shell, a TCP connection on 127.0.0.1 for a daemon.
func peerConns(t testing.TB, mode peerMode) (client, server net.Conn, cleanup func()) {
	t.Helper()
	if mode == modeServer {
		c, s := net.Pipe()
		return c, s, func() { c.Close(); s.Close() }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- s
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	return c, s, func() { c.Close(); s.Close() }
}

// hasControl reports whether s holds a control character other than tab.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f })
}
