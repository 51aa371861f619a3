package rsyncproto

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// hostileTree builds SRC with regular files, a symlink to a secret file
// outside SRC, a FIFO and (as root) a character device, and returns SRC
// and the secret's unique marker.
func hostileTree(t *testing.T) (src, marker string) {
	t.Helper()
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	marker = "GSYNC-SECRET-" + hex.EncodeToString(rnd[:])
	base := t.TempDir()
	secret := filepath.Join(base, "secret")
	testutil.Must(t, os.MkdirAll(secret, 0o700))
	testutil.Must(t, os.WriteFile(filepath.Join(secret, "key"), []byte(strings.Repeat(marker+"\n", 64)), 0o600))
	src = filepath.Join(base, "src")
	when := time.Unix(1704164645, 0)
	writeFile(t, filepath.Join(src, "a.txt"), []byte("hello world\n"), 0o644, when)
	writeFile(t, filepath.Join(src, "sub", "b.txt"), pseudoRandom(3000, 5), 0o644, when)
	testutil.Must(t, os.Symlink("../secret/key", filepath.Join(src, "link")))
	testutil.Must(t, os.Symlink("../secret", filepath.Join(src, "dirlink")))
	testutil.Must(t, syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644))
	if os.Geteuid() == 0 {
		testutil.Must(t, syscall.Mknod(filepath.Join(src, "dev"), syscall.S_IFCHR|0o600, 1<<8|3))
	}
	return src, marker
}

// hostileReq pushes all of src with devices and specials listed. The
// timeout ends the silence cases; it is long enough that a loaded machine
// never turns another case into a timeout.
func hostileReq(src string) Request {
	return Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "dst",
		Options: Options{Devices: true, Specials: true, Timeout: 2 * time.Second}}
}

// memUse reports the bytes allocated while f ran, and the growth of the
// live heap after it (both after a collection).
func memUse(f func()) (total uint64, retained int64) {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.GC()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc, int64(b.HeapAlloc) - int64(a.HeapAlloc)
}

func exitCode(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return -1
}

