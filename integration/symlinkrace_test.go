//go:build linux

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/treediff"
)

// The race of TestSymlinkRace: how long the swaps run per subtest, and how
// long one swapped or restored state is held at most. Short holds give many
// flips per push, so that a path is often one thing when gsync lists it
// and another when it opens it. A race goes on past symlinkRaceFor (up to
// symlinkRaceMax) while the machine is too busy for every racer to have
// swapped symlinkRaceMinSwaps times and the writer to have written as
// often (and, with --once, for gsync to have run symlinkRaceMinRuns times).
const (
	symlinkRaceFor      = 1600 * time.Millisecond
	symlinkRaceMax      = 8 * time.Second
	symlinkRaceMinSwaps = 20
	symlinkRaceMinRuns  = 2
	symlinkRaceHold     = 600 * time.Microsecond
	// symlinkRaceMaxSwaps bounds each swapping loop whatever the clock does.
	symlinkRaceMaxSwaps = 200000
	// The slots: files swapped at the top of SRC, files in the swapped
	// directory d and in the swapped directories d/sub and top/sub. Every
	// push of a racing path is a chance for a leak; before the hardening's
	// per-path backoff a failed push backed the whole target off for 1 s,
	// 2 s, ..., so a live race saw few pushes, each of which must offer
	// many chances.
	raceFileSlots = 12
	raceDirFiles  = 12
	raceSubFiles  = 4
	// symlinkRaceConverge bounds the wait for the target after the race.
	symlinkRaceConverge = 30 * time.Second
)

// TestSymlinkRace is the proof that a local user who can write into
// SRC cannot get files from outside SRC copied into the mirror (the class
// of rsync's CVE-2024-12747). Outside SRC lies outside/, whose 0600 files
// hold a random marker; their names, sizes and mtimes are those of files in
// SRC, so that a read through a swapped path looks like the listed entry.
// While gsync pushes to each target type, goroutines swap
//   - files for symlinks to outside/secret-N and back, by rename over the
//     file and by unlink + symlink,
//   - a directory for a symlink to outside/ (exchanged atomically with
//     renameat2), and a nested directory for a symlink to outside/sub, and
//     back (rename aside, symlink, restore),
//
// a 1.5 MB file is replaced by identical copies so that it leads every
// push, and a writer keeps changing regular files (through descriptors of
// the real directories, never through a path that may be a symlink) so
// that gsync keeps pushing. The swaps that make a push fail start after
// the atomic ones (see race). A scanner reads every regular file of the target's
// tree on disk (the daemon's module, gokrazy's directory) again and again
// during the race and after it. It fails when
//   - any file on the target holds the marker or a secret's content,
//   - any file of outside/ was read (its atime moved: only gsync reads from
//     the source side, and the links on the target dangle there),
//   - outside/ changed,
//   - the target does not converge to the restored source.
//
// "live" runs gsync --delay 0 for the whole race; "once" runs gsync --once
// again and again during the race (the startup full sync walks the whole
// tree). Symlinks on the target are fine: they are copied as symlinks and
// never followed here.
//
// It runs alone (no t.Parallel, so before the parallel tests start): the
// race needs the CPU to hold many swaps per push, and its minimum counts
// would stretch it to symlinkRaceMax on a machine busy with other tests.
func TestSymlinkRace(t *testing.T) {
	for _, mp := range mirrorPeers {
		if mp.name == "rsync-3.2.7" {
			// The same sender as against 3.5; make test's time is
			// better spent on the other target types.
			continue
		}
		t.Run(mp.name, func(t *testing.T) {
			t.Run("live", func(t *testing.T) { symlinkRaceLive(t, mp.start(t)) })
			t.Run("once", func(t *testing.T) { symlinkRaceOnce(t, mp.start(t)) })
		})
	}
}

