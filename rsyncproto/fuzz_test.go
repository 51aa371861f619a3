package rsyncproto

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func FuzzVarint(f *testing.F) {
	f.Add([]byte{0x81, 0xff}, 3)
	f.Add([]byte{0xf0, 0xff, 0xff, 0xff, 0xff}, 4)
	f.Add([]byte{0xfc, 1, 2, 3, 4, 5, 6, 7, 8}, 3)
	f.Fuzz(func(t *testing.T, b []byte, min int) {
		r := &wireReader{r: bytes.NewReader(b)}
		v := r.varint()
		if r.err == nil {
			r2 := &wireReader{r: bytes.NewReader(appendVarint(nil, v))}
			if r2.varint() != v {
				t.Fatalf("varint %d does not round-trip", v)
			}
		}
		if min < 1 || min > 8 {
			min = 3
		}
		r = &wireReader{r: bytes.NewReader(b)}
		l := r.varlong(min)
		if r.err == nil && (min == 3 || min == 4) {
			r2 := &wireReader{r: bytes.NewReader(appendVarlong(nil, l, min))}
			if r2.varlong(min) != l {
				t.Fatalf("varlong %d does not round-trip", l)
			}
		}
	})
}

func FuzzNdx(f *testing.F) {
	f.Add([]byte{0x01, 0x02, 0xfe, 0x80, 0x01, 0x00, 0x00, 0x00, 0xff, 0x01}, true)
	f.Fuzz(func(t *testing.T, b []byte, modern bool) {
		proto := 27
		if modern {
			proto = 31
		}
		in := newNdxState()
		r := &wireReader{r: bytes.NewReader(b)}
		var vals []int32
		for i := 0; i < 100 && r.err == nil; i++ {
			v := in.readNdx(r, proto)
			if r.err == nil {
				vals = append(vals, v)
			}
		}
		out := newNdxState()
		var enc []byte
		for _, v := range vals {
			enc = out.appendNdx(enc, v, proto)
		}
		dec := newNdxState()
		r = &wireReader{r: bytes.NewReader(enc)}
		for _, v := range vals {
			if got := dec.readNdx(r, proto); got != v {
				t.Fatalf("ndx %d decoded as %d", v, got)
			}
		}
	})
}

func FuzzDemux(f *testing.F) {
	f.Add(append(frame(msgData, []byte("abc")), frame(msgInfo, []byte("hi\n"))...))
	f.Add(append(frame(msgErrorExit, []byte{1, 0, 0, 0}), 0xff))
	f.Add(frame(msgIOError, []byte{2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newSession(newConn(struct {
			io.Reader
			io.Writer
		}{bytes.NewReader(nil), io.Discard}), nil, &Options{})
		d := newDemux(s.handleMsg, nil)
		go d.run(bytes.NewReader(b))
		io.ReadAll(d) // concurrently: the demux waits for room past maxDemuxData
		<-d.done
	})
}

func FuzzFlist(f *testing.F) {
	enc := newFlistEncoder(flistOpts{proto: 31, varint: true, owner: true, devices: true, specials: true, hardLinks: true}, nil, nil)
	var seed []byte
	for _, e := range sampleEntries() {
		seed = enc.appendEntry(seed, e)
	}
	f.Add(append(seed, 0, 0), uint8(0))
	f.Add([]byte{0x19, 1, '.', 0, 0x10, 0, 0, 0x28, 0x7d, 0x93, 0x65, 0xed, 0x41, 0, 0, 0}, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, variant uint8) {
		opts := []flistOpts{
			{proto: 31, varint: true, owner: true, group: true, devices: true, specials: true, hardLinks: true, checksum: true, csumLen: 16},
			{proto: 30, devices: true, specials: true, hardLinks: true},
			{proto: 29, owner: true, devices: true, specials: true, hardLinks: true},
			{proto: 27, devices: true, specials: true, hardLinks: true, checksum: true, csumLen: 16},
		}
		decodeFlist(&wireReader{r: bytes.NewReader(b)}, opts[int(variant)%len(opts)])
	})
}

