package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// receiverRows are the receiver-side options under test, each given the
// same way to gsync and to C rsync.
var receiverRows = []struct {
	name string
	opts []string
	// local: the row runs against the local target only.
	local bool
	// check, if set, is a further check of each side's target t (the
	// source is src) once the two are equal.
	check func(t *testing.T, src, tdir string)
}{
	{name: "backup", opts: []string{"-b"}},
	{name: "backup-dir", opts: []string{"--backup-dir=../bak", "--suffix=.old"}},
	{name: "update", opts: []string{"-u"}},
	{name: "existing", opts: []string{"--existing"}},
	{name: "ignore-existing", opts: []string{"--ignore-existing"}},
	{name: "temp-dir", opts: []string{"-T", "{tmp}"}}, // rsync 3.5.0 refuses a -T that climbs ("../tmp")
	// A temp dir on another file system (tmpfs): the file is copied
	// next to its target instead of renamed (util1.c:robust_rename).
	{name: "temp-dir-xdev", opts: []string{"-T", "{xdev}"}, local: true},
	{name: "inplace", opts: []string{"--inplace"}},
	// The backup of a file updated in place is a copy made before the
	// write (a hard link would change with it).
	{name: "backup-inplace", opts: []string{"-b", "--inplace"}},
	{name: "append", opts: []string{"--append"}},
	{name: "omit-dir-times", opts: []string{"-O"}, check: receiverTimesLeft(".", "d", "sub")},
	{name: "omit-link-times", opts: []string{"-J"}, check: receiverTimesLeft("ln")},
	{name: "delete-before", opts: []string{"--delete-before"}},
	{name: "delete-during", opts: []string{"--delete-during"}},
	{name: "delete-delay", opts: []string{"--delete-delay"}},
	{name: "delete-after", opts: []string{"--delete-after"}},
	{name: "fsync", opts: []string{"--fsync"}},
	{name: "partial", opts: []string{"--partial"}},
	{name: "partial-dir", opts: []string{"--partial-dir=.part"}},
	{name: "delay-updates", opts: []string{"--delay-updates"}, check: receiverNoPath(".~tmp~", "d/.~tmp~")},
	{name: "prune-empty-dirs", opts: []string{"-m"}, check: receiverNoPath("empty", "deep")},
	// Not an rsync receiver option but an attribute one, tested here for
	// its target state: without -p the target keeps its modes, and -E
	// takes only the x bits of regular files from the source
	// (rsync.c:dest_mode).
	{name: "executability", opts: []string{"--no-perms", "-E"}},
}

// receiverTimesLeft checks that the target entries rels do not have the
// source's mtime (-O, -J: the receiver leaves their mtimes alone).
func receiverTimesLeft(rels ...string) func(t *testing.T, src, tdir string) {
	return func(t *testing.T, src, tdir string) {
		t.Helper()
		for _, rel := range rels {
			sfi, err := os.Lstat(filepath.Join(src, rel))
			testutil.Must(t, err)
			tfi, err := os.Lstat(filepath.Join(tdir, rel))
			testutil.Must(t, err)
			if tfi.ModTime().Equal(sfi.ModTime()) {
				t.Errorf("%s: %s has the source's mtime %v: it was set", tdir, rel, sfi.ModTime())
			}
		}
	}
}

// receiverNoPath checks that the target has none of the entries rels.
func receiverNoPath(rels ...string) func(t *testing.T, src, tdir string) {
	return func(t *testing.T, _, tdir string) {
		t.Helper()
		for _, rel := range rels {
			if _, err := os.Lstat(filepath.Join(tdir, rel)); err == nil {
				t.Errorf("%s: %s exists", tdir, rel)
			}
		}
	}
}

// receiverTarget is where one row's pushes go: row is the directory
// holding the target t (and the row's bak and tmp directories).
type receiverTarget struct {
	row         string // local path of the row directory
	gsyncArgs   []string
	gsyncTarget string
	rsyncArgs   []string
	rsyncTarget string
	rsyncBinary string
	// tmp is the row's temp dir as the receiver names it ({tmp} in the
	// options); xdev one on another file system ({xdev}, local only).
	tmp, xdev string
}