func symlinkRaceLive(t *testing.T, p mirrorPeer) {
	rt := newRaceTree(t)
	if p.noDirToFile {
		rt.fileSlotsOnly()
	}
	sc := startLeakScanner(t, rt, p.dir)
	args := append(append([]string(nil), p.args...), "--delay", "0", rt.src, p.target)
	g := startGsync(t, p.env, args...)
	if err := raceConverge(rt.src, p.dir, p.opts, symlinkRaceConverge); err != nil {
		t.Fatalf("initial sync: %v", err)
	}
	sc.setPhase("during the race")
	stats := rt.race(t, nil, nil)
	sc.setPhase("after the race, while converging")
	cerr := raceConverge(rt.src, p.dir, p.opts, symlinkRaceConverge)
	code := g.stop(syscall.SIGTERM)
	sc.stopAndCheck(t, "final walk")
	rt.checkOutside(t)
	if cerr != nil {
		t.Errorf("target did not converge after the race: %v", cerr)
	}
	t.Logf("%s; gsync exited %d; %d scans of the target", stats, code, sc.count())
}

func symlinkRaceOnce(t *testing.T, p mirrorPeer) {
	rt := newRaceTree(t)
	sc := startLeakScanner(t, rt, p.dir)
	args := append(append([]string(nil), p.args...), "--once", rt.src, p.target)
	sc.setPhase("during the race")
	var runs atomic.Int64
	codes := map[int]int{}
	stats := rt.race(t, func(ctx context.Context) {
		for ctx.Err() == nil && runs.Load() < 1000 {
			code, _ := runGsyncEnv(t, p.env, args...)
			runs.Add(1)
			codes[code]++
		}
	}, func() bool { return runs.Load() >= symlinkRaceMinRuns })
	// A run during the race may have sent a writer's file as rewritten
	// after it was listed: the target has the final content with the
	// mtime listed before, in the same second, which a full sync's quick
	// check (rsync's: whole seconds) leaves alone. Move those mtimes out
	// of the race's seconds. A few final runs at most: gokrazy/rsync
	// deletes at most one entry per directory and session, and the race
	// may have left d.aside and top/sub.aside on the target.
	rt.settleWrites(t)
	sc.setPhase("after the race, final --once")
	var cerr error
	for i := 0; i < 3; i++ {
		code, out := runGsyncEnv(t, p.env, args...)
		if code != 0 {
			t.Errorf("gsync --once on the restored source exited %d:\n%s", code, tail(out, 30))
			break
		}
		if cerr = raceConverge(rt.src, p.dir, p.opts, 0); cerr == nil {
			break
		}
	}
	sc.stopAndCheck(t, "final walk")
	rt.checkOutside(t)
	if cerr != nil {
		t.Errorf("target differs from the restored source after the final runs of gsync --once: %v", cerr)
	}
	t.Logf("%s; %d gsync --once runs during the race, exit codes %v; %d scans of the target", stats, runs.Load(), codes, sc.count())
}

// fileSlotsOnly keeps the directories in place. A peer that cannot
// replace a directory by a file cannot replace one by a symlink either
// (gokrazy/rsync v0.3.7: "renameat ... file exists" ends its session), so
// every live push after a directory swap fails and gsync backs off; the
// startup full sync (symlinkRaceOnce) still races the directories.
func (rt *raceTree) fileSlotsOnly() {
	var keep []raceSlot
	for _, s := range rt.slots {
		if !s.dir {
			keep = append(keep, s)
		}
	}
	rt.slots = keep
}

// raceTree is the source and the outside directory of a race.
type raceTree struct {
	src, outside string
	tmp          string // beside SRC, on its file system: where swapped-in entries are made
	marker       []byte
	secrets      map[string]string // content -> path below outside/
	mtime        time.Time         // of the look-alike files on both sides
	before       string            // snapshot of outside/
	atimes       map[string]unix.Timespec
	slots        []raceSlot
	writes       []raceWrite
}

