package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/treediff"
)

// faultPeer is a mirror target whose tree lies below a directory chosen by
// the test (a tmpfs, say), with handles to break the peer.
type faultPeer struct {
	mirrorPeer
	kill, restart func() error // crash and restart the peer process (nil: none)
	stop, cont    func() error // SIGSTOP / SIGCONT the peer (nil: none)
}

// faultPeerType is one target type of the fault tests.
type faultPeerType struct {
	name  string
	start func(t *testing.T, base string) faultPeer // with its tree below base
}

// faultPeers are the target types of the fault tests.
var faultPeers = []faultPeerType{
	{"local", func(t *testing.T, base string) faultPeer {
		dir := filepath.Join(base, "mirror")
		return faultPeer{mirrorPeer: mirrorPeer{name: "local", target: dir, dir: dir, opts: []treediff.Options{{}}}}
	}},
	{"rsync-3.5", func(t *testing.T, base string) faultPeer {
		return rsyncFaultPeer(t, "", "rsync-3.5", base)
	}},
	{"rsync-3.2.7", func(t *testing.T, base string) faultPeer {
		return rsyncFaultPeer(t, rsync327(t), "rsync-3.2.7", base)
	}},
	{"ssh", func(t *testing.T, base string) faultPeer {
		s := startSSHPeer(t)
		dir := filepath.Join(base, "mirror")
		return faultPeer{
			// Short keepalives and connect timeout: a frozen server is
			// given up on within seconds.
			mirrorPeer: mirrorPeer{name: "ssh", target: "127.0.0.1:" + dir, env: []string{"PATH="},
				args: sshArgsOpts(s, "-o ServerAliveInterval=1 -o ServerAliveCountMax=2 -o ConnectTimeout=3"),
				dir:  dir, opts: sshCompareOptions},
			kill: s.Kill, restart: s.Restart, stop: s.Stop, cont: s.Cont,
		}
	}},
}

func rsyncFaultPeer(t *testing.T, bin, label, base string) faultPeer {
	dir := filepath.Join(base, "module")
	d := StartRsyncDaemon(t, Config{Binary: bin, Modules: []Module{{Name: "m", Path: dir}}})
	return faultPeer{
		mirrorPeer: mirrorPeer{name: label, target: d.URL("m"), env: []string{"PATH="}, dir: dir, opts: rsyncPeerOptions(32)},
		kill:       d.Kill, restart: d.Restart, stop: d.Stop, cont: d.Cont,
	}
}

// eachFaultPeer runs fn as a parallel subtest for each of faultPeers not
// named in skip, in a parallel test.
func eachFaultPeer(t *testing.T, skip []string, fn func(t *testing.T, fp faultPeerType)) {
	t.Helper()
	t.Parallel()
	for _, fp := range faultPeers {
		if slices.Contains(skip, fp.name) {
			continue
		}
		t.Run(fp.name, func(t *testing.T) {
			t.Parallel()
			fn(t, fp)
		})
	}
}

// startSeeded seeds a source tree (seedTree with seed and ops), starts
// gsync --insist --delay 0 --timeout timeout mirroring it to p and waits
// for the first full sync to converge. It returns the source, gsync and its
// arguments (for a restart). --insist: these tests are about faults after
// startup; a start slower than a short --timeout on a loaded machine is
// retried, as a user expecting faults would have it.
func startSeeded(t *testing.T, p faultPeer, seed uint64, ops int, timeout string) (src string, g *gsyncProc, args []string) {
	t.Helper()
	src = t.TempDir()
	seedTree(t, src, seed, ops)
	args = append(append([]string(nil), p.args...), "--insist", "--delay", "0", "--timeout", timeout, src, p.target)
	g = startGsync(t, p.env, args...)
	waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)
	return src, g, args
}