// TestReceiverOptions: for each receiver option, gsync (the startup
// sync, then one live batch) and C rsync (rsync -a --delete with the
// option, after the same changes) push the same tree over the same
// target state into two fresh targets, and the two row directories (the
// target, the backup dir, the temp dir) must be equal: the same files
// skipped, replaced, kept as backups, the temp dir left empty. Against
// one rsync 3.5.0 daemon, rsync 3.2.7 at protocol 30, one sshd and a
// local target; one gsync process per option pushes to all of them.
func TestReceiverOptions(t *testing.T) {
	t.Parallel()
	// The 3.2.7 and ssh kinds run a subset (the test's time: the ssh
	// rows cost most), chosen where they differ from the 3.5.0 daemon:
	// ssh's deletes and moves go through the remote rsync with -b (the
	// sender's --append/--inplace data is the daemon's, over another
	// stream), and at protocol 30 --append/--inplace change what gsync's
	// sender sends.
	kinds := []struct {
		name  string
		rows  []string // nil: all
		start func(t *testing.T, rows []string) (g, r map[string]receiverTarget)
	}{
		{"rsyncd-3.5", nil, func(t *testing.T, rows []string) (g, r map[string]receiverTarget) {
			return receiverDaemon(t, "rsync", 0, rows)
		}},
		{"rsyncd-3.2.7-p30", []string{"backup", "update", "append", "inplace", "backup-inplace"}, func(t *testing.T, rows []string) (g, r map[string]receiverTarget) {
			bin := os.Getenv("GSYNC_RSYNC_327")
			if bin == "" {
				bin = "/opt/rsync-3.2.7/usr/bin/rsync"
			}
			if _, err := os.Stat(bin); err != nil {
				t.Logf("rsync 3.2.7 not installed ($GSYNC_RSYNC_327), not run: %v", err)
				return nil, nil
			}
			return receiverDaemon(t, bin, 30, rows)
		}},
		{"ssh", []string{"backup"}, receiverSSH},
		{"local", nil, receiverLocal},
	}
	var rows []string
	for _, row := range receiverRows {
		rows = append(rows, row.name)
	}
	type pair struct{ g, r receiverTarget }
	byRow := map[string][]pair{}
	var gsyncArgs []string
	for _, k := range kinds {
		krows := rows
		if k.rows != nil {
			krows = k.rows
		}
		g, r := k.start(t, krows)
		for _, row := range receiverRows {
			if _, ok := g[row.name]; ok && (!row.local || k.name == "local") {
				byRow[row.name] = append(byRow[row.name], pair{g[row.name], r[row.name]})
			}
		}
		for _, tg := range g {
			gsyncArgs = append(gsyncArgs, tg.gsyncArgs...) // the kind's, the same for its rows
			break
		}
	}
	for _, row := range receiverRows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			var g, r []receiverTarget
			for _, p := range byRow[row.name] {
				g, r = append(g, p.g), append(r, p.r)
			}
			runReceiverRow(t, row.opts, gsyncArgs, g, r, row.check)
		})
	}
}

// receiverDaemon starts one daemon of bin (offering at most protocol
// proto, 0: its own) with a module for gsync's targets and one for
// rsync's.
func receiverDaemon(t *testing.T, bin string, proto int, rows []string) (g, r map[string]receiverTarget) {
	base := t.TempDir()
	d := StartRsyncDaemon(t, Config{Binary: bin, Protocol: proto, Modules: []Module{
		{Name: "g", Path: filepath.Join(base, "g")}, {Name: "r", Path: filepath.Join(base, "r")}}})
	g, r = map[string]receiverTarget{}, map[string]receiverTarget{}
	for _, row := range rows {
		// A module's own root is "/" for its receiver (chroot).
		g[row] = receiverTarget{row: filepath.Join(base, "g", row), gsyncTarget: strings.TrimSuffix(d.URL("g"), "/") + "/" + row + "/t",
			tmp: "/" + row + "/tmp"}
		r[row] = receiverTarget{row: filepath.Join(base, "r", row), rsyncTarget: strings.TrimSuffix(d.URL("r"), "/") + "/" + row + "/t/",
			rsyncBinary: bin, tmp: "/" + row + "/tmp"}
	}
	return g, r
}