// raceSlot is a path below SRC that a racer swaps for a symlink and back.
type raceSlot struct {
	rel    string
	link   string // the symlink's target, relative: it dangles on the target
	dir    bool
	unlink bool // file: unlink + symlink, else rename a symlink over it
	// exchange: dir swapped atomically with a symlink made beside SRC
	// (renameat2 RENAME_EXCHANGE), else renamed aside, a symlink made in
	// its place, then removed and the directory renamed back.
	exchange bool
	content  []byte // file: its regular content
	// pace: no swap; the file is replaced, again and again, by one of two
	// hard links made beside SRC to identical files (same size and
	// mtime), so that it is in every push, first in the file list, and
	// its transfer widens the window between listing the swapped files
	// and opening them.
	pace bool
}

// raceWrite is a file the writer rewrites through its directory's descriptor.
type raceWrite struct {
	dir  string // below SRC
	name string
}

// Sizes of the look-alike files: several KiB each, different per file.
func raceSize(i int) int { return 1500 + 97*i }

func newRaceTree(t *testing.T) *raceTree {
	t.Helper()
	base := t.TempDir()
	rt := &raceTree{
		src: filepath.Join(base, "src"), outside: filepath.Join(base, "outside"), tmp: filepath.Join(base, "tmp"),
		secrets: map[string]string{}, atimes: map[string]unix.Timespec{},
		mtime: time.Now().Add(-time.Hour).Truncate(time.Second),
	}
	var b [16]byte
	rand.Read(b[:])
	rt.marker = []byte("gsync-race-secret-" + hex.EncodeToString(b[:]))
	mkdir := func(p string, mode os.FileMode) {
		if err := os.MkdirAll(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, data []byte, mode os.FileMode) {
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	// secret writes outside/rel, and its look-alike below SRC when src is
	// not empty, with the same size and mode.
	secret := func(rel, src string) []byte {
		n++
		size := raceSize(n)
		var s bytes.Buffer
		for s.Len() < size {
			fmt.Fprintf(&s, "%s %s\n", rt.marker, rel)
		}
		data := s.Bytes()[:size]
		write(filepath.Join(rt.outside, rel), data, 0o600)
		rt.secrets[string(data)] = rel
		if src == "" {
			return nil
		}
		plain := bytes.Repeat([]byte("plain "+src+"\n"), size/len(src)+1)[:size]
		write(filepath.Join(rt.src, src), plain, 0o644)
		return plain
	}

	mkdir(filepath.Join(rt.outside, "sub"), 0o755)
	mkdir(rt.tmp, 0o755)
	for _, d := range []string{"d/sub", "top/sub", "churn", "stay"} {
		mkdir(filepath.Join(rt.src, d), 0o755)
	}
	// File slots at the top of SRC, each swapped for a symlink to its own
	// secret: the even ones by rename, the odd ones by unlink + symlink.
	for i := 0; i < raceFileSlots; i++ {
		name := fmt.Sprintf("a%d", i)
		plain := secret(fmt.Sprintf("secret-%d", i), name)
		rt.slots = append(rt.slots, raceSlot{rel: name, link: "../outside/secret-" + itoa(i), unlink: i%2 == 1, content: plain})
	}
	// Directory slots: d -> outside/, top/sub -> outside/sub. outside/
	// holds files with the names of d's and sub's files, plus names SRC
	// does not have.
	for i := 0; i < raceDirFiles; i++ {
		secret(fmt.Sprintf("f%d", i), fmt.Sprintf("d/f%d", i))
	}
	for i := 0; i < raceSubFiles; i++ {
		g := fmt.Sprintf("g%d", i)
		write(filepath.Join(rt.src, "top", "sub", g), secret("sub/"+g, "d/sub/"+g), 0o644)
	}
	secret("secret", "")
	secret("sub/secret", "")
	secret("w0", "")
	secret("sub/w0", "")
	pace := bytes.Repeat([]byte("pace\n"), raceSize(0)*200)
	write(filepath.Join(rt.src, "0pace"), pace, 0o644)
	for _, n := range []string{"pace-a", "pace-b"} {
		write(filepath.Join(rt.tmp, n), pace, 0o644)
	}
	rt.slots = append(rt.slots,
		raceSlot{rel: "0pace", pace: true},
		raceSlot{rel: "d", link: "../outside", dir: true, exchange: true},
		raceSlot{rel: "top/sub", link: "../../outside/sub", dir: true})
	// Files the writer changes: below the swapped directories (through
	// descriptors of the real ones) and in churn/.
	rt.writes = []raceWrite{{"d", "w0"}, {"d", "w1"}, {"d/sub", "w0"}, {"top/sub", "w0"},
		{"churn", "c0"}, {"churn", "c1"}, {"churn", "c2"}, {"churn", "c3"}}
	for _, w := range rt.writes {
		write(filepath.Join(rt.src, w.dir, w.name), []byte("start "+w.name+"\n"), 0o644)
	}
	write(filepath.Join(rt.src, "stay", "plain"), []byte("never changes\n"), 0o644)

	// The look-alikes on both sides get the same mtime; outside/ gets an
	// atime below its mtime, so that the next read moves it (relatime).
	rt.before = snapshot(t, rt.outside)
	atime := rt.mtime.Add(-time.Hour)
	for _, root := range []string{rt.src, rt.outside, rt.tmp} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if d.Type().IsRegular() {
				if err := os.Chtimes(p, atime, rt.mtime); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		})
	}
	filepath.WalkDir(rt.outside, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				t.Fatal(err)
			}
			rt.atimes[p] = st.Atim
		}
		return nil
	})
	if len(rt.atimes) != len(rt.secrets) {
		t.Fatalf("outside/ has %d files, want %d", len(rt.atimes), len(rt.secrets))
	}
	return rt
}

