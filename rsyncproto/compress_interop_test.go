package rsyncproto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// textWords builds compressible text: lines of words from a small
// vocabulary, deterministic for seed.
func textWords(n int, seed uint32) []byte {
	words := strings.Fields("the quick brown fox jumps over lazy dog rsync delta block match token stream " +
		"zlib zstd lz4 deflate window history literal checksum receiver sender mirror gsync lsyncd daemon")
	var b bytes.Buffer
	x := seed | 1
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteString(words[x%uint32(len(words))])
		if x%11 == 0 {
			fmt.Fprintf(&b, " %d\n", x%100000)
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// compressTree writes the first version of a compressible tree: text
// files of several sizes (one of several blocks of 64 KiB and more), an
// incompressible file with a suffix rsync skips, an empty file.
func compressTree(t *testing.T, root string) {
	t.Helper()
	base := time.Unix(1704164645, 0)
	for i := range 12 {
		writeFile(t, filepath.Join(root, "text", fmt.Sprintf("t%02d.txt", i)), textWords(1000+i*23000, uint32(i+1)), 0o644, base)
	}
	writeFile(t, filepath.Join(root, "big.log"), textWords(1<<20, 99), 0o644, base)
	writeFile(t, filepath.Join(root, "packed.gz"), pseudoRandom(300000, 5), 0o644, base)
	writeFile(t, filepath.Join(root, "empty"), nil, 0o644, base)
}

// changeTree edits the tree so that the next push sends deltas: text is
// inserted, replaced and appended around unchanged blocks, and the new
// text repeats what lies just before it with a change (so that a
// compressor's back references reach into matched blocks), a file is
// added, one is truncated.
func changeTree(t *testing.T, root string, round int) {
	t.Helper()
	mtime := time.Unix(1704164645+int64(round)*1000, 0)
	edit := func(rel string, seed uint32) {
		p := filepath.Join(root, rel)
		old, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		x := seed | 1
		for pos := 0; pos < len(old); {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			step := 20000 + int(x%90000)
			end := min(pos+step, len(old))
			out = append(out, old[pos:end]...)
			pos = end
			if pos < len(old) && pos > 2000 {
				// A copy of the text before, with one byte changed.
				dup := append([]byte(nil), old[pos-1500:pos-200]...)
				dup[len(dup)/2] ^= 0x20
				out = append(out, dup...)
				if x%3 == 0 {
					pos += min(300, len(old)-pos) // and some text replaced
				}
			}
		}
		out = append(out, textWords(5000, seed+7)...)
		writeFile(t, p, out, 0o644, mtime)
	}
	edit("big.log", uint32(round*7+1))
	edit("text/t11.txt", uint32(round*7+2))
	edit("text/t05.txt", uint32(round*7+3))
	writeFile(t, filepath.Join(root, "text", fmt.Sprintf("new%d.txt", round)), textWords(40000, uint32(round+50)), 0o644, mtime)
	p := filepath.Join(root, "text", "t08.txt")
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, old[:len(old)/2], 0o644, mtime)
}

// compressPeers are the rsync binaries to push to: /usr/bin/rsync (3.5.0
// on the test machine) and $GSYNC_RSYNC_327 (rsync 3.2.7) when set.
func compressPeers(t *testing.T) map[string]string { return attrPeers(t) }

// pushSSHExtra is pushSSHBin with extra receiver options (e.g. a block
// size) added to the server argv.
func pushSSHExtra(t *testing.T, bin string, req Request, proto int, extra ...string) (*Result, error) {
	t.Helper()
	args := ServerArgs(req)
	head := []string{args[0]}
	if proto > 0 && proto < 32 {
		head = append(head, fmt.Sprintf("--protocol=%d", proto))
	}
	args = append(append(head, extra...), args[1:]...)
	pc, wait := startRsyncBin(t, bin, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := PushServer(ctx, pc, req)
	pc.Close()
	wait()
	return res, err
}

// compressedRounds pushes the tree, changes it twice and pushes again
// each time, checking the target after every push and that the later
// pushes sent deltas (matched blocks) with the codec want.
func compressedRounds(t *testing.T, want string, push func(src string) (*Result, error), dst string) {
	t.Helper()
	src := t.TempDir()
	compressTree(t, src)
	for round := range 3 {
		if round > 0 {
			changeTree(t, src, round)
		}
		res, err := push(src)
		if err != nil {
			t.Fatalf("round %d: push: %v", round, err)
		}
		// No warnings either: a receiver that could not decode a file
		// warns "failed verification" and gets it again in its redo phase.
		if res.ExitCode != 0 || len(res.Failed) > 0 || len(res.Warnings) > 0 {
			t.Fatalf("round %d: exit %d failed %v warnings %v", round, res.ExitCode, res.Failed, res.Warnings)
		}
		if res.Compress != want {
			t.Fatalf("round %d: compression %q, want %q", round, res.Compress, want)
		}
		compareTrees(t, src, dst, false, nil)
		if round > 0 && res.MatchedBytes == 0 {
			t.Fatalf("round %d: no matched data: the delta path was not exercised", round)
		}
		t.Logf("round %d: proto %d %s: literal %d matched %d written %d", round, res.Protocol, res.Compress, res.LiteralBytes, res.MatchedBytes, res.BytesWritten)
	}
}

// TestCompressedPushSSH pushes a changing compressible tree to rsync
// --server with every codec, at protocols 32 and 31 (negotiated and
// chosen codecs), 30 and 29 (classic zlib), against every peer binary.
func TestCompressedPushSSH(t *testing.T) {
	// every: against every peer binary; the others against the newest
	// only (each codec and classic zlib at 30 meet rsync 3.2.7 too: the
	// rest repeats the same code paths at the cost of -race CPU).
	cases := []struct {
		choice string
		proto  int
		want   string
		extra  []string
		every  bool
		stress bool // make stress only (GSYNC_STRESS): the same code paths as a row kept
	}{
		{CompressAuto, 32, CompressZstd, nil, true, false},
		{CompressZstd, 32, CompressZstd, nil, false, false},
		{CompressZstd, 31, CompressZstd, nil, false, true},
		{CompressLZ4, 32, CompressLZ4, nil, true, false},
		{CompressLZ4, 31, CompressLZ4, nil, false, true},
		{CompressZlibx, 32, CompressZlibx, nil, true, false},
		{CompressZlibx, 31, CompressZlibx, nil, false, true},
		{CompressZlib, 32, CompressZlib, nil, true, false},
		{CompressZlib, 31, CompressZlib, nil, false, false},
		{CompressZlib, 30, CompressZlib, nil, true, false},
		{CompressAuto, 29, CompressZlib, nil, false, false},
		{CompressAuto, 28, CompressZlib, nil, false, false},
		{CompressAuto, 27, CompressZlib, nil, true, false},
		// Blocks over 0xffff bytes: the receiver adds them to its window
		// in pieces, repeating the first piece below protocol 31.
		{CompressZlib, 31, CompressZlib, []string{"--block-size=70000"}, false, true},
		{CompressZlib, 30, CompressZlib, []string{"--block-size=70000"}, true, false},
		{CompressAuto, 29, CompressZlib, []string{"--block-size=70000"}, false, true},
	}
	for name, bin := range compressPeers(t) {
		for _, c := range cases {
			if (name != "rsync" && !c.every) || (c.stress && !stressRun()) {
				continue
			}
			label := fmt.Sprintf("%s/%s/%d", name, c.choice, c.proto)
			if c.extra != nil {
				label += "/big-blocks"
			}
			t.Run(label, func(t *testing.T) {
				t.Parallel() // each round trip waits on its own rsync
				dst := filepath.Join(t.TempDir(), "dst")
				compressedRounds(t, c.want, func(src string) (*Result, error) {
					req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
						Options: Options{Delete: true, Compress: c.choice, MaxProtocol: c.proto}}
					return pushSSHExtra(t, bin, req, c.proto, c.extra...)
				}, dst)
			})
		}
	}
}

// TestCompressedPushDaemon pushes the changing tree to an rsync daemon
// module: negotiated (zstd; zlib at protocol 29), each chosen codec,
// classic zlib at protocol 30, with --skip-compress naming the text
// files.
func TestCompressedPushDaemon(t *testing.T) {
	needRsync(t)
	for _, c := range []struct {
		choice, want string
		proto        int
		skip         bool
	}{
		{CompressAuto, CompressZstd, 32, false},
		{CompressLZ4, CompressLZ4, 31, false},
		{CompressZlibx, CompressZlibx, 32, true},
		{CompressZlib, CompressZlib, 31, true},
		{CompressZlib, CompressZlib, 30, false},
		// rsync 3.2 and newer negotiate at protocol 30 too (the
		// capability flags, not the protocol, decide); 29 cannot.
		{CompressAuto, CompressZstd, 30, false},
		{CompressAuto, CompressZlib, 29, false},
	} {
		t.Run(fmt.Sprintf("%s/%d/skip=%v", c.choice, c.proto, c.skip), func(t *testing.T) {
			t.Parallel()
			mod := t.TempDir()
			conf := daemonConf(t, mod, "")
			compressedRounds(t, c.want, func(src string) (*Result, error) {
				req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "m/sub",
					Options: Options{Delete: true, Compress: c.choice, SkipCompress: "txt/LOG", SkipCompressSet: c.skip}}
				return pushDaemon(t, conf, DaemonConfig{Module: "m", MaxProtocol: c.proto}, req)
			}, filepath.Join(mod, "sub"))
		})
	}
}