// FuzzXattrRequest feeds arbitrary requests for xattr values to the
// sender's decoder (xattrs.c:recv_xattr_request): it must never panic,
// accept only abbreviated values not asked for before, and the reply it
// leads to must name exactly those.
func FuzzXattrRequest(f *testing.F) {
	f.Add([]byte{2, 2, 0})
	f.Add([]byte{5, 0})
	f.Add([]byte{2, 0x7e, 0})
	f.Add([]byte{0xf0, 0xff, 0xff, 0xff, 0x7f, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := sampleXattrs()
		err := readXattrRequest(&wireReader{r: bytes.NewReader(b)}, s)
		var todo []int
		for i, x := range s {
			if x.state == xstateTodo {
				if !x.abbreviated() {
					t.Fatalf("item %d (%d bytes) marked without being abbreviated", i+1, x.size)
				}
				todo = append(todo, i+1)
			}
		}
		if err != nil {
			return
		}
		reply, _ := appendXattrReply(nil, s, func(name string) ([]byte, error) { return []byte(name), nil })
		r := &wireReader{r: bytes.NewReader(reply)}
		num := 0
		for _, want := range todo {
			num += int(r.varint())
			if num != want {
				t.Fatalf("reply names item %d, want %d", num, want)
			}
			r.bytes(int(r.varint()))
		}
		if r.varint() != 0 || r.err != nil {
			t.Fatalf("reply does not end after %d items: %v", len(todo), r.err)
		}
	})
}

func FuzzSumHead(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 0xbc, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, uint8(31))
	f.Fuzz(func(t *testing.T, b []byte, proto uint8) {
		p := 27 + int(proto)%6
		h, err := readSumHeadFor(&wireReader{r: bytes.NewReader(b)}, p, 16, -1)
		if err == nil && h.count > 0 && len(h.sum1) > int(h.count) {
			t.Fatal("sum count mismatch")
		}
	})
}

// FuzzTokens decodes a simple token stream (token.c:simple_recv_token) and
// checks that our matcher's output rebuilds the file.
func FuzzTokens(f *testing.F) {
	f.Add([]byte("hello world, hello world, hello world"), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, blen uint8) {
		if len(data) > 4096 {
			data = data[:4096]
		}
		bl := int(blen%64) + 1
		basis := append([]byte(nil), data...)
		if len(basis) > 3 {
			basis[len(basis)/2] ^= 1
		}
		got := deltaRoundTrip(t, basis, data, bl)
		if !bytes.Equal(got, data) {
			t.Fatalf("rebuilt %q want %q", got, data)
		}
	})
}