// leak reports what of outside/ data holds, or "".
func (rt *raceTree) leak(data []byte) string {
	if rel, ok := rt.secrets[string(data)]; ok {
		return "the content of outside/" + rel
	}
	i := bytes.Index(data, rt.marker)
	if i < 0 {
		return ""
	}
	line := data[i+len(rt.marker):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	return fmt.Sprintf("the secret marker (from outside/%s)", strings.TrimSpace(string(line)))
}

// raceStats counts what the racers and the writer did.
type raceStats struct {
	took   time.Duration
	swaps  map[string]int
	writes int
}

func (s raceStats) String() string {
	var b strings.Builder
	files, least := 0, -1
	for k, n := range s.swaps {
		if strings.Contains(k, "/") || !strings.HasPrefix(k, "a") {
			continue
		}
		files += n
		if least < 0 || n < least {
			least = n
		}
	}
	fmt.Fprintf(&b, "raced %v: %d file swaps (at least %d per file), d swapped %d times, top/sub %d times, %d writes",
		s.took.Round(time.Millisecond), files, least, s.swaps["d"], s.swaps["top/sub"], s.writes)
	return b.String()
}

// race runs the racers and the writer (and, when along is not nil, along
// in the calling goroutine with a context that ends with the race) for
// symlinkRaceFor, or longer while they, or enough (when not nil), have
// not done enough yet, but at most symlinkRaceMax. It then waits for them.
// Every racer ends with its slot restored; the source is then checked to
// hold no symlink.
func (rt *raceTree) race(t *testing.T, along func(ctx context.Context), enough func() bool) raceStats {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), symlinkRaceMax)
	var wg sync.WaitGroup
	defer func() {
		// Also when along fails the test: no racer outlives race.
		cancel()
		wg.Wait()
	}()
	var mu sync.Mutex
	var errs []error
	stats := raceStats{swaps: map[string]int{}}
	// The writer's directories are opened before any swap: later, a
	// path such as d/sub may lead through a symlink.
	fds := map[string]int{}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, w := range rt.writes {
		if _, ok := fds[w.dir]; ok {
			continue
		}
		fd, err := unix.Open(filepath.Join(rt.src, w.dir), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("open %s: %v", w.dir, err)
		}
		fds[w.dir] = fd
	}
	// The race opens with the atomic swaps alone (a file renamed over by
	// a symlink and back, a directory exchanged with a symlink): they
	// never make a push fail, so gsync keeps pushing them at full rate.
	// The other swaps and the writer join after 2/5 of the race: they
	// make pushes fail (vanished, changed while sent), and before issue
	// 16's per-path backoff a failure backed the whole target off for
	// seconds.
	stage := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(symlinkRaceFor * 2 / 5):
			return true
		}
	}
	counts := make([]atomic.Int64, len(rt.slots)+1) // the last one counts writes
	for i, s := range rt.slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if (s.unlink || s.dir && !s.exchange) && !stage() {
				return
			}
			n, err := rt.swapLoop(ctx, s, uint64(i)+1, &counts[i])
			mu.Lock()
			defer mu.Unlock()
			stats.swaps[s.rel] = n
			if err != nil {
				errs = append(errs, fmt.Errorf("swap %s: %w", s.rel, err))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if !stage() {
			return
		}
		n, err := rt.writeLoop(ctx, fds, &counts[len(rt.slots)])
		mu.Lock()
		defer mu.Unlock()
		stats.writes = n
		if err != nil {
			errs = append(errs, fmt.Errorf("writer: %w", err))
		}
	}()
	// The monitor ends the race once it has gone on long enough.
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			return
		case <-time.After(symlinkRaceFor):
		}
		for {
			done := enough == nil || enough()
			for i := range counts {
				done = done && counts[i].Load() >= symlinkRaceMinSwaps
			}
			if done {
				cancel()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	if along != nil {
		along(ctx)
	}
	wg.Wait()
	stats.took = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("the race itself failed: %v", err)
	}
	filepath.WalkDir(rt.src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatalf("walk the restored source: %v", err)
		}
		if d.Type()&fs.ModeSymlink != 0 || strings.HasSuffix(p, ".aside") {
			t.Fatalf("the source was not restored: %s is left", p)
		}
		return nil
	})
	return stats
}