// waitOutput waits until gsync's output, from offset from on, contains one
// of want, and returns the line that does.
func waitOutput(t *testing.T, g *gsyncProc, from int, timeout time.Duration, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := g.out.String()
		if from > len(out) {
			from = len(out)
		}
		for _, l := range strings.Split(out[from:], "\n") {
			for _, w := range want {
				if strings.Contains(l, w) {
					return l
				}
			}
		}
		select {
		case <-g.done:
			t.Fatalf("gsync exited (%v) before logging any of %q", g.err, want)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gsync logged none of %q within %v:\n%s", want, timeout, tail(out[from:], 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// payload returns n bytes that do not compress or repeat, the same for
// the same seed. ChaCha8 fills whole blocks: a byte loop of tens of MiB
// is slow under the race detector.
func payload(n int, seed byte) []byte {
	var key [32]byte
	key[0] = seed
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// TestFaultPeerKilled kills the peer (rsync daemon or sshd with its
// connections, SIGKILL) while a 64 MiB file is on its way, queues more
// changes while it is down, restarts it, and requires gsync to retry and
// converge.
func TestFaultPeerKilled(t *testing.T) {
	eachFaultPeer(t, []string{"local"}, func(t *testing.T, fp faultPeerType) {
		p := fp.start(t, t.TempDir())
		src, g, _ := startSeeded(t, p, 5, 100, "10")

		mark := len(g.out.String())
		os.WriteFile(filepath.Join(src, "big.bin"), payload(64<<20, 1), 0o644)
		waitForFile(t, p.dir, ".big.bin.", 30*time.Second) // the receiver's temporary file
		if err := p.kill(); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, "while-down"), []byte("queued"), 0o644)
		waitOutput(t, g, mark, 30*time.Second, "retry_in=")
		if err := p.restart(); err != nil {
			t.Fatal(err)
		}
		// A receiver killed by SIGKILL cannot remove its temporary file
		// (.big.bin.XXXXXX); it is not in any batch, so only the next
		// full sync deletes it. Everything else converges first.
		tmpExcl := func(o treediff.Options) treediff.Options {
			o.Exclude = func(rel string, isDir bool) bool { return isRsyncTemp(path.Base(rel)) }
			return o
		}
		for _, o := range p.opts {
			waitEqual(t, src, p.dir, 90*time.Second, tmpExcl(o))
		}
		g.cmd.Process.Signal(syscall.SIGHUP)
		waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)
		g.stop(syscall.SIGTERM)
	})
}

// isRsyncTemp reports whether name is an rsync receiver's temporary file:
// ".NAME.XXXXXX" (receiver.c:get_tmpname, six random characters).
func isRsyncTemp(name string) bool {
	return len(name) > 8 && name[0] == '.' && name[len(name)-7] == '.'
}