// fuzzTree is SRC for FuzzSession: regular files, and symlinks to a
// secret file and directory outside SRC whose content holds marker.
func fuzzTree(tb testing.TB) (src, marker string) {
	marker = "GSYNC-FUZZ-SECRET-7f3a9c"
	base := tb.TempDir()
	secret := filepath.Join(base, "secret")
	src = filepath.Join(base, "src")
	for _, d := range []string{secret, filepath.Join(src, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	files := map[string][]byte{
		filepath.Join(secret, "key"):    []byte(strings.Repeat(marker, 100)),
		filepath.Join(src, "a.txt"):     []byte("hello world\n"),
		filepath.Join(src, "sub/b.txt"): pseudoRandom(3000, 5),
		filepath.Join(src, "sub/c.txt"): nil,
		filepath.Join(src, "big.bin"):   pseudoRandom(70000, 9),
	}
	for p, b := range files {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for link, to := range map[string]string{"link": "../secret/key", "dirlink": "../secret", "sub/up": "../../secret/key"} {
		if err := os.Symlink(to, filepath.Join(src, link)); err != nil {
			tb.Fatal(err)
		}
	}
	return src, marker
}

// recordConversation runs a well-behaved scripted "rsync --server" at
// proto and returns everything it said: a seed for FuzzSession. With
// delta, files are requested against block sums of their own content.
func recordConversation(tb testing.TB, src string, proto int, delta bool, extra func(p *hostilePeer) error) []byte {
	var rec bytes.Buffer
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "dst", Options: Options{Timeout: time.Second}}
	r := runHostile(tb, modeServer, proto, req, "", func(p *hostilePeer) error {
		p.record = &rec
		if err := p.open(modeServer); err != nil {
			return err
		}
		if extra != nil {
			if err := extra(p); err != nil {
				return err
			}
		}
		if delta {
			return p.exit(p.behaveDelta(src))
		}
		return p.exit(p.behave())
	})
	if r.err != nil {
		tb.Fatalf("recording a conversation at protocol %d: %v", proto, r.err)
	}
	return rec.Bytes()
}

// fuzzConn is the client's end for FuzzSession: it reads the script and
// writes into a drain, so the end of the script is an EOF while the
// client can still write.
type fuzzConn struct {
	io.Reader
	io.Writer
	closers []io.Closer
}

func (c *fuzzConn) Close() error {
	for _, cl := range c.closers {
		cl.Close()
	}
	return nil
}

// FuzzSession fuzzes the sender's whole conversation: the input is
// everything the peer ("rsync --server") says — version, compat flags,
// checksum list, seed, requests, sum heads, messages — and the target
// runs a real push of a small SRC with a symlink to a secret outside it.
// It checks that the push returns, allocates a bounded amount, and never
// sends the secret.
func FuzzSession(f *testing.F) {
	src, marker := fuzzTree(f)
	for _, proto := range []int{32, 31, 30, 29, 28, 27} {
		f.Add(recordConversation(f, src, proto, false, nil))
	}
	for _, proto := range []int{31, 29, 27} {
		f.Add(recordConversation(f, src, proto, true, nil))
	}
	f.Add(recordConversation(f, src, 31, true, func(p *hostilePeer) error {
		for tag, payload := range map[int][]byte{msgInfo: []byte("note\n"), msgNoop: nil,
			msgWarning: []byte("careful\n"), msgDeleted: []byte("gone.txt"), msgErrorXfer: []byte("rsync: \"x\" failed\n")} {
			if err := p.msg(tag, payload); err != nil {
				return err
			}
		}
		return nil
	}))
	f.Fuzz(func(t *testing.T, script []byte) {
		_, _ = replaySession(t, src, marker, script)
	})
}

// TestReplayConversation: a recorded conversation replayed as a script
// (as FuzzSession does with its seeds) is a complete, successful push.
func TestReplayConversation(t *testing.T) {
	src, marker := fuzzTree(t)
	for _, proto := range []int{31, 29, 27} {
		script := recordConversation(t, src, proto, true, nil)
		res, err := replaySession(t, src, marker, script)
		if err != nil || res.Files != 4 {
			t.Errorf("protocol %d: replay: files %v, err %v", proto, res, err)
		}
	}
}

// hangAfter is when replaySession declares a push hung (a hang
// detector: a push against a finished script ends at its EOF).
var hangAfter = 30 * time.Second

// replaySession runs one push against script.
func replaySession(t *testing.T, src, marker string, script []byte) (*Result, error) {
	inR, inW := io.Pipe()   // peer -> client
	outR, outW := io.Pipe() // client -> peer
	spy := &markerSpy{r: outR, marker: []byte(marker)}
	conn := &fuzzConn{Reader: inR, Writer: outW, closers: []io.Closer{inR, outW}}
	drained := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, spy)
		close(drained)
	}()
	written := make(chan struct{})
	go func() {
		_, _ = inW.Write(script)
		inW.Close()
		close(written)
	}()
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "dst",
		Options: Options{Timeout: 2 * time.Second, Delete: len(script)%2 == 1}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var res *Result
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err = PushServer(ctx, conn, req)
	}()
	select {
	case <-done:
	case <-time.After(hangAfter):
		buf := make([]byte, 1<<20)
		t.Fatalf("push did not return:\n%s", buf[:runtime.Stack(buf, true)])
	}
	runtime.ReadMemStats(&after)
	conn.Close()
	inR.CloseWithError(io.ErrClosedPipe)
	outR.Close()
	<-drained
	<-written
	if spy.found.Load() {
		t.Fatal("the secret outside SRC was sent to the peer")
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 48<<20+16*uint64(len(script)) {
		t.Fatalf("allocated %d bytes for a script of %d bytes", n, len(script))
	}
	return res, err
}