// hold sleeps for a short random while, or only yields.
func hold(rng *mrand.Rand) {
	if d := time.Duration(rng.Int64N(int64(symlinkRaceHold))); d > 50*time.Microsecond {
		time.Sleep(d)
	} else {
		runtime.Gosched()
	}
}

// swapLoop swaps slot s for its symlink and back until ctx ends; the slot
// is restored when it returns without error.
func (rt *raceTree) swapLoop(ctx context.Context, s raceSlot, seed uint64, count *atomic.Int64) (int, error) {
	rng := mrand.New(mrand.NewPCG(seed, 0x5eed))
	p := filepath.Join(rt.src, s.rel)
	aside := p + ".aside"
	// Made outside SRC and renamed in: no temporary name shows in SRC.
	tmp := filepath.Join(rt.tmp, strings.ReplaceAll(s.rel, "/", "_"))
	exchange := s.exchange
	if exchange {
		if err := os.Symlink(s.link, tmp); err != nil {
			return 0, err
		}
	}
	n := 0
	for ; n < symlinkRaceMaxSwaps && ctx.Err() == nil; n++ {
		switch {
		case s.pace:
			link := filepath.Join(rt.tmp, "pace-new")
			if err := os.Link(filepath.Join(rt.tmp, []string{"pace-a", "pace-b"}[n%2]), link); err != nil {
				return n, err
			}
			if err := os.Rename(link, p); err != nil {
				return n, err
			}
			time.Sleep(5*time.Millisecond + time.Duration(rng.IntN(10000))*time.Microsecond)
		case exchange:
			err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, p, unix.RENAME_EXCHANGE)
			if n == 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP)) {
				// No RENAME_EXCHANGE on this file system: swap by
				// rename aside.
				exchange = false
				if err := os.Remove(tmp); err != nil {
					return n, err
				}
				continue
			}
			if err != nil {
				return n, &os.LinkError{Op: "exchange", Old: tmp, New: p, Err: err}
			}
			hold(rng)
			if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, p, unix.RENAME_EXCHANGE); err != nil {
				return n, &os.LinkError{Op: "exchange back", Old: tmp, New: p, Err: err}
			}
		case s.dir:
			if err := os.Rename(p, aside); err != nil {
				return n, err
			}
			if err := os.Symlink(s.link, p); err != nil {
				return n, err
			}
			hold(rng)
			if err := os.Remove(p); err != nil {
				return n, err
			}
			if err := os.Rename(aside, p); err != nil {
				return n, err
			}
		case s.unlink:
			if err := os.Remove(p); err != nil {
				return n, err
			}
			if err := os.Symlink(s.link, p); err != nil {
				return n, err
			}
			hold(rng)
			if err := os.Remove(p); err != nil {
				return n, err
			}
			if err := rt.createRegular(p, s.content); err != nil {
				return n, err
			}
		default:
			if err := os.Symlink(s.link, tmp); err != nil {
				return n, err
			}
			if err := os.Rename(tmp, p); err != nil {
				return n, err
			}
			hold(rng)
			if err := rt.createRegular(tmp, s.content); err != nil {
				return n, err
			}
			if err := os.Rename(tmp, p); err != nil {
				return n, err
			}
		}
		hold(rng)
		count.Add(1)
	}
	return n, nil
}