// receiverSSH starts one sshd; gsync reaches it through an ssh config,
// rsync with -e.
func receiverSSH(t *testing.T, rows []string) (g, r map[string]receiverTarget) {
	s := startSSHPeer(t)
	lookBinary(t, "ssh")
	e := fmt.Sprintf("ssh -F /dev/null -p %d -i %s -l %s -o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes",
		s.Port, s.UserKeyPath, s.User, s.KnownHostsFile)
	base := t.TempDir()
	// An ssh config names the peer for gsync: its -e would make the
	// rsync:// targets of the same process daemons over ssh.
	conf := filepath.Join(base, "ssh_config")
	testutil.WriteFile(t, conf, fmt.Sprintf("Host mirrorhost\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
		s.Port, s.User, s.UserKeyPath, s.KnownHostsFile))
	g, r = map[string]receiverTarget{}, map[string]receiverTarget{}
	for _, row := range rows {
		gd, rd := filepath.Join(base, "g", row), filepath.Join(base, "r", row)
		g[row] = receiverTarget{row: gd, gsyncArgs: []string{"--ssh-config", conf}, gsyncTarget: "mirrorhost:" + gd + "/t", tmp: gd + "/tmp"}
		r[row] = receiverTarget{row: rd, rsyncArgs: []string{"-e", e}, rsyncTarget: "127.0.0.1:" + rd + "/t/", tmp: rd + "/tmp"}
	}
	return g, r
}

// receiverLocal: gsync's local target, and rsync's local copy.
func receiverLocal(t *testing.T, rows []string) (g, r map[string]receiverTarget) {
	base := t.TempDir()
	// A temp dir on another file system than the target's: /dev/shm (a
	// tmpfs), or /var/tmp when the tests' own TMPDIR is on /dev/shm
	// (make test).
	xdev := ""
	for _, dir := range []string{"/dev/shm", "/var/tmp"} {
		if sameFileSystem(dir, base) {
			continue
		}
		if d, err := os.MkdirTemp(dir, "gsync-test-"); err == nil {
			xdev = d
			t.Cleanup(func() { os.RemoveAll(d) })
			break
		}
	}
	if xdev == "" {
		t.Logf("no other file system than %s's: the temp-dir-xdev row uses the target's", base)
		xdev = t.TempDir()
	}
	g, r = map[string]receiverTarget{}, map[string]receiverTarget{}
	for _, row := range rows {
		gd, rd := filepath.Join(base, "g", row), filepath.Join(base, "r", row)
		gx, rx := filepath.Join(xdev, "g", row), filepath.Join(xdev, "r", row)
		testutil.MustMkdir(t, gx)
		testutil.MustMkdir(t, rx)
		g[row] = receiverTarget{row: gd, gsyncTarget: gd + "/t", tmp: gd + "/tmp", xdev: gx}
		r[row] = receiverTarget{row: rd, rsyncTarget: rd + "/t/", tmp: rd + "/tmp", xdev: rx}
	}
	return g, r
}

// sameFileSystem reports whether a and b are on one file system (or
// either cannot be read).
func sameFileSystem(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return true
	}
	sa, okA := fa.Sys().(*syscall.Stat_t)
	sb, okB := fb.Sys().(*syscall.Stat_t)
	return !okA || !okB || sa.Dev == sb.Dev
}

