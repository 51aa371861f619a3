package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/treediff"
)

// stress reports whether the long versions of the reliability tests run
// (make stress sets GSYNC_STRESS=1).
func stress() bool { return os.Getenv("GSYNC_STRESS") == "1" }

// churnOps and churnSeeds size a churn run: 300 operations and one seed per
// target in make test, 3,000 operations and three seeds in make stress.
func churnOps() int {
	if n, err := strconv.Atoi(os.Getenv("GSYNC_CHURN_OPS")); err == nil && n > 0 {
		return n
	}
	if stress() {
		return 3000
	}
	return 300
}

func churnSeeds() []uint64 {
	if stress() {
		return []uint64{11, 12, 13}
	}
	return []uint64{11}
}

// mirrorPeer is one target gsync mirrors into, with the comparisons that
// must hold once it has converged.
type mirrorPeer struct {
	name   string
	target string   // TARGET argument
	args   []string // extra gsync arguments (ssh options)
	env    []string
	dir    string // where the target tree lies on disk
	opts   []treediff.Options
	// validUTF8: the peer cannot hold names that are not valid UTF-8.
	validUTF8 bool
	// noDirToFile: the peer cannot replace a directory by a file.
	noDirToFile bool
	// freshPerSeed: every seed gets a new peer. gokrazy/rsync removes at
	// most one entry per directory per session, so the next seed's
	// startup full sync cannot clear the previous seed's tree (README,
	// rsync daemon targets).
	freshPerSeed bool
}

func localMirrorPeer(t *testing.T) mirrorPeer {
	dir := filepath.Join(t.TempDir(), "mirror")
	return mirrorPeer{name: "local", target: dir, dir: dir, opts: []treediff.Options{{}}}
}

// rsyncMirrorPeer starts a C rsync daemon (bin, "" for rsync from PATH) that
// offers at most protocol proto (0: its newest, 32).
func rsyncMirrorPeer(t *testing.T, bin, label string, proto int) mirrorPeer {
	dir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Binary: bin, Protocol: proto, Modules: []Module{{Name: "m", Path: dir}}})
	name := label
	if proto != 0 {
		name += fmt.Sprintf("/protocol=%d", proto)
	} else {
		proto = 32
	}
	return mirrorPeer{name: name, target: d.URL("m"), env: []string{"PATH="}, dir: dir, opts: rsyncPeerOptions(proto)}
}

func sshMirrorPeer(t *testing.T) mirrorPeer {
	s := startSSHPeer(t)
	dir := filepath.Join(t.TempDir(), "mirror")
	return mirrorPeer{name: "ssh", target: "127.0.0.1:" + dir, args: sshArgs(s), env: []string{"PATH="},
		dir: dir, opts: sshCompareOptions}
}

func gokrazyMirrorPeer(t *testing.T) mirrorPeer {
	p := startGokrazyPeer(t)
	return mirrorPeer{name: p.name, target: p.url, env: []string{"PATH="}, dir: p.dir, opts: p.opts, validUTF8: true, noDirToFile: true, freshPerSeed: true}
}

// mirrorPeers are the target types every reliability scenario runs against.
// rsync 3.2.7 is skipped with a reason when $GSYNC_RSYNC_327 is unset.
var mirrorPeers = []struct {
	name  string
	start func(t *testing.T) mirrorPeer
}{
	{"local", localMirrorPeer},
	{"rsync-3.5", func(t *testing.T) mirrorPeer { return rsyncMirrorPeer(t, "", "rsync-3.5", 0) }},
	{"rsync-3.2.7", func(t *testing.T) mirrorPeer { return rsyncMirrorPeer(t, rsync327(t), "rsync-3.2.7", 0) }},
	{"ssh", sshMirrorPeer},
	{"gokrazy", gokrazyMirrorPeer},
}