// TestHostileDataRequests: a receiver that asks for the data of a symlink
// (pointing outside SRC), a FIFO or a device entry gets an *ExitError
// naming the entry and never a byte of the file outside SRC, and the push
// does not hang on the FIFO.
func TestHostileDataRequests(t *testing.T) {
	src, marker := hostileTree(t)
	names := []string{"link", "dirlink", "fifo"}
	if os.Geteuid() == 0 {
		names = append(names, "dev")
	}
	// A sender stuck opening the FIFO is released at the end.
	defer func() {
		if f, err := os.OpenFile(filepath.Join(src, "fifo"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	}()
	for _, mode := range []peerMode{modeServer, modeDaemon} {
		for _, name := range names {
			t.Run(mode.String()+"/"+name, func(t *testing.T) {
				r := runHostile(t, mode, 31, hostileReq(src), marker, func(p *hostilePeer) error {
					if err := p.open(mode); err != nil {
						return err
					}
					if err := p.request(p.index(t, name), sumHead{}, nil); err != nil {
						return err
					}
					return p.behave()
				})
				if r.leaked {
					t.Fatalf("the secret outside SRC was sent to the peer")
				}
				var ee *ExitError
				if !errors.As(r.err, &ee) || !strings.Contains(ee.Msg, name) {
					t.Errorf("err = %v, want an *ExitError naming %q", r.err, name)
				}
			})
		}
	}
}

// TestHostileIndexes: out-of-range and negative file indexes end the
// session with exit code 12.
func TestHostileIndexes(t *testing.T) {
	src, marker := hostileTree(t)
	for _, proto := range []int{31, 29} {
		for _, tc := range []struct {
			name string
			ndx  func(p *hostilePeer) int32
		}{
			{"past-end", func(p *hostilePeer) int32 { return int32(len(p.list) + 5) }},
			{"list-length", func(p *hostilePeer) int32 { return int32(len(p.list)) }},
			{"huge", func(p *hostilePeer) int32 { return 1<<31 - 1 }},
			{"negative", func(p *hostilePeer) int32 { return -7 }},
			{"flist-eof", func(p *hostilePeer) int32 { return ndxFlistEOF }},
		} {
			t.Run(tc.name+"/p"+strconv.Itoa(proto), func(t *testing.T) {
				r := runHostile(t, modeServer, proto, hostileReq(src), marker, func(p *hostilePeer) error {
					if err := p.open(modeServer); err != nil {
						return err
					}
					return p.request(tc.ndx(p), sumHead{}, nil)
				})
				if exitCode(r.err) != ExitStreamIO || !strings.Contains(r.err.Error(), "index") {
					t.Errorf("err = %v, want exit 12 about the index", r.err)
				}
				if r.leaked {
					t.Error("secret leaked")
				}
			})
		}
	}
}

// TestHostileSumHeads: sum heads beyond rsync's limits end the session
// with a protocol error before anything is allocated for them.
func TestHostileSumHeads(t *testing.T) {
	src, marker := hostileTree(t)
	for _, tc := range []struct {
		name string
		head sumHead
		want string
	}{
		{"count", sumHead{count: maxSumCount + 1, blength: 700, s2length: 16}, "block count"},
		{"negative-count", sumHead{count: -1, blength: 700, s2length: 16}, "block count"},
		{"block-length", sumHead{count: 1, blength: maxBlockSize + 1, s2length: 16}, "block length"},
		{"s2length", sumHead{count: 1, blength: 700, s2length: 17}, "checksum length"},
		{"remainder", sumHead{count: 1, blength: 700, s2length: 2, remainder: 701}, "remainder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r peerRun
			total, _ := memUse(func() {
				r = runHostile(t, modeServer, 31, hostileReq(src), marker, func(p *hostilePeer) error {
					if err := p.open(modeServer); err != nil {
						return err
					}
					return p.request(p.index(t, "a.txt"), tc.head, nil)
				})
			})
			if !errors.Is(r.err, errProtocol) || !strings.Contains(r.err.Error(), tc.want) {
				t.Errorf("err = %v, want a protocol error about the %s", r.err, tc.want)
			}
			if total > 8<<20 {
				t.Errorf("allocated %d bytes", total)
			}
		})
	}
}

// TestHostileLargeSumHead: a valid but large sum head for a small file
// (200,000 blocks, 4 MB on the wire, for a 12-byte file) costs less memory
// than half its wire size more than a one-block head: blocks the file
// cannot hold are read and dropped. Needs sender.go to call
// readSumHeadFor with the entry's size and match.go to size its table by
// len(h.sum1), not h.count.
func TestHostileLargeSumHead(t *testing.T) {
	src, marker := hostileTree(t)
	run := func(count int32) uint64 {
		head := sumHead{count: count, blength: 700, s2length: 16, remainder: 12}
		sums := make([]byte, count*20)
		total, _ := memUse(func() {
			r := runHostile(t, modeServer, 31, hostileReq(src), marker, func(p *hostilePeer) error {
				if err := p.open(modeServer); err != nil {
					return err
				}
				in := newNdxState()
				if err := p.request(p.index(t, "a.txt"), head, sums); err != nil {
					return err
				}
				data, err := p.readFileData(&in)
				if err == nil && string(data) != "hello world\n" {
					t.Errorf("file data %q", data)
				}
				return err
			})
			if exitCode(r.err) != ExitTimeout {
				t.Errorf("err = %v, want the timeout after the request", r.err)
			}
		})
		return total
	}
	const count = 200000
	base, big := run(1), run(count)
	if big > base+count*20/2 {
		t.Errorf("a sum head of %d wire bytes cost %d bytes more than one of 20", count*20, big-base)
	}
}

// TestHostileFloods: endless messages and data never grow memory and end
// the session with a clear error; peer text arrives escaped.
func TestHostileFloods(t *testing.T) {
	src, marker := hostileTree(t)
	info := []byte(strings.Repeat("\x1b[2Jflood \xff\xfe text ", 200)) // 4 KB
	for _, mode := range []peerMode{modeServer, modeDaemon} {
		t.Run(mode.String()+"/info-timeout", func(t *testing.T) {
			// Text is no progress: with --timeout the flood ends there.
			req := hostileReq(src)
			req.Options.Timeout = 50 * time.Millisecond
			r := runHostile(t, mode, 31, req, marker, func(p *hostilePeer) error {
				if err := p.open(mode); err != nil {
					return err
				}
				for {
					if err := p.msg(msgInfo, info); err != nil {
						return nil
					}
				}
			})
			if exitCode(r.err) != ExitTimeout {
				t.Errorf("err = %v, want a timeout", r.err)
			}
		})
		t.Run(mode.String()+"/info", func(t *testing.T) {
			// Without --timeout, the text budget ends it.
			req := hostileReq(src)
			req.Options.Timeout = 0
			var r peerRun
			_, retained := memUse(func() {
				r = runHostile(t, mode, 31, req, marker, func(p *hostilePeer) error {
					if err := p.open(mode); err != nil {
						return err
					}
					for sent := 0; sent < 64<<20; sent += len(info) {
						if err := p.msg(msgInfo, info); err != nil {
							return nil
						}
					}
					return nil
				})
				if r.res != nil && len(r.res.Warnings) > maxKeptWarnings+1 {
					t.Errorf("%d warnings kept", len(r.res.Warnings))
				}
				if r.res != nil {
					for _, w := range r.res.Warnings {
						if hasControl(w) || !strings.Contains(w, "flood") && !strings.Contains(w, "more messages") {
							t.Errorf("warning %q...", w[:min(len(w), 60)])
							break
						}
					}
				}
			})
			if exitCode(r.err) != ExitStreamIO || !strings.Contains(r.err.Error(), "without advancing") {
				t.Errorf("err = %v, want exit 12: messages without progress", r.err)
			}
			limit := int64(maxTextWithoutProgress + 1<<20)
			if mode == modeDaemon {
				limit += 16 << 20 // the kernel's socket buffers
			}
			if w := r.peer.wrote.Load(); w > limit {
				t.Errorf("client read %d bytes of messages", w)
			}
			if r.warns > maxPeerMsgsLogged+1 {
				t.Errorf("%d messages passed to Warn", r.warns)
			}
			if retained > 4<<20 {
				t.Errorf("heap grew by %d bytes", retained)
			}
		})
		t.Run(mode.String()+"/data-while-sending-list", func(t *testing.T) {
			if mode == modeDaemon {
				t.Skip("the kernel's socket buffers take the whole file list: the client never waits")
			}
			chunk := make([]byte, 64<<10)
			r := runHostile(t, mode, 31, hostileReq(src), marker, func(p *hostilePeer) error {
				if mode == modeDaemon {
					if err := p.handshakeDaemon(); err != nil {
						return err
					}
				} else if err := p.handshakeServer(); err != nil {
					return err
				}
				if err := p.setupNoRead(); err != nil {
					return err
				}
				// Never read the file list; flood data the client has
				// not asked for yet.
				for sent := 0; sent < 64<<20; sent += len(chunk) {
					if err := p.data(chunk); err != nil {
						return nil
					}
				}
				return nil
			})
			if exitCode(r.err) != ExitTimeout {
				t.Errorf("err = %v, want a timeout", r.err)
			}
			// The demux reads at most maxDemuxData ahead (plus its
			// reader's buffers and, over TCP, the kernel's).
			limit := int64(maxDemuxData + 1<<20)
			if mode == modeDaemon {
				limit += 8 << 20
			}
			if w := r.peer.wrote.Load(); w > limit {
				t.Errorf("client took %d bytes of data it never read", w)
			}
		})
		t.Run(mode.String()+"/data-after-end", func(t *testing.T) {
			chunk := make([]byte, 64<<10)
			r := runHostile(t, mode, 31, hostileReq(src), marker, func(p *hostilePeer) error {
				if err := p.open(mode); err != nil {
					return err
				}
				if err := p.behave(); err != nil {
					return err
				}
				for sent := 0; sent < 64<<20; sent += len(chunk) {
					if err := p.msg(msgData, chunk); err != nil {
						return nil
					}
				}
				return nil
			})
			if r.err != nil {
				t.Errorf("err = %v, want success", r.err)
			}
			if w := r.peer.wrote.Load(); w > maxDataAfterEnd+10<<20 {
				t.Errorf("client read %d bytes after the end", w)
			}
		})
	}
	t.Run("16MiB-message", func(t *testing.T) {
		var r peerRun
		total, _ := memUse(func() {
			r = runHostile(t, modeServer, 31, hostileReq(src), marker, func(p *hostilePeer) error {
				if err := p.open(modeServer); err != nil {
					return err
				}
				return p.bigMsg(msgInfo, maxMsgPayload)
			})
		})
		if !errors.Is(r.err, errProtocol) || !strings.Contains(r.err.Error(), "multiplexing overflow") {
			t.Errorf("err = %v, want a multiplexing overflow", r.err)
		}
		if total > 8<<20 {
			t.Errorf("allocated %d bytes for a message of 16 MiB", total)
		}
	})
	t.Run("garbage-after-handshake", func(t *testing.T) {
		var r peerRun
		total, _ := memUse(func() {
			r = runHostile(t, modeServer, 31, hostileReq(src), marker, func(p *hostilePeer) error {
				if err := p.open(modeServer); err != nil {
					return err
				}
				g := pseudoRandom(4<<20, 99)
				return p.write(g)
			})
		})
		if r.err == nil || !errors.Is(r.err, errProtocol) && exitCode(r.err) != ExitStreamIO {
			t.Errorf("err = %v, want a protocol error", r.err)
		}
		if total > 24<<20 {
			t.Errorf("allocated %d bytes", total)
		}
	})
	t.Run("error-exit-escaped", func(t *testing.T) {
		r := runHostile(t, modeServer, 31, hostileReq(src), marker, func(p *hostilePeer) error {
			if err := p.open(modeServer); err != nil {
				return err
			}
			if err := p.msg(msgError, []byte("bad \x1b]0;owned\x07 thing\n")); err != nil {
				return err
			}
			return p.msg(msgErrorExit, appendInt(nil, 5))
		})
		if exitCode(r.err) != 5 || hasControl(r.err.Error()) || !strings.Contains(r.err.Error(), `\#033]0;owned\#007`) {
			t.Errorf("err = %q, want exit 5 with the text escaped", r.err)
		}
	})
}

// setupNoRead is setup without deframing the client's output: the peer
// then never reads what the client writes.
func (p *hostilePeer) setupNoRead() error {
	if p.proto >= 30 {
		if err := p.write(appendVarint(nil, int32(cfVarintFlistFlags|cfSafeFlist))); err != nil {
			return err
		}
		r := &wireReader{r: p.raw}
		if r.vstring(); r.err != nil {
			return r.err
		}
		if err := p.write(appendVstring(nil, "md5")); err != nil {
			return err
		}
	}
	return p.write(appendInt(nil, 1))
}

// TestHostileSilence: a peer that stops talking ends the push within its
// timeout, at every stage.
func TestHostileSilence(t *testing.T) {
	src, marker := hostileTree(t)
	for _, mode := range []peerMode{modeServer, modeDaemon} {
		for _, tc := range []struct {
			name   string
			script func(p *hostilePeer) error
		}{
			{"before-handshake", func(p *hostilePeer) error { return nil }},
			{"after-file-list", func(p *hostilePeer) error { return p.open(mode) }},
			{"mid-request", func(p *hostilePeer) error {
				if err := p.open(mode); err != nil {
					return err
				}
				b := p.ndxOut.appendNdx(nil, p.index(t, "a.txt"), p.proto)
				return p.send(append(b, 0x00)) // half of the iflags
			}},
		} {
			t.Run(mode.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel() // each waits out its timeout
				r := runHostile(t, mode, 31, hostileReq(src), marker, tc.script)
				if exitCode(r.err) != ExitTimeout {
					t.Errorf("err = %v, want a timeout (exit 30)", r.err)
				}
			})
		}
	}
}