// receiverState writes the row's target state before the first push:
// a file newer than the source's (kept by -u), one to be replaced, one
// the source lacks (deleted), and the empty temp dir.
func receiverState(t *testing.T, row string, future time.Time) {
	t.Helper()
	past := time.Unix(1_600_000_000, 0)
	for _, f := range []struct {
		rel, content string
		mtime        time.Time
	}{
		{"t/a.txt", "the target's newer a\n", future},
		{"t/d/e.txt", "the target's old e\n", past},
		{"t/extra.txt", "only on the target\n", past},
		{"t/log.txt", receiverLog(2000), past},
		{"t/deep/x/old.txt", "a file in a directory the source has empty\n", past},
	} {
		p := filepath.Join(row, filepath.FromSlash(f.rel))
		testutil.WriteFile(t, p, f.content)
		testutil.Must(t, os.Chtimes(p, f.mtime, f.mtime))
	}
	testutil.MustMkdir(t, filepath.Join(row, "tmp"))
	testutil.Must(t, os.Chmod(filepath.Join(row, "t", "log.txt"), 0o755))
	// A directory whose mode (and, as root, owner) the push changes: a
	// backup dir made for it takes what it has then (backup.c).
	testutil.Must(t, os.Chmod(filepath.Join(row, "t", "d"), 0o750))
	if os.Geteuid() == 0 {
		testutil.Must(t, os.Chown(filepath.Join(row, "t", "d"), 1, 1))
	}
}

// receiverLog is the first n bytes of a growing log.
func receiverLog(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "log line %d\n", i)
	}
	return b.String()[:n]
}

// receiverSource writes the source tree; its mtimes lie in the past.
func receiverSource(t *testing.T, src string) {
	t.Helper()
	past := time.Unix(1_650_000_000, 0)
	for rel, content := range map[string]string{
		"a.txt": "the source's a\n", "b.txt": "b, first\n", "d/c.txt": "c\n", "d/e.txt": "the source's e\n",
		"log.txt": receiverLog(5000), "mv.txt": "moved later\n", "sub/x.txt": "x\n",
	} {
		p := filepath.Join(src, filepath.FromSlash(rel))
		testutil.WriteFile(t, p, content)
		testutil.Must(t, os.Chtimes(p, past, past))
	}
	// Directories without a file below them (-m prunes them), and a
	// symlink with an mtime of its own (-J).
	// An executable file whose target copy is not, and the other way
	// round (receiverState): -E without -p.
	testutil.Must(t, os.Chmod(filepath.Join(src, "d", "e.txt"), 0o755))
	testutil.MustMkdir(t, filepath.Join(src, "empty"))
	testutil.MustMkdir(t, filepath.Join(src, "deep", "x", "y"))
	testutil.Must(t, os.Symlink("a.txt", filepath.Join(src, "ln")))
	ts := unix.NsecToTimespec(past.UnixNano())
	testutil.Must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, "ln"), []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW))
	for _, d := range []string{"d", "sub", "empty", "deep/x/y", "deep/x", "deep", "."} {
		testutil.Must(t, os.Chtimes(filepath.Join(src, filepath.FromSlash(d)), past, past))
	}
}

// receiverChange is the change sequence of the live batch. Files are
// replaced whole (written aside, renamed over), as editors do: a push
// of a file caught half written would make that state the backup with
// -b, on gsync's side only.
func receiverChange(t *testing.T, src string) {
	t.Helper()
	replace := func(rel, content string) {
		tmp := filepath.Join(filepath.Dir(src), ".new") // outside the watched tree
		testutil.WriteFile(t, tmp, content)
		testutil.Must(t, os.Rename(tmp, filepath.Join(src, rel)))
	}
	replace("b.txt", "b, second and longer\n")
	replace("a.txt", "the source's a, changed\n")
	testutil.Must(t, os.Remove(filepath.Join(src, "d", "c.txt")))
	replace("n.txt", "new\n")
	replace("log.txt", receiverLog(9000))
	testutil.Must(t, os.Rename(filepath.Join(src, "mv.txt"), filepath.Join(src, "sub", "moved.txt")))
	// Attributes alone: size and mtime stay, so rsync's quick check
	// passes and the mode is set (before --append's check); with -E
	// (no -p) x.txt becomes executable on the target and e.txt not.
	testutil.Must(t, os.Chmod(filepath.Join(src, "sub", "x.txt"), 0o700))
	testutil.Must(t, os.Chmod(filepath.Join(src, "d", "e.txt"), 0o644))
}

