package rsyncproto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// secretMarker is the content of the file outside SRC that no test may
// ever see on the wire or on a target.
const secretMarker = "OUTSIDE-SRC-SECRET-5d1e0b7c"

// secretTree makes SRC with a regular file, a FIFO and a symlink to a
// 0600 secret file outside SRC; it returns SRC and the outside directory.
func secretTree(t *testing.T) (src, outside string) {
	t.Helper()
	base := t.TempDir()
	src, outside = filepath.Join(base, "src"), filepath.Join(base, "outside")
	testutil.Must(t, os.MkdirAll(src, 0o755))
	testutil.Must(t, os.MkdirAll(outside, 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte(secretMarker), 0o600))
	testutil.Must(t, os.WriteFile(filepath.Join(src, "file"), []byte("plain data"), 0o644))
	testutil.Must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(src, "link")))
	testutil.Must(t, syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644))
	return src, outside
}

// requestAs plays a receiver (rsync --server) at protocol proto that asks
// for the data of the entry with index ndx, as no real receiver would. It
// returns what the sender wrote.
func requestAs(t *testing.T, proto int, req Request, ndx int32) (*Result, []byte, error) {
	t.Helper()
	client, server := net.Pipe()
	defer client.Close()
	var got bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(&got, server) // everything the sender writes
	}()
	var script []byte
	script = appendInt(script, int32(proto))
	if proto >= 30 {
		script = appendVarint(script, 0) // compat flags: no varint flist, md5
	}
	script = appendInt(script, 12345) // checksum seed
	ndxs := newNdxState()
	item := ndxs.appendNdx(nil, ndx, proto)
	if proto >= 29 {
		item = appendShort(item, itemTransfer)
	}
	// A sum head with no blocks (what a receiver sends for a new file).
	item = appendInt(item, 0)
	item = appendInt(item, 700)
	if proto >= 27 {
		item = appendInt(item, 2)
	}
	item = appendInt(item, 0)
	script = append(script, frame(msgData, item)...)
	go func() {
		server.Write(script)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req.Options.MaxProtocol = proto
	res, err := PushServer(ctx, client, req)
	client.Close()
	server.Close()
	wg.Wait()
	if bytes.Contains(got.Bytes(), []byte(secretMarker)) {
		t.Error("the secret went over the wire")
	}
	if ctx.Err() != nil {
		t.Fatalf("the push hung until the test's deadline: %v", err)
	}
	return res, got.Bytes(), err
}

// TestSenderRefusesNonRegularRequests: a receiver that asks for the data
// of a symlink (to a secret outside SRC), a FIFO or a directory ends the
// session with a protocol error naming the entry; nothing is read through
// the symlink, and the FIFO does not hang the sender. The old sender
// opened any requested entry, following symlinks and blocking on FIFOs.
func TestSenderRefusesNonRegularRequests(t *testing.T) {
	src, _ := secretTree(t)
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "x", Options: Options{Devices: true, Specials: true}}
	// Sorted list: ".", "fifo", "file", "link" (all protocols).
	for _, proto := range []int{27, 31} {
		for _, c := range []struct {
			ndx  int32
			name string
			kind string
		}{{3, "link", "symlink"}, {1, "fifo", "FIFO"}, {0, ".", "directory"}} {
			t.Run(fmt.Sprintf("p%d-%s", proto, c.name), func(t *testing.T) {
				_, _, err := requestAs(t, proto, req, c.ndx)
				var ee *ExitError
				if !errors.As(err, &ee) || ee.Code != ExitProtocol {
					t.Fatalf("err = %v, want an ExitError with code %d", err, ExitProtocol)
				}
				for _, want := range []string{fmt.Sprintf("%q", c.name), "non-regular", c.kind, "receiver asked for the data"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
			})
		}
	}
}