// TestChurnAllTargets runs the seeded churner (the full operation mix, see
// churner.step) against every target type at --delay 0 and --delay 1, then
// requires the target to equal the source within a bounded time. It also
// runs the daemons with the protocol forced to 31, 30 and 29 (C rsync 3.2.7,
// and C rsync 3.5 with a quarter of the operations, at least 80). The rsync
// daemon and gokrazy cases at --delay 0 (every protocol from 32 down to
// gokrazy's 27) start from an acceptance tree as well, with symlinks, odd
// names, sub-second mtimes and setuid/setgid/sticky bits (bigTree), which
// the startup full sync carries and the churn leaves alone: rsync 3.5 at
// protocol 32 from 5,000 files in 300 directories (this was
// TestDaemonLive), the others from 1,000 files in 60 directories (5,000 in
// make stress: the size is the protocol-32 case's to prove).
func TestChurnAllTargets(t *testing.T) {
	t.Parallel()
	type tc struct {
		name  string
		delay string
		start func(t *testing.T) mirrorPeer
		big   int // files of the acceptance tree to start with (0: none)
		ops   int // churn operations (0: churnOps())
	}
	smallBig := 1000
	if stress() {
		smallBig = 5000
	}
	var cases []tc
	for _, p := range mirrorPeers {
		for _, d := range []string{"0", "1"} {
			big := 0
			switch {
			case d == "0" && p.name == "rsync-3.5":
				big = 5000
			case d == "0" && p.name == "gokrazy":
				big = smallBig
			}
			cases = append(cases, tc{p.name + "/delay=" + d, d, p.start, big, 0})
		}
	}
	for _, proto := range []int{31, 30, 29} {
		cases = append(cases, tc{fmt.Sprintf("rsync-3.5/protocol=%d/delay=0", proto), "0", func(t *testing.T) mirrorPeer {
			return rsyncMirrorPeer(t, "", "rsync-3.5", proto)
		}, smallBig, max(80, churnOps()/4)})
		cases = append(cases, tc{fmt.Sprintf("rsync-3.2.7/protocol=%d/delay=0", proto), "0", func(t *testing.T) mirrorPeer {
			return rsyncMirrorPeer(t, rsync327(t), "rsync-3.2.7", proto)
		}, 0, 0})
	}
	// The acceptance trees are made once and copied into each case: one
	// per size and name set (gokrazy's valid UTF-8 names).
	type bigKey struct {
		files     int
		validUTF8 bool
	}
	bigTrees := map[bigKey]string{}
	for _, c := range cases {
		if c.big == 0 {
			continue
		}
		validUTF8 := strings.HasPrefix(c.name, "gokrazy/") // gokrazyMirrorPeer's validUTF8
		k := bigKey{c.big, validUTF8}
		if bigTrees[k] != "" {
			continue
		}
		names := oddNames
		if validUTF8 {
			names = validUTF8Names()
		}
		dir := filepath.Join(t.TempDir(), "big")
		os.Mkdir(dir, 0o755)
		bigTree(t, dir, c.big, c.big*3/50, names)
		bigTrees[k] = dir
	}
	var total, runs atomic.Int64
	t.Cleanup(func() {
		t.Logf("%d churn operations over %d runs, each converged with zero differences", total.Load(), runs.Load())
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := c.start(t)
			for i, seed := range churnSeeds() {
				if i > 0 && p.freshPerSeed {
					p = c.start(t)
				}
				big := ""
				if c.big > 0 && i == 0 {
					var ok bool
					if big, ok = bigTrees[bigKey{c.big, p.validUTF8}]; !ok {
						t.Fatalf("no acceptance tree of %d files made for valid UTF-8 names %v", c.big, p.validUTF8)
					}
				}
				ops := c.ops
				if ops == 0 {
					ops = churnOps()
				}
				total.Add(int64(churnRun(t, p, c.delay, seed, ops, big)))
				runs.Add(1)
			}
		})
	}
}

// churnRun seeds a source tree (with a copy of the tree big below "big"
// when big is not ""), starts gsync into p, churns the source with ops
// operations and waits for the target to converge. It returns the number
// of operations done.
func churnRun(t *testing.T, p mirrorPeer, delay string, seed uint64, ops int, big string) int {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	os.Mkdir(src, 0o755)
	if p.validUTF8 {
		seedTree(t, src, seed, 100, validUTF8Names()...)
	} else {
		seedTree(t, src, seed, 100)
	}
	if big != "" {
		if out, err := exec.Command("cp", "-a", big, filepath.Join(src, "big")).CombinedOutput(); err != nil {
			t.Fatalf("copy the acceptance tree: %v %s", err, out)
		}
	}
	args := append(append([]string(nil), p.args...), "--delay", delay)
	if big == "" {
		// Not with the acceptance tree: gokrazy's receiver (in this
		// race-instrumented test process) may take longer than that to
		// write its 5,000 files before it answers.
		args = append(args, "--timeout", "20")
	}
	g := startGsync(t, p.env, append(args, src, p.target)...)
	waitEqualAll(t, src, p.dir, 60*time.Second, p.opts)

	c := newChurner(t, src, seed)
	c.noDirToFile = p.noDirToFile
	if p.validUTF8 {
		c.names = validUTF8Names()
	}
	if big != "" {
		c.fixed = "big" // listing it for every operation would cost more than the churn
	}
	defer c.dump()
	// Several rounds with pauses, so that batches are cut and in flight
	// while the tree keeps changing.
	const rounds = 4
	for r := 0; r < rounds; r++ {
		c.run(ops / rounds)
		time.Sleep(time.Duration(200+c.rng.IntN(800)) * time.Millisecond)
	}
	waitEqualAll(t, src, p.dir, 90*time.Second, p.opts)
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143", code)
	}
	if out := g.out.String(); strings.Contains(out, "panic") || strings.Contains(out, "DATA RACE") {
		t.Errorf("gsync output:\n%s", tail(out, 40))
	}
	return c.ops
}