// createRegular creates the regular file p (never through a symlink) with
// data and the look-alike mtime.
func (rt *raceTree) createRegular(p string, data []byte) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &fs.PathError{Op: "create", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	ts := unix.NsecToTimespec(rt.mtime.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// writeLoop rewrites the writer's files until ctx ends, each time one byte
// longer than before (so that a full sync's quick check never mistakes a
// rewrite for the old file), through descriptors of their real
// directories: never through a path that a racer may have made a symlink.
func (rt *raceTree) writeLoop(ctx context.Context, fds map[string]int, count *atomic.Int64) (int, error) {
	rng := mrand.New(mrand.NewPCG(99, 0x5eed))
	sizes := map[raceWrite]int{}
	n := 0
	for ; n < symlinkRaceMaxSwaps && ctx.Err() == nil; n++ {
		w := rt.writes[rng.IntN(len(rt.writes))]
		sizes[w] = max(sizes[w]+1, 100)
		data := bytes.Repeat([]byte{'a' + byte(n%26)}, sizes[w])
		fd, err := unix.Openat(fds[w.dir], w.name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return n, fmt.Errorf("open %s/%s: %w", w.dir, w.name, err)
		}
		_, err = unix.Write(fd, data)
		unix.Close(fd)
		if err != nil {
			return n, err
		}
		count.Add(1)
		time.Sleep(2*time.Millisecond + time.Duration(rng.IntN(4000))*time.Microsecond)
	}
	return n, nil
}

// settleWrites gives the writer's files an mtime two hours before the
// race, without following symlinks.
func (rt *raceTree) settleWrites(t *testing.T) {
	t.Helper()
	ts := unix.NsecToTimespec(rt.mtime.Add(-2 * time.Hour).UnixNano())
	for _, w := range rt.writes {
		p := filepath.Join(rt.src, w.dir, w.name)
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatalf("set the mtime of %s: %v", p, err)
		}
	}
}

// checkOutside fails when a file of outside/ was read (atime moved) or
// outside/ changed. Call it last: snapshot reads the files.
func (rt *raceTree) checkOutside(t *testing.T) {
	t.Helper()
	var read []string
	for p, at := range rt.atimes {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Errorf("outside/: %v", err)
			continue
		}
		if st.Atim != at {
			rel, _ := filepath.Rel(rt.outside, p)
			read = append(read, rel)
		}
	}
	sort.Strings(read)
	if len(read) > 0 {
		t.Errorf("files outside SRC were read through symlinks swapped into SRC (their atime moved): %s", strings.Join(read, ", "))
	}
	if after := snapshot(t, rt.outside); after != rt.before {
		t.Errorf("outside/ changed:\nbefore:\n%s\nafter:\n%s", rt.before, after)
	}
}