// receiverCompare compares the row directories: files to the second
// (gsync's live batch and rsync write them at different moments only
// where the source changed them), directory mtimes not at all (a backup
// dir and a directory rsync leaves alone hold the time of the writes).
var receiverCompare = treediff.Options{MtimeGranularity: time.Second, SkipDirMtimes: true, SkipSymlinkMtimes: true,
	IgnoreRootMode: true, CompareOwner: os.Geteuid() == 0}

// runReceiverRow pushes one row's tree with one gsync process to every
// target of g (with gsync's further args) and with rsync to each of r,
// and compares g[i]'s row directory with r[i]'s.
func runReceiverRow(t *testing.T, opts, gsyncArgs []string, g, r []receiverTarget, check func(t *testing.T, src, tdir string)) {
	src := filepath.Join(t.TempDir(), "src")
	receiverSource(t, src)
	future := time.Now().Add(time.Hour).Truncate(time.Second)
	with := func(tg receiverTarget) []string {
		var out []string
		for _, o := range opts {
			out = append(out, strings.NewReplacer("{tmp}", tg.tmp, "{xdev}", tg.xdev).Replace(o))
		}
		return out
	}
	rsync := func() {
		t.Helper()
		for _, rt := range r {
			bin := rt.rsyncBinary
			if bin == "" {
				bin = "rsync"
			}
			args := append(append(append(append([]string{}, rt.rsyncArgs...), "-a", "--delete"), with(rt)...), src+"/", rt.rsyncTarget)
			if code, out := runFidelityRsync(t, bin, args...); code != 0 {
				t.Fatalf("rsync %q: exit %d\n%s", args, code, out)
			}
		}
	}
	// One gsync for the targets whose options are the same words (a
	// {tmp} differs per target).
	var groups [][]int
	seen := map[string]int{}
	for i := range g {
		receiverState(t, g[i].row, future)
		receiverState(t, r[i].row, future)
		key := strings.Join(with(g[i]), "\x00")
		if j, ok := seen[key]; ok {
			groups[j] = append(groups[j], i)
			continue
		}
		seen[key] = len(groups)
		groups = append(groups, []int{i})
	}
	rsync()
	var procs []*gsyncProc
	var cmds []string
	for _, grp := range groups {
		args := append(append(append(append([]string{}, gsyncArgs...), "--delay", "0"), with(g[grp[0]])...), src)
		for _, i := range grp {
			args = append(args, g[i].gsyncTarget)
		}
		procs = append(procs, startGsync(t, nil, args...))
		cmds = append(cmds, strings.Join(args, " "))
	}
	for i := range g {
		waitEqual(t, r[i].row, g[i].row, 20*time.Second, receiverCompare)
	}
	receiverChange(t, src)
	// Times no write on a target can share with the source: file
	// systems stamp mtimes from a coarse clock, so a target directory
	// written in the same tick as the source's had its mtime to the
	// nanosecond without anything setting it (receiverTimesLeft failed
	// once so). The targets compare directory and symlink mtimes only
	// in those checks.
	past := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	for _, rel := range []string{".", "d", "sub", "ln"} {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(past.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, rel), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.ENOENT) {
			t.Fatalf("set the mtime of %s: %v", rel, err)
		}
	}
	rsync()
	for i := range g {
		waitEqual(t, r[i].row, g[i].row, 20*time.Second, receiverCompare)
		if check != nil {
			check(t, src, filepath.Join(r[i].row, "t"))
			check(t, src, filepath.Join(g[i].row, "t"))
		}
	}
	for _, p := range procs {
		if code := p.stop(syscall.SIGTERM); code != 143 {
			t.Errorf("gsync exit code %d after SIGTERM, want 143", code)
		}
	}
	if t.Failed() {
		t.Logf("src is rsync's row, dst gsync's (gsync %s)", strings.Join(cmds, "; gsync "))
	}
}