// TestFIFOSwappedInDoesNotHang: a file listed as regular and replaced by a
// FIFO before its data is read is reported as vanished; the old sender
// blocked forever in open(2).
func TestFIFOSwappedInDoesNotHang(t *testing.T) {
	src := t.TempDir()
	base := time.Unix(1704164645, 0)
	for _, n := range []string{"a", "pipe", "zz-trigger"} {
		writeFile(t, filepath.Join(src, n), []byte(n), 0o644, base)
	}
	_, dir, push := gokrazyPeer().target(t)
	var once sync.Once
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "w/",
		Options: Options{Exclude: func(rel string, isDir bool) bool {
			if rel == "zz-trigger" {
				once.Do(func() {
					testutil.Must(t, os.Remove(filepath.Join(src, "pipe")))
					testutil.Must(t, syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644))
				})
			}
			return false
		}}}
	done := make(chan struct{})
	var res *Result
	var err error
	go func() {
		defer close(done)
		res, err = push(req) // bounded by the peer helper's 60 s context
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("push hung on a FIFO swapped in for a listed file")
	}
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if len(res.Failed) != 1 || res.Failed[0].Path != "pipe" || !errors.Is(res.Failed[0].Err, ErrVanished) && !strings.Contains(res.Failed[0].Err.Error(), "regular") {
		t.Errorf("failed = %v, want pipe as vanished", res.Failed)
	}
	for _, n := range []string{"a", "zz-trigger"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err != nil || string(b) != n {
			t.Errorf("%s: %q %v", n, b, err)
		}
	}
}

// TestSymlinkSwapRace pushes SRC again and again while files and
// directories in it are swapped for symlinks to a directory outside SRC
// that holds a secret: no byte of the secret ever reaches the receiver.
// The old sender followed the swapped symlinks (file list walk and data
// open) and copied the secret into the mirror.
func TestSymlinkSwapRace(t *testing.T) {
	peers := []peer{gokrazyPeer()}
	if hasRsync() {
		peers = append(peers, sshPeer(31), daemonPeer(29))
	}
	for _, pr := range peers {
		t.Run(pr.name, func(t *testing.T) { symlinkSwapRace(t, pr) })
	}
}

func symlinkSwapRace(t *testing.T, pr peer) {
	base := t.TempDir()
	src, outside := filepath.Join(base, "src"), filepath.Join(base, "outside")
	testutil.Must(t, os.MkdirAll(filepath.Join(outside, "sub"), 0o755))
	for _, n := range []string{"f0", "f1", "f2", "f3", "sub/f0", "sub/f1"} {
		testutil.Must(t, os.WriteFile(filepath.Join(outside, n), []byte(secretMarker), 0o600))
	}
	for _, n := range []string{"f0", "f1", "f2", "f3", "d/f0", "d/f1", "d/sub/f0", "d/sub/f1"} {
		writeFile(t, filepath.Join(src, n), []byte("harmless data of "+n), 0o644, time.Unix(1704164645, 0))
	}
	dest, dir, push := pr.target(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	wait := testutil.SwapSymlinks(t, ctx, src,
		testutil.SymlinkSwap{Name: "f1", Target: filepath.Join(outside, "f1")},
		testutil.SymlinkSwap{Name: "f2", Target: filepath.Join(outside, "f2")},
		testutil.SymlinkSwap{Name: "d", Target: outside},
		testutil.SymlinkSwap{Name: "d/sub", Target: filepath.Join(outside, "sub")})
	pushes, failed := 0, 0
	for ctx.Err() == nil {
		req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dest}
		if pushes%2 == 1 { // event-style batch: listed paths
			req.Paths = []Path{{Name: "f1"}, {Name: "f2"}, {Name: "d/f0"}, {Name: "d/sub/f1"}, {Name: "d", Recursive: true}}
		}
		if _, err := push(req); err != nil {
			// A receiver may give up on some swaps (gokrazy: a
			// symlink where it had a directory); what it received is
			// checked all the same.
			failed++
		}
		pushes++
		if leaked := testutil.FileContaining(t, dir, secretMarker); leaked != "" {
			cancel()
			wait()
			t.Fatalf("push %d: %s on the target holds data from outside SRC", pushes, leaked)
		}
		// A fresh target each time: every push reads every file.
		testutil.Must(t, os.RemoveAll(dir))
		testutil.Must(t, os.MkdirAll(dir, 0o755))
	}
	wait()
	t.Logf("%d pushes, %d ended by the receiver", pushes, failed)
	if pushes-failed < 5 {
		t.Errorf("only %d of %d pushes completed: the race proves little", pushes-failed, pushes)
	}
}