// TestHardLinkInPlaceWrite: writing in place through one name of a
// hard-linked file changes the others without an inotify event for them.
// Without -H the names are separate files on the target (as with rsync),
// so the others are brought over by the next full sync (SIGHUP, overflow
// or restart), not live; the churner therefore never writes in place to a
// file with more than one link. With -H the push of the written name lists
// its other names, so all of them change at once and stay one inode.
func TestHardLinkInPlaceWrite(t *testing.T) {
	t.Parallel()
	for _, hard := range []bool{false, true} {
		t.Run(fmt.Sprintf("H=%v", hard), func(t *testing.T) {
			t.Parallel()
			src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
			os.WriteFile(filepath.Join(src, "a"), []byte("one"), 0o644)
			os.Mkdir(filepath.Join(src, "d"), 0o755)
			args := []string{"--delay", "0", src, dst}
			if hard {
				args = append([]string{"-H"}, args...)
			}
			g := startGsync(t, nil, args...)
			waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
			if err := os.Link(filepath.Join(src, "a"), filepath.Join(src, "d", "b")); err != nil {
				t.Fatal(err)
			}
			waitEqual(t, src, dst, 30*time.Second, treediff.Options{CompareHardLinks: hard})
			f, err := os.OpenFile(filepath.Join(src, "a"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(" two")
			f.Close()
			waitForContent(t, filepath.Join(dst, "a"), "one two", 30*time.Second)
			if hard {
				// No full sync: the batch of "a" brought d/b along.
				waitEqual(t, src, dst, 30*time.Second, treediff.Options{CompareHardLinks: true})
			} else {
				g.cmd.Process.Signal(syscall.SIGHUP)
				waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
			}
			g.stop(syscall.SIGTERM)
		})
	}
}

// TestInPlaceWriteWithoutClose writes to files without a close-write event:
// truncate(2) by path, and a writer that keeps its file open (a log). Both
// raise only IN_MODIFY; the changes must arrive live, without a full sync.
func TestInPlaceWriteWithoutClose(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
	os.WriteFile(filepath.Join(src, "truncated"), payload(4096, 7), 0o644)
	g := startGsync(t, nil, "--delay", "0", src, dst)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	log, err := os.Create(filepath.Join(src, "open.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{}) // the create arrives
	if err := os.Truncate(filepath.Join(src, "truncated"), 100); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		fmt.Fprintf(log, "line %d\n", i)
		waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	}
	g.stop(syscall.SIGTERM)
	if n := strings.Count(g.out.String(), "full sync done"); n != 1 {
		t.Errorf("%d full syncs, want only the startup one:\n%s", n, g.out.String())
	}
}

// TestFullSyncKeepsPendingChanges: a same-size rewrite that keeps the mtime
// (cp -p twice in one second) is waiting in the collator when a full sync
// is requested (SIGHUP). The full sync's quick check cannot see the
// change, so the pending event must still be pushed (with --ignore-times
// semantics) afterwards.
func TestFullSyncKeepsPendingChanges(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "mirror")
	f := filepath.Join(src, "f")
	os.WriteFile(f, []byte("AAAA"), 0o644)
	mt := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(f, mt, mt)
	g := startGsync(t, nil, "--delay", "2", "--log-level", "debug", src, dst)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	mark := len(g.out.String())
	os.WriteFile(f, []byte("BBBB"), 0o644)
	os.Chtimes(f, mt, mt)
	waitOutput(t, g, mark, 10*time.Second, "msg=event op=Attrib path=f") // in the collator now
	g.cmd.Process.Signal(syscall.SIGHUP)
	waitEqual(t, src, dst, 30*time.Second, treediff.Options{})
	g.stop(syscall.SIGTERM)
	if n := strings.Count(g.out.String(), "full sync done"); n != 2 {
		t.Errorf("%d full syncs, want the startup one and SIGHUP's:\n%s", n, g.out.String())
	}
}