// TestHostileDaemonText: the daemon's greeting, MOTD and @ERROR lines are
// bounded and escaped.
func TestHostileDaemonText(t *testing.T) {
	src, marker := hostileTree(t)
	long := "@RSYNCD: " + strings.Repeat("9", 1<<20) // never a newline
	for _, tc := range []struct {
		name   string
		script func(p *hostilePeer) error
		check  func(t *testing.T, r peerRun)
	}{
		{"endless-greeting", func(p *hostilePeer) error { return p.write([]byte(long)) },
			func(t *testing.T, r peerRun) {
				if exitCode(r.err) != ExitStartClient || !strings.Contains(r.err.Error(), "longer than") {
					t.Errorf("err = %v, want exit 5: line too long", r.err)
				}
			}},
		{"greeting-stalls", func(p *hostilePeer) error { return p.write([]byte("@RSYNCD: 3")) },
			func(t *testing.T, r peerRun) {
				if exitCode(r.err) != ExitTimeout {
					t.Errorf("err = %v, want a timeout", r.err)
				}
			}},
		{"endless-motd", func(p *hostilePeer) error {
			if err := p.write([]byte("@RSYNCD: 31.0\n")); err != nil {
				return err
			}
			line := []byte("motd \x1b[5m line\n")
			for i := 0; i < 1e6; i++ {
				if err := p.write(line); err != nil {
					return nil
				}
			}
			return nil
		}, func(t *testing.T, r peerRun) {
			if exitCode(r.err) != ExitStartClient || !strings.Contains(r.err.Error(), "lines") {
				t.Errorf("err = %v, want exit 5: too many lines", r.err)
			}
		}},
		{"error-line", func(p *hostilePeer) error {
			return p.write([]byte("@RSYNCD: 31.0\n@ERROR: no \x1b[31mred\x1b[0m \xff module\n"))
		}, func(t *testing.T, r peerRun) {
			if exitCode(r.err) != ExitStartClient || hasControl(r.err.Error()) || !strings.Contains(r.err.Error(), `\#033[31mred`) {
				t.Errorf("err = %q, want exit 5, escaped", r.err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r peerRun
			total, _ := memUse(func() {
				r = runHostile(t, modeDaemon, 31, hostileReq(src), marker, tc.script)
			})
			tc.check(t, r)
			if total > 8<<20 {
				t.Errorf("allocated %d bytes", total)
			}
		})
	}
}

// TestHostileMOTD: a long MOTD with control characters is read past,
// kept nowhere, and the handshake goes on (the endless one is refused by
// TestHostileDaemonText's "endless-motd").
func TestHostileMOTD(t *testing.T) {
	client, server, cleanup := peerConns(t, modeDaemon)
	defer cleanup()
	go func() {
		var b strings.Builder
		b.WriteString("@RSYNCD: 31.0\n")
		for i := 0; i < 500; i++ {
			b.WriteString("motd \x1b[5m\n")
		}
		b.WriteString("@RSYNCD: OK\n")
		server.Write([]byte(b.String()))
	}()
	d, err := DialDaemon(t.Context(), client, DaemonConfig{Module: "m", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if d.Protocol() != 31 {
		t.Errorf("protocol %d, want 31", d.Protocol())
	}
}