// raceConverge polls until dst equals src under every option or the
// timeout passes, and returns the remaining differences then.
func raceConverge(src, dst string, opts []treediff.Options, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !sameAll(src, dst, opts) {
		if time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for _, o := range opts {
			diffs, err := treediff.Compare(src, dst, o)
			if err == nil && len(diffs) > 0 {
				err = fmt.Errorf("%d differences:\n%s", len(diffs), treediff.Format(diffs, 20))
			}
			if err != nil {
				if timeout > 0 {
					err = fmt.Errorf("after %v: %w", timeout, err)
				}
				return err
			}
		}
		return nil // converged between the last poll and the report
	}
	return nil
}

// leakScanner reads every regular file below a target's directory again
// and again until stopped, and remembers each file that held data from
// outside/.
type leakScanner struct {
	rt   *raceTree
	dir  string
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	phase string
	scans int
	leaks []string
	seen  map[string]bool
}

func startLeakScanner(t *testing.T, rt *raceTree, dir string) *leakScanner {
	s := &leakScanner{rt: rt, dir: dir, stop: make(chan struct{}), done: make(chan struct{}),
		phase: "during the initial sync", seen: map[string]bool{}}
	go func() {
		defer close(s.done)
		// Bounded by the stop call (always made, at latest in the
		// cleanup) and by a generous deadline of its own.
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			select {
			case <-s.stop:
				return
			default:
			}
			s.scan(64 << 10)
			time.Sleep(500 * time.Microsecond)
		}
	}()
	t.Cleanup(s.halt)
	return s
}

func (s *leakScanner) setPhase(p string) {
	s.mu.Lock()
	s.phase = p
	s.mu.Unlock()
}

func (s *leakScanner) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scans
}

func (s *leakScanner) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// stopAndCheck stops the scanner, walks the target once more and fails
// the test for every leak seen.
func (s *leakScanner) stopAndCheck(t *testing.T, phase string) {
	t.Helper()
	s.halt()
	s.setPhase(phase)
	s.scan(64 << 20)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.leaks) > 0 {
		t.Errorf("the target held data from outside SRC (%d files):\n%s", len(s.leaks), strings.Join(s.leaks[:min(len(s.leaks), 15)], "\n"))
	}
}

// scan reads every regular file below the target's directory once, up to
// limit bytes of each (the secrets are a few KiB and a leak starts at a
// file's beginning; the final walk reads everything), never following a
// symlink.
func (s *leakScanner) scan(limit int64) {
	filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil // vanished meanwhile, or not a regular file
		}
		data, err := readNoFollow(p, limit)
		if err != nil {
			return nil
		}
		if what := s.rt.leak(data); what != "" {
			rel, _ := filepath.Rel(s.dir, p)
			s.mu.Lock()
			if key := rel + "\x00" + what; !s.seen[key] {
				s.seen[key] = true
				s.leaks = append(s.leaks, fmt.Sprintf("%q held %s (%s)", rel, what, s.phase))
			}
			s.mu.Unlock()
		}
		return nil
	})
	s.mu.Lock()
	s.scans++
	s.mu.Unlock()
}

// readNoFollow reads the regular file p (at most limit bytes) without
// following a symlink and without blocking on a FIFO.
func readNoFollow(p string, limit int64) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	return io.ReadAll(io.LimitReader(f, limit))
}