// waitForFile waits until a file whose name starts with prefix appears
// directly in dir.
func waitForFile(t *testing.T, dir, prefix string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		names, _ := os.ReadDir(dir)
		for _, n := range names {
			if strings.HasPrefix(n.Name(), prefix) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s* appeared in %s within %v", prefix, dir, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFaultPeerStalled freezes the peer with SIGSTOP (the connection stays
// open, nothing moves): gsync must give up after --timeout, retry with
// backoff, and converge once the peer is resumed with SIGCONT.
func TestFaultPeerStalled(t *testing.T) {
	eachFaultPeer(t, []string{"local", "rsync-3.2.7"}, func(t *testing.T, fp faultPeerType) {
		p := fp.start(t, t.TempDir())
		src, g, _ := startSeeded(t, p, 6, 50, "3")

		mark := len(g.out.String())
		if err := p.stop(); err != nil {
			t.Fatal(err)
		}
		stopped := true
		defer func() {
			if stopped {
				p.cont()
			}
		}()
		os.WriteFile(filepath.Join(src, "during-stall"), payload(4<<20, 2), 0o644)
		os.WriteFile(filepath.Join(src, "small"), []byte("s"), 0o644)
		line := waitOutput(t, g, mark, 30*time.Second, "retry_in=")
		t.Logf("stalled peer: %s", line)
		// A second failed attempt shows the retry loop runs (with backoff)
		// while the peer is still frozen.
		// (over ssh the next attempt first waits for the keepalives to
		// give up on the frozen connection, then for the connect timeout)
		mark2 := strings.Index(g.out.String()[mark:], line) + mark + len(line)
		waitOutput(t, g, mark2, 90*time.Second, "retry_in=")
		if err := p.cont(); err != nil {
			t.Fatal(err)
		}
		stopped = false
		waitEqualAll(t, src, p.dir, 120*time.Second, p.opts)
		if !strings.Contains(g.out.String()[mark:], "no data moved") && !strings.Contains(g.out.String()[mark:], "keepalive") &&
			!strings.Contains(g.out.String()[mark:], "deadline") && !strings.Contains(g.out.String()[mark:], "timeout") {
			t.Errorf("the stall was not reported as a timeout:\n%s", tail(g.out.String()[mark:], 20))
		}
		g.stop(syscall.SIGTERM)
	})
}

// TestFaultTargetReadOnly makes the file system holding the target
// read-only (a tmpfs remounted ro: root ignores permission bits), changes
// the source, requires the failure to be reported and retried, then makes
// it writable again and requires convergence.
func TestFaultTargetReadOnly(t *testing.T) {
	eachFaultPeer(t, []string{"rsync-3.2.7"}, func(t *testing.T, fp faultPeerType) {
		const size = 64 << 20
		base := mountTmpfs(t, size)
		p := fp.start(t, base)
		src, g, _ := startSeeded(t, p, 7, 50, "10")

		mark := len(g.out.String())
		remountTmpfs(t, base, size, true)
		os.WriteFile(filepath.Join(src, "new-while-ro"), []byte("x"), 0o644)
		os.Mkdir(filepath.Join(src, "dir-while-ro"), 0o755)
		os.WriteFile(filepath.Join(src, "dir-while-ro", "f"), []byte("y"), 0o644)
		line := waitOutput(t, g, mark, 30*time.Second, "read-only file system", "Read-only file system")
		t.Logf("reported: %s", line)
		waitOutput(t, g, mark, 30*time.Second, "retry_in=")
		remountTmpfs(t, base, size, false)
		waitEqualAll(t, src, p.dir, 90*time.Second, p.opts)
		g.stop(syscall.SIGTERM)
	})
}

// TestFaultDiskFull fills the file system holding the target (a 4 MiB
// tmpfs) with a file bigger than it: the failure must name the full disk
// and be retried; after the file system grows the target converges.
func TestFaultDiskFull(t *testing.T) {
	eachFaultPeer(t, []string{"rsync-3.2.7"}, func(t *testing.T, fp faultPeerType) {
		base := mountTmpfs(t, 4<<20)
		p := fp.start(t, base)
		src, g, _ := startSeeded(t, p, 8, 30, "10")

		mark := len(g.out.String())
		os.WriteFile(filepath.Join(src, "too-big"), payload(6<<20, 3), 0o644)
		line := waitOutput(t, g, mark, 30*time.Second, "no space left on device", "No space left on device")
		t.Logf("reported: %s", line)
		waitOutput(t, g, mark, 30*time.Second, "retry_in=")
		os.WriteFile(filepath.Join(src, "after-full"), []byte("z"), 0o644)
		remountTmpfs(t, base, 64<<20, false)
		waitEqualAll(t, src, p.dir, 90*time.Second, p.opts)
		assertNoTempFiles(t, p.dir)
		g.stop(syscall.SIGTERM)
	})
}

// assertNoTempFiles fails when a temporary file of gsync or rsync is left in
// the tree (the tree oracle already reports them as extra entries; this
// names the cause).
func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && (strings.HasPrefix(fi.Name(), ".gsync-tmp-") || strings.HasPrefix(fi.Name(), ".~tmp~")) {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

// TestFaultGsyncKilled SIGKILLs gsync in the middle of a batch (a 32 MiB
// file and 500 small ones on their way), changes the source while it is
// down, starts it again and requires the target to converge with no
// temporary files left.
func TestFaultGsyncKilled(t *testing.T) {
	eachFaultPeer(t, []string{"rsync-3.2.7"}, func(t *testing.T, fp faultPeerType) {
		p := fp.start(t, t.TempDir())
		src, g, args := startSeeded(t, p, 9, 50, "10")

		mark := len(g.out.String())
		os.Mkdir(filepath.Join(src, "batch"), 0o755)
		for i := 0; i < 500; i++ {
			os.WriteFile(filepath.Join(src, "batch", fmt.Sprintf("f%03d", i)), payload(1000+i, byte(i)), 0o644)
		}
		os.WriteFile(filepath.Join(src, "batch", "zz-big"), payload(32<<20, 4), 0o644)
		// Kill once the batch has begun to land.
		deadline := time.Now().Add(30 * time.Second)
		for {
			names, _ := os.ReadDir(filepath.Join(p.dir, "batch"))
			if len(names) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the batch did not start within 30 s:\n%s", tail(g.out.String()[mark:], 20))
			}
			time.Sleep(5 * time.Millisecond)
		}
		if code := g.stop(syscall.SIGKILL); code != -1 {
			t.Fatalf("gsync exit code %d after SIGKILL", code)
		}
		if diffs, _ := treediff.Compare(src, p.dir, p.opts[0]); len(diffs) == 0 {
			t.Logf("note: the batch had landed completely before the kill")
		}
		os.WriteFile(filepath.Join(src, "while-dead"), []byte("w"), 0o644)
		os.Remove(filepath.Join(src, "batch", "f000"))
		g2 := startGsync(t, p.env, args...)
		// The startup full sync uses the quick check, and rsync's
		// receiver compares mtimes to the second there: a file that
		// the killed gsync sent while it was being written holds the
		// final content but may keep a sub-second mtime from then.
		opts := p.opts
		if p.name != "local" {
			opts = []treediff.Options{{MtimeGranularity: time.Second, IgnoreRootMtime: true}}
		}
		waitEqualAll(t, src, p.dir, 90*time.Second, opts)
		assertNoTempFiles(t, p.dir)
		g2.stop(syscall.SIGTERM)
	})
}