// TestCompressSkipStored: with zlib, a file whose suffix is on the skip
// list goes as stored deflate blocks: a compressible file costs about
// its size on the wire, and the tree still arrives.
func TestCompressSkipStored(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a.txt"), textWords(1<<20, 3), 0o644, time.Unix(1704164645, 0))
	for _, skip := range []bool{false, true} {
		dst := filepath.Join(t.TempDir(), "dst")
		req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
			Options: Options{Compress: CompressZlibx, SkipCompress: "TXT", SkipCompressSet: skip}}
		res, err := pushSSH(t, req, 0)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 0 || len(res.Warnings) > 0 {
			t.Fatalf("exit %d warnings %v", res.ExitCode, res.Warnings)
		}
		compareTrees(t, src, dst, true, nil)
		if skip != (res.BytesWritten > 1<<20) {
			t.Errorf("skip=%v: %d bytes written for a 1 MiB text file", skip, res.BytesWritten)
		}
	}
}

// TestCompressRefusedByDaemon: a module that refuses compression stops
// the push with the daemon's reason; nothing is sent uncompressed.
func TestCompressRefusedByDaemon(t *testing.T) {
	needRsync(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a.txt"), textWords(5000, 1), 0o644, time.Unix(1704164645, 0))
	mod := t.TempDir()
	conf := daemonConf(t, mod, "refuse options = compress\n")
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "m",
		Options: Options{Compress: CompressAuto}}
	res, err := pushDaemon(t, conf, DaemonConfig{Module: "m"}, req)
	t.Logf("result %+v, error %v", res, err)
	if err == nil {
		t.Fatal("push succeeded although the module refuses compression")
	}
	// Over pipes the daemon writes its reason ("configured to refuse
	// --compress") to stderr; a TCP daemon sends it as a message.
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitUnsupported {
		t.Errorf("error %v, want rsync exit %d (requested action not supported)", err, ExitUnsupported)
	}
	if _, serr := os.Stat(filepath.Join(mod, "a.txt")); serr == nil {
		t.Error("a.txt arrived")
	}
}

