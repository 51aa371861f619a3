package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/treediff"
)

// received is the byte count of the daemon's nth "sent N bytes
// received M bytes" log line (from 1): what gsync put on the wire in
// the nth session. The daemon writes it as its session ends, which can
// be after gsync exited: it is waited for (10 s at most).
func received(t *testing.T, d *RsyncDaemon, nth int) int64 {
	t.Helper()
	re := regexp.MustCompile(`received ([0-9,.]+) bytes`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := re.FindAllStringSubmatch(d.Log(), -1)
		if len(m) >= nth {
			n, err := strconv.ParseInt(strings.NewReplacer(",", "", ".", "").Replace(m[nth-1][1]), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("no transfer summary %d in the daemon's log:\n%s", nth, d.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// compressibleText is n bytes of repetitive text (lines of words).
func compressibleText(n int, seed int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d of file %d: the quick brown fox jumps over the lazy dog %d\n", i, seed, (i*seed)%977)
	}
	return b.Bytes()[:n]
}

// TestDaemonCompress runs gsync -z (and --zc, --zl) against C rsync
// daemons: the tree arrives, then a changed file arrives as a delta, and
// the daemon counts far fewer bytes received than the text holds.
func TestDaemonCompress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		proto int
		args  []string
	}{
		{"negotiated", 0, []string{"-z"}},
		{"zstd", 0, []string{"--zc=zstd", "--zl=5"}},
		{"zlib-protocol30", 30, []string{"-z", "--compress-choice=zlib"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := t.TempDir()
			const size = 2 << 20
			mtime := time.Unix(1704164645, 0)
			for i := range 4 {
				p := filepath.Join(src, "d", fmt.Sprintf("f%d.txt", i))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, compressibleText(size/4, i+1), 0o644); err != nil {
					t.Fatal(err)
				}
				os.Chtimes(p, mtime, mtime)
			}
			dst := filepath.Join(t.TempDir(), "module")
			d := StartRsyncDaemon(t, Config{Protocol: tc.proto, Modules: []Module{{Name: "m", Path: dst}}})
			proto := tc.proto
			if proto == 0 {
				proto = 32
			}
			opts := rsyncPeerOptions(proto)
			url := d.URL("m")
			args := append(append([]string{"--once"}, tc.args...), src, url)
			if code, out := runGsync(t, args...); code != 0 {
				t.Fatalf("gsync exit %d:\n%s", code, out)
			}
			for _, o := range opts {
				treediff.Equal(t, src, dst, o)
			}
			n := received(t, d, 1)
			t.Logf("%v: the daemon received %d bytes for %d bytes of text", tc.args, n, size)
			if n > size/4 {
				t.Errorf("the daemon received %d bytes for %d bytes of text: not compressed", n, size)
			}
			// A change in the middle of one file: a delta, compressed.
			p := filepath.Join(src, "d", "f2.txt")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			data = append(append(append([]byte(nil), data[:size/8]...), compressibleText(50000, 99)...), data[size/8:]...)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if code, out := runGsync(t, args...); code != 0 {
				t.Fatalf("second gsync exit %d:\n%s", code, out)
			}
			for _, o := range opts {
				treediff.Equal(t, src, dst, o)
			}
			n = received(t, d, 2)
			t.Logf("%v: the daemon received %d bytes for a delta of 50000 bytes", tc.args, n)
			if n > 50000/2 {
				t.Errorf("the daemon received %d bytes for a 50000-byte insertion", n)
			}
		})
	}
}

// TestGokrazyCompressRefused: gokrazy/rsync has no compression; gsync
// -z against it stops with the daemon's refusal, not a silent plain push.
func TestGokrazyCompressRefused(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f.txt"), compressibleText(10000, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	peer := startGokrazyPeer(t)
	code, out := runGsync(t, "--once", "-z", src, peer.url)
	t.Logf("exit %d:\n%s", code, tail(out, 10))
	if code == 0 {
		t.Fatalf("gsync -z against gokrazy/rsync succeeded")
	}
	if _, err := os.Stat(filepath.Join(peer.dir, "f.txt")); err == nil {
		t.Errorf("f.txt arrived although compression was refused")
	}
}

// TestDaemonCompressRefused: a module that refuses compression stops
// gsync -z with the daemon's reason.
func TestDaemonCompressRefused(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f.txt"), compressibleText(10000, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dst, Extra: "\trefuse options = compress"}}})
	code, out := runGsync(t, "--once", "-z", src, d.URL("m"))
	if code == 0 || !strings.Contains(out, "refuse --compress") {
		t.Fatalf("gsync -z against a module refusing compression: exit %d:\n%s", code, tail(out, 10))
	}
	if _, err := os.Stat(filepath.Join(dst, "f.txt")); err == nil {
		t.Errorf("f.txt arrived although compression was refused")
	}
}

// TestLsyncdCompress: lsyncd's rsync = { compress = true } makes gsync
// push compressed, as lsyncd's rsync -z would.
func TestLsyncdCompress(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f.txt"), compressibleText(1<<20, 7), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dst}}})
	conf := writeConfig(t, fmt.Sprintf(`settings { nodaemon = true }
sync { default.rsync, source = %q, target = %q, delay = 0, rsync = { archive = true, compress = true } }
`, src, d.URL("m")))
	code, out := runGsync(t, "-onepass", conf)
	if code != 0 {
		t.Fatalf("gsync -onepass exit %d:\n%s", code, tail(out, 10))
	}
	if strings.Contains(out, "without effect") {
		t.Errorf("compress = true was warned about:\n%s", tail(out, 10))
	}
	for _, o := range rsyncPeerOptions(32) {
		treediff.Equal(t, src, dst, o)
	}
	n := received(t, d, 1)
	t.Logf("the daemon received %d bytes for 1 MiB of text", n)
	if n > (1<<20)/4 {
		t.Errorf("the daemon received %d bytes for 1 MiB of text: not compressed", n)
	}
}