// TestLsyncdUpdate: lsyncd's rsync = { update = true } (and an _extra
// receiver option, --backup-dir) take effect in a live sync: a file
// newer on the target survives the startup sync and a live change of
// the source's copy, the others are replaced and their old versions
// kept in the backup dir; nothing is warned about as without effect.
func TestLsyncdUpdate(t *testing.T) {
	t.Parallel()
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	past, future := time.Unix(1_650_000_000, 0), time.Now().Add(time.Hour)
	testutil.WriteFile(t, filepath.Join(src, "newer.txt"), "source\n")
	testutil.WriteFile(t, filepath.Join(src, "older.txt"), "source\n")
	testutil.Must(t, os.Chtimes(filepath.Join(src, "newer.txt"), past, past))
	testutil.WriteFile(t, filepath.Join(dst, "newer.txt"), "the target's newer copy\n")
	testutil.Must(t, os.Chtimes(filepath.Join(dst, "newer.txt"), future, future))
	testutil.WriteFile(t, filepath.Join(dst, "older.txt"), "the target's old copy\n")
	testutil.Must(t, os.Chtimes(filepath.Join(dst, "older.txt"), past, past))
	bak := filepath.Join(filepath.Dir(dst), "bak")
	conf := writeConfig(t, fmt.Sprintf(`settings { nodaemon = true }
sync { default.rsync, source = %q, target = %q, delay = 0,
  rsync = { archive = true, update = true, _extra = { "--backup-dir=%s" } } }
`, src, dst, bak))
	p := startGsync(t, nil, conf)
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	testutil.Eventually(t, "older.txt replaced and backed up", func() bool {
		return read(filepath.Join(dst, "older.txt")) == "source\n" && read(filepath.Join(bak, "older.txt")) == "the target's old copy\n"
	})
	testutil.WriteFile(t, filepath.Join(src, "newer.txt"), "source, changed\n")
	testutil.WriteFile(t, filepath.Join(src, "n.txt"), "new\n")
	testutil.Eventually(t, "n.txt arrives", func() bool { return read(filepath.Join(dst, "n.txt")) == "new\n" })
	if got := read(filepath.Join(dst, "newer.txt")); got != "the target's newer copy\n" {
		t.Errorf("newer.txt on the target is %q: update = true did not keep the newer target file", got)
	}
	if code := p.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("gsync exit code %d after SIGTERM, want 143", code)
	}
	if out := p.out.String(); strings.Contains(out, "without effect") {
		t.Errorf("an option was warned about:\n%s", tail(out, 10))
	}
}

// TestReceiverOptionRejected: a receiver that does not take a receiver
// option (openrsync behind sshd, the gokrazy/rsync daemon; both at
// protocol 27) stops gsync at connect with an error that names the
// option and the peer, not only the peer's own words.
func TestReceiverOptionRejected(t *testing.T) {
	t.Parallel()
	s := StartSSHD(t, SSHDConfig{})
	gk := StartGokrazyDaemon(t, t.TempDir())
	src := t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "f"), "x\n")
	for _, c := range []struct {
		peer, opt, target string
	}{
		{"openrsync", "--inplace", "127.0.0.1:" + t.TempDir()},
		{"openrsync", "--fsync", "127.0.0.1:" + t.TempDir()},
		{"openrsync", "--prune-empty-dirs", "127.0.0.1:" + t.TempDir()},
		{"gokrazy", "--inplace", "rsync://" + gk + "/" + GokrazyModule + "/a"},
		{"gokrazy", "--backup", "rsync://" + gk + "/" + GokrazyModule + "/b"},
		{"gokrazy", "--delay-updates", "rsync://" + gk + "/" + GokrazyModule + "/c"},
	} {
		t.Run(c.peer+c.opt, func(t *testing.T) {
			t.Parallel()
			var args []string
			if c.peer == "openrsync" {
				args = append(sshArgs(s), "--rsync-path", openrsyncPath(t))
			}
			code, out := runGsync(t, append(append(append([]string{}, args...), "--once", c.opt), src, c.target)...)
			prog := map[string]string{"openrsync": "openrsync", "gokrazy": "gokrazy/rsync"}[c.peer]
			want := "(" + prog + ") does not take option " + c.opt
			if code == 0 || !strings.Contains(out, want) || !strings.Contains(out, "the rsync at ") {
				t.Errorf("gsync %s to %s: exit %d, want a failure saying %q and naming the peer:\n%s", c.opt, c.peer, code, want, tail(out, 10))
			}
		})
	}
}