// TestCompressLevelsInterop: levels reach the receiver and the sender
// alike (token.c:init_compression_level on both sides): zlib's level 0
// is no compression on both, the others compress at their level.
func TestCompressLevelsInterop(t *testing.T) {
	bin := needRsync(t)
	for _, c := range []struct {
		choice string
		level  int
		want   string
		stress bool // make stress only (GSYNC_STRESS)
	}{
		{CompressZlib, 0, "", false},
		{CompressZlibx, 0, "", false},
		// Classic zlib's history at every kind of deflate encoder: the
		// fast ones (1 to 6) and the hash-chain ones (7 to 9).
		{CompressZlib, 1, CompressZlib, false},
		{CompressZlib, 4, CompressZlib, true},
		{CompressZlib, 7, CompressZlib, false},
		{CompressZlib, 9, CompressZlib, true},
		{CompressZlibx, 9, CompressZlibx, true},
		{CompressZstd, -5, CompressZstd, false},
		{CompressZstd, 19, CompressZstd, false},
		{CompressAuto, 0, CompressZstd, false},
		{CompressLZ4, 7, CompressLZ4, false},
	} {
		if c.stress && !stressRun() {
			continue
		}
		t.Run(fmt.Sprintf("%s/%d", c.choice, c.level), func(t *testing.T) {
			t.Parallel()
			dst := filepath.Join(t.TempDir(), "dst")
			compressedRounds(t, c.want, func(src string) (*Result, error) {
				req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
					Options: Options{Delete: true, Compress: c.choice, CompressLevel: c.level, CompressLevelSet: true}}
				return pushSSHExtra(t, bin, req, 0)
			}, dst)
		})
	}
}

// stressRun reports whether make stress runs the tests (GSYNC_STRESS
// set): the rows of an interop table that repeat code paths other rows
// cover run only then.
func stressRun() bool { return os.Getenv("GSYNC_STRESS") != "" }
