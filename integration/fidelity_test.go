package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// TestFidelity is gsync's attribute-fidelity oracle: gsync pushes a tree
// rich in attributes (treediff.GenerateAttrTree) to a fresh target, C rsync
// pushes the same tree with the same options to a second fresh target of
// the same kind, and the two targets must be equal in every attribute
// (fidelityOptions, fidelityEqual). Each target kind runs the flag sets of
// fidelityCases; the local and the root daemon targets also run a live
// mirror through attribute changes (testFidelityLive).
//
// A case that fails because gsync lacks the feature yet is marked with a
// pending reason (fidelityCase.pending, or fidelityKind.pending for one
// kind only): it is then skipped with that reason, never weakened
// ($GSYNC_FIDELITY_RUN_PENDING=1 runs it anyway).
func TestFidelity(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the attribute tree and its comparison are Linux's (ACLs as xattrs, mknod, st_blocks)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the tree has owners, devices and trusted.* xattrs")
	}
	rsync := lookBinary(t, "rsync")
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o700); err != nil {
		t.Fatal(err)
	}
	tree, err := treediff.GenerateAttrTree(src, fidelitySeed)
	if err != nil {
		t.Fatalf("generate the tree: %v", err)
	}
	t.Logf("tree: %d entries, %d hard-link groups, %d sparse files", tree.Entries, len(tree.HardLinks), len(tree.Sparse))
	for _, k := range fidelityKinds() {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			var cases []fidelityCase
			for _, c := range fidelityCases {
				if k.quick != nil && !stress() && !slices.Contains(k.quick, c.name) {
					continue // make stress runs it
				}
				if c.only == nil || slices.Contains(c.only, k.name) {
					cases = append(cases, c)
				}
			}
			var names []string
			for _, c := range cases {
				names = append(names, c.name+"-gsync", c.name+"-rsync")
			}
			if k.live {
				names = append(names, fidelityLiveTargets()...)
			}
			targets := k.start(t, names)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					skipPending(t, c.pendingOn(k))
					runFidelityCase(t, rsync, src, k, c, targets[c.name+"-gsync"], targets[c.name+"-rsync"])
				})
			}
			if k.live {
				t.Run("live", func(t *testing.T) {
					t.Parallel()
					skipPending(t, k.pending["live"])
					testFidelityLive(t, rsync, k, targets)
				})
			}
		})
	}
}

// runPendingEnv, when set in the environment, runs the pending cases too
// (to see what they print).
const runPendingEnv = "GSYNC_FIDELITY_RUN_PENDING"

// skipPending skips t with the reason a case is pending, unless
// runPendingEnv is set.
func skipPending(t *testing.T, reason string) {
	t.Helper()
	if reason == "" {
		return
	}
	if os.Getenv(runPendingEnv) != "" {
		t.Logf("pending, run because $%s is set: %s", runPendingEnv, reason)
		return
	}
	t.Skip("pending: " + reason)
}

// fidelitySeed is the seed of the generated tree.
const fidelitySeed = 20261203

// fidelityCase is one flag set: gsync --once GSYNC SRC TARGET against
// rsync -r RSYNC SRC/ TARGET2/.
type fidelityCase struct {
	name  string
	gsync []string
	// rsync are C rsync's flags besides -r; nil means -a followed by
	// gsync's flags (gsync's default is rsync -a's set, and each of its
	// flags means what it means to rsync).
	rsync []string
	// noTimes: mtimes are not kept, so they are not compared.
	noTimes bool
	// only, when set, names the kinds that run the case (beyond the
	// minimal table every kind runs: the suite must stay fast).
	only []string
	// expect are what rsync's target must hold for the comparison to
	// mean something.
	expect []fidelityExpect
	// pending, when set, skips the case on every kind with this reason:
	// a gap of gsync, to be closed.
	pending string
}

// fidelityExpect is one thing rsync's target must hold.
type fidelityExpect struct {
	what     string
	holds    func(treediff.Census) bool
	rootOnly bool // only where the receiver runs as root
}

// The expectations of the cases.
var (
	expectOwners     = fidelityExpect{"more than 10 owners", func(c treediff.Census) bool { return c.Owners > 10 }, true}
	expectOneOwner   = fidelityExpect{"one owner", func(c treediff.Census) bool { return c.Owners == 1 }, false}
	expectNodes      = fidelityExpect{"5 devices, fifos and sockets or more", func(c treediff.Census) bool { return c.Nodes >= 5 }, true}
	expectSetID      = fidelityExpect{"more than 5 entries with setuid, setgid or sticky bits", func(c treediff.Census) bool { return c.SetID > 5 }, false}
	expectACLs       = fidelityExpect{"more than 20 entries with ACLs", func(c treediff.Census) bool { return c.ACLs > 20 }, false}
	expectNoACLs     = fidelityExpect{"no ACL", func(c treediff.Census) bool { return c.ACLs == 0 }, false}
	expectUserXattrs = fidelityExpect{"more than 20 entries with user.* xattrs", func(c treediff.Census) bool { return c.Xattrs["user"] > 20 }, false}
	expectTrusted    = fidelityExpect{"more than 5 entries with trusted.* and with security.* xattrs", func(c treediff.Census) bool { return c.Xattrs["trusted"] > 5 && c.Xattrs["security"] > 5 }, true}
	expectNoXattrs   = fidelityExpect{"no xattr", func(c treediff.Census) bool { return len(c.Xattrs) == 0 }, false}
	expectHardLinks  = fidelityExpect{"more than 10 hard-linked names", func(c treediff.Census) bool { return c.HardLinked > 10 }, false}
	expectNoLinks    = fidelityExpect{"no hard link", func(c treediff.Census) bool { return c.HardLinked == 0 }, false}
	expectSparse     = fidelityExpect{"4 sparse files or more", func(c treediff.Census) bool { return c.Sparse >= 4 }, false}
	expectNotSparse  = fidelityExpect{"no sparse file", func(c treediff.Census) bool { return c.Sparse == 0 }, false}
)

// fidelityCases are the flag sets: every kind runs the minimal table,
// the others (only) run where they tell most.
var fidelityCases = []fidelityCase{
	{name: "default", gsync: nil,
		expect: []fidelityExpect{expectOwners, expectNodes, expectSetID, expectNoACLs, expectNoXattrs, expectNoLinks, expectNotSparse}},
	{name: "explicit", gsync: []string{"-o", "-g", "-p", "-t", "-l", "-D"}, rsync: []string{"-o", "-g", "-p", "-t", "-l", "-D"}, only: []string{"local"},
		expect: []fidelityExpect{expectOwners, expectNodes, expectSetID}},
	{name: "HAXS", gsync: []string{"-H", "-A", "-X", "-S"},
		expect: []fidelityExpect{expectOwners, expectACLs, expectUserXattrs, expectTrusted, expectHardLinks, expectSparse}},
	{name: "ACLs-only", gsync: []string{"-A"}, only: []string{"local", "rsyncd-3.5-root"}, expect: []fidelityExpect{expectACLs, expectNoXattrs}},
	{name: "xattrs-only", gsync: []string{"-X"}, only: []string{"local", "rsyncd-3.5-root"}, expect: []fidelityExpect{expectUserXattrs, expectTrusted, expectNoACLs}},
	{name: "numeric-ids", gsync: []string{"--numeric-ids"}, expect: []fidelityExpect{expectOwners}},
	{name: "HAXS-numeric-ids", gsync: []string{"-H", "-A", "-X", "-S", "--numeric-ids"}, only: []string{"rsyncd-3.5-root"},
		expect: []fidelityExpect{expectOwners, expectACLs, expectUserXattrs, expectTrusted, expectHardLinks, expectSparse}},
	{name: "HAXS-protocol-30", gsync: []string{"-H", "-A", "-X", "-S", "--protocol=30"}, only: []string{"rsyncd-3.5-root"},
		expect: []fidelityExpect{expectOwners, expectACLs, expectUserXattrs, expectTrusted, expectHardLinks, expectSparse}},
	// rsync refuses -A and -X below protocol 30: gsync must fail too.
	{name: "AX-protocol-29", gsync: []string{"-A", "-X", "--protocol=29"}, only: []string{"rsyncd-3.5-root"}},
	{name: "no-owner-group", gsync: []string{"--no-owner", "--no-group"}, expect: []fidelityExpect{expectOneOwner}},
	{name: "no-perms", gsync: []string{"--no-perms"}},
	{name: "no-times-links-devices-specials", gsync: []string{"--no-times", "--no-links", "--no-devices", "--no-specials"}, noTimes: true,
		only: []string{"local", "rsyncd-3.5-root"}},
	{name: "chmod", gsync: []string{"--chmod=D2775,F664"}},
	{name: "chown", gsync: []string{"--chown=nobody:nogroup"}},
	{name: "maps", gsync: []string{"--usermap=12345:23456,1-2:65534,root:bin", "--groupmap=23456:12345,daemon:nogroup,*:2"}},
}

// pendingOn returns the reason c is skipped on kind k, or "".
func (c fidelityCase) pendingOn(k fidelityKind) string {
	if c.pending != "" {
		return c.pending
	}
	return k.pending[c.name]
}

// rsyncFlags returns C rsync's flags for c.
func (c fidelityCase) rsyncFlags() []string {
	if c.rsync != nil {
		return append([]string{"-r"}, c.rsync...)
	}
	return append([]string{"-r", "-a"}, c.gsync...)
}

// fidelityTarget is one fresh target: the directory on this machine and
// how gsync and rsync name it.
type fidelityTarget struct {
	dir string
	// gsyncArgs come before SRC; gsyncTarget is gsync's TARGET.
	gsyncArgs   []string
	gsyncTarget string
	// rsyncArgs come before SRC/; rsyncTarget is rsync's destination
	// (with a trailing slash).
	rsyncArgs   []string
	rsyncTarget string
}

// fidelityKind is one kind of target.
type fidelityKind struct {
	name string
	// start starts the peer and returns a fresh target for each name.
	start func(t *testing.T, names []string) map[string]fidelityTarget
	// live: the kind also runs testFidelityLive.
	live bool
	// rootReceiver: the receiver runs as root (owners, devices,
	// trusted.* and security.* xattrs can be kept).
	rootReceiver bool
	// pending maps a case name ("live" for the live part, "live/PHASE"
	// for one of its phases) to the reason it is skipped on this kind.
	pending map[string]string
	// quick, when set, are the only cases make test runs on this kind
	// (make stress runs all): the ssh kinds reach the same C rsync
	// receiver as the daemon kinds, through another transport.
	quick []string
}

// sshQuickCases are the fidelity cases make test runs over ssh.
var sshQuickCases = []string{"default", "HAXS", "maps"}

// fidelityKinds are the kinds of target, each with its pending cases.
func fidelityKinds() []fidelityKind {
	return []fidelityKind{
		{name: "local", live: true, rootReceiver: true, start: startFidelityLocal},
		{name: "rsyncd-3.5-root", live: true, rootReceiver: true, start: func(t *testing.T, names []string) map[string]fidelityTarget {
			return startRootDaemon(t, "rsync", names)
		}},
		{name: "rsyncd-3.5-nobody", start: func(t *testing.T, names []string) map[string]fidelityTarget {
			return startFidelityDaemon(t, "rsync", "uid = nobody\n\tgid = nogroup", true, names)
		}},
		{name: "rsyncd-3.2.7-root", rootReceiver: true, start: func(t *testing.T, names []string) map[string]fidelityTarget {
			bin := os.Getenv("GSYNC_RSYNC_327")
			if bin == "" {
				bin = "/opt/rsync-3.2.7/usr/bin/rsync"
			}
			if _, err := os.Stat(bin); err != nil {
				t.Skipf("rsync 3.2.7 not installed ($GSYNC_RSYNC_327): %v", err)
			}
			return startRootDaemon(t, bin, names)
		}, pending: map[string]string{"maps": "not gsync's to copy: C rsync's client escapes the wildcard of " +
			"--groupmap=...,*:2 for a remote shell (options.c:safe_arg sends \\*:2) also to a daemon, and a 3.2.7 " +
			"daemon takes \\* literally, so rsync's own push maps nothing (also with --no-inc-recursive); gsync sends " +
			"*:2 as written and the 3.2.7 daemon maps it, as 3.5.0 does for both"}},
		{name: "ssh-root", rootReceiver: true, start: startFidelitySSH, quick: sshQuickCases},
		{name: "ssh-user", start: startFidelitySSHUser, quick: sshQuickCases},
	}
}

// startFidelityLocal returns local target directories (not created yet).
func startFidelityLocal(t *testing.T, names []string) map[string]fidelityTarget {
	base := t.TempDir()
	m := map[string]fidelityTarget{}
	for _, n := range names {
		dir := filepath.Join(base, n)
		m[n] = fidelityTarget{dir: dir, gsyncTarget: dir, rsyncTarget: dir + "/"}
	}
	return m
}

// startFidelityDaemon starts one daemon of bin with a module per name;
// extra holds the modules' uid and gid lines; nobody: the module
// directories belong to nobody:nogroup (the daemon writes as nobody).
func startFidelityDaemon(t *testing.T, bin, extra string, nobody bool, names []string) map[string]fidelityTarget {
	base := t.TempDir()
	var mods []Module
	m := map[string]fidelityTarget{}
	for i, n := range names {
		dir := filepath.Join(base, n)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if nobody {
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
		mod := fmt.Sprintf("m%d", i)
		mods = append(mods, Module{Name: mod, Path: dir, Extra: "\t" + extra})
		m[n] = fidelityTarget{dir: dir}
	}
	d := StartRsyncDaemon(t, Config{Binary: bin, Modules: mods})
	for i, n := range names {
		tg := m[n]
		url := d.URL(fmt.Sprintf("m%d", i))
		tg.gsyncTarget, tg.rsyncTarget = url, url
		m[n] = tg
	}
	return m
}

// startFidelitySSH starts sshd (root logins; rsync --server behind it)
// and returns target directories on it (not created yet): gsync reaches
// them with --ssh, rsync with -e ssh.
func startFidelitySSH(t *testing.T, names []string) map[string]fidelityTarget {
	return fidelitySSHTargets(t, startSSHPeer(t), t.TempDir(), names)
}

// startFidelitySSHUser returns targets over sshd logged in as an ordinary
// user (NonRootUser), below a directory of theirs.
func startFidelitySSHUser(t *testing.T, names []string) map[string]fidelityTarget {
	lookBinary(t, "rsync")
	s := StartSSHD(t, SSHDConfig{User: NonRootUser})
	return fidelitySSHTargets(t, s, s.Home, names)
}

// fidelitySSHTargets are targets below base over s, for gsync and for C
// rsync with ssh.
func fidelitySSHTargets(t *testing.T, s *SSHD, base string, names []string) map[string]fidelityTarget {
	lookBinary(t, "ssh")
	e := fmt.Sprintf("ssh -F /dev/null -p %d -i %s -l %s -o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes",
		s.Port, s.UserKeyPath, s.User, s.KnownHostsFile)
	m := map[string]fidelityTarget{}
	for _, n := range names {
		dir := filepath.Join(base, n)
		m[n] = fidelityTarget{dir: dir, gsyncArgs: sshArgs(s), gsyncTarget: "127.0.0.1:" + dir,
			rsyncArgs: []string{"-e", e}, rsyncTarget: "127.0.0.1:" + dir + "/"}
	}
	return m
}

// fidelityOptions are the comparisons of two targets: everything
// treediff can compare, mtimes to the nanosecond (both sides were written
// fresh, at protocol 32, from a tree whose mtimes lie in the past), the
// roots included.
func fidelityOptions(noTimes bool) treediff.Options {
	o := treediff.Options{CompareOwner: true, CompareXattrs: true, CompareHardLinks: true, CompareBlocks: true}
	if noTimes {
		o.MtimeGranularity = -1
	}
	return o
}

// fidelityLiveOptions are the comparisons after changes made a moment
// ago: rsync leaves the mtime of a directory, symlink or node alone when
// it matches the source's to the second (rsync.c: set_file_attrs,
// same_mtime without --modify-window=-1), so a fresh rsync target has the
// time of its own creation there when the source's lies within the same
// second. File mtimes to the nanosecond; the others to the second.
var fidelityLiveOptions = []treediff.Options{
	{CompareOwner: true, CompareXattrs: true, CompareHardLinks: true, CompareBlocks: true,
		SkipDirMtimes: true, SkipSymlinkMtimes: true, NodeMtimeGranularity: time.Second},
	{MtimeGranularity: time.Second},
}

// runFidelityRsync runs C rsync (bounded) and returns its exit code and output.
func runFidelityRsync(t *testing.T, rsync string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(rsync, args...)
	return startProc(t, cmd).wait(60 * time.Second)
}

// runFidelityCase pushes src with gsync to g and with rsync to r and
// compares the two targets.
func runFidelityCase(t *testing.T, rsync, src string, k fidelityKind, c fidelityCase, g, r fidelityTarget) {
	gargs := append(append(append(append([]string{}, g.gsyncArgs...), "--once"), c.gsync...), src, g.gsyncTarget)
	gcode, gout := runGsync(t, gargs...)
	rargs := append(append(append([]string{}, r.rsyncArgs...), c.rsyncFlags()...), src+"/", r.rsyncTarget)
	rcode, rout := runFidelityRsync(t, rsync, rargs...)
	if (gcode == 0) != (rcode == 0) {
		t.Errorf("gsync %q exit %d, rsync %q exit %d: one failed, the other did not\ngsync:\n%s\nrsync:\n%s",
			gargs, gcode, rargs, rcode, tail(gout, 20), tail(rout, 20))
	} else if rcode != 0 {
		t.Logf("both failed (gsync exit %d, rsync exit %d)\ngsync:\n%s\nrsync:\n%s", gcode, rcode, tail(gout, 10), tail(rout, 10))
	}
	if _, err := os.Lstat(g.dir); err != nil {
		t.Fatalf("gsync %q made no target: %v\n%s", gargs, err, tail(gout, 20))
	}
	census, err := treediff.TakeCensus(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rsync's target: %v", census)
	for _, e := range c.expect {
		if e.rootOnly && !k.rootReceiver {
			continue
		}
		if !e.holds(census) {
			t.Errorf("rsync's target should hold %s, but holds %v: the comparison proves less than it should", e.what, census)
		}
	}
	opts := fidelityOptions(c.noTimes)
	if rcode != 0 && gcode != 0 {
		// Neither touched its target: the roots are the module
		// directories as the harness made them, a moment apart.
		opts.IgnoreRootMtime = true
	}
	fidelityEqual(t, r.dir, g.dir, opts, fmt.Sprintf("rsync %q", rargs), fmt.Sprintf("gsync %q", gargs))
}

// fidelityEqual fails t when the targets differ, with the number of
// differences of each kind and the first ones: src is rsync's target,
// dst gsync's.
func fidelityEqual(t *testing.T, rdir, gdir string, opt treediff.Options, rsyncCmd, gsyncCmd string) bool {
	t.Helper()
	diffs, err := treediff.Compare(rdir, gdir, opt)
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	if len(diffs) == 0 {
		return true
	}
	counts := map[treediff.Kind]int{}
	var kinds []string
	for _, d := range diffs {
		if counts[d.Kind] == 0 {
			kinds = append(kinds, string(d.Kind))
		}
		counts[d.Kind]++
	}
	sort.Strings(kinds)
	var sum []string
	for _, k := range kinds {
		sum = append(sum, fmt.Sprintf("%s: %d", k, counts[treediff.Kind(k)]))
	}
	t.Errorf("gsync's target differs from rsync's in %d ways (%s); src is rsync's target (%s), dst gsync's (%s):\n%s",
		len(diffs), strings.Join(sum, ", "), rsyncCmd, gsyncCmd, treediff.Format(diffs, 40))
	return false
}

// fidelityLiveTimeout bounds each wait of the live part for gsync's target
// to equal rsync's.
const fidelityLiveTimeout = 20 * time.Second

// fidelityLiveFlags are the flags of the live part.
var fidelityLiveFlags = []string{"-H", "-A", "-X", "-S"}

// fidelityLivePhases are the phases of the live part, each a set of
// changes to the source (rel makes a path of the source from a relative
// one) followed by a check; k.pending["live/"+name] skips one.
var fidelityLivePhases = []struct {
	name   string
	change func(t *testing.T, tree *treediff.AttrTree, rel func(string) string)
}{
	{"attrs", func(t *testing.T, tree *treediff.AttrTree, rel func(string) string) {
		// Each change through the tool a user would use.
		setfacl, setfattr := lookBinary(t, "setfacl"), lookBinary(t, "setfattr")
		files := tree.Files
		testutil.Must(t, os.Lchown(rel(files[0]), 23456, 12345))
		testutil.Must(t, os.Chmod(rel(files[1]), 0o4640))
		testutil.Must(t, os.Chmod(rel("modes/private"), 0o750))
		runTool(t, setfacl, "-m", "u:23456:r-x,g:1:rw-", rel(files[2]))
		runTool(t, setfacl, "-b", rel("acl/f01"))
		runTool(t, setfacl, "-d", "-m", "g:1:rwx", rel("bulk/d3"))
		runTool(t, setfattr, "-n", "user.live", "-v", "a value set while gsync runs", rel(files[3]))
		runTool(t, setfattr, "-x", "user.color", rel("xattr/f00"))
		runTool(t, setfattr, "-n", "trusted.live", "-v", "0x00ff00", rel("xattr/f01"))
		// A write through one name of a hard-link group, and an xattr
		// set through another name of it.
		group := tree.HardLinks[1]
		f, err := os.OpenFile(rel(group[1]), os.O_WRONLY|os.O_APPEND, 0)
		testutil.Must(t, err)
		_, err = f.WriteString("appended through the second name\n")
		testutil.Must(t, err)
		testutil.Must(t, f.Close())
		runTool(t, setfattr, "-n", "user.group", "-v", "through another name", rel(group[2]))
		// A new file below a default ACL (it inherits it), a new fifo
		// with an owner.
		testutil.Must(t, os.WriteFile(rel("acl/dflt1/new"), []byte("new"), 0o644))
		testutil.Must(t, syscall.Mkfifo(rel("special/newfifo"), 0o640))
		testutil.Must(t, os.Lchown(rel("special/newfifo"), 12345, 23456))
	}},
	{"new-hard-link", func(t *testing.T, tree *treediff.AttrTree, rel func(string) string) {
		// A new name, in another directory, for a file that had one.
		testutil.Must(t, os.Link(rel(tree.Files[4]), rel("links/new-link")))
	}},
}

// runTool runs a command to completion and fails t when it fails.
func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

// fidelityLiveTargets are the names of the targets of the live part:
// gsync's and one for each rsync push (after the startup sync and after
// each phase).
func fidelityLiveTargets() []string {
	names := []string{"live-gsync", "live-rsync"}
	for _, ph := range fidelityLivePhases {
		names = append(names, "live-rsync-"+ph.name)
	}
	return names
}

// testFidelityLive runs gsync live with fidelityLiveFlags on a tree of its
// own and checks that its target equals a fresh rsync push of the source
// after the startup sync and after each phase of fidelityLivePhases
// (owner, mode, ACL, default ACL and xattr changes, a write through one
// name of a hard-link group, new entries; a new hard link). A phase that
// fails ends the live part: the next ones would show its differences too.
func testFidelityLive(t *testing.T, rsync string, k fidelityKind, targets map[string]fidelityTarget) {
	src := filepath.Join(t.TempDir(), "src")
	testutil.Must(t, os.Mkdir(src, 0o700))
	tree, err := treediff.GenerateAttrTree(src, fidelitySeed+1)
	testutil.Must(t, err)
	rel := func(p string) string { return filepath.Join(src, filepath.FromSlash(p)) }
	rflags := append([]string{"-r", "-a"}, fidelityLiveFlags...)
	push := func(t *testing.T, r fidelityTarget) {
		t.Helper()
		args := append(append(append([]string{}, r.rsyncArgs...), rflags...), src+"/", r.rsyncTarget)
		if code, out := runFidelityRsync(t, rsync, args...); code != 0 {
			t.Fatalf("rsync %q: exit %d\n%s", args, code, out)
		}
	}
	g := targets["live-gsync"]
	push(t, targets["live-rsync"])
	args := append(append(append(append([]string{}, g.gsyncArgs...), "--delay", "0"), fidelityLiveFlags...), src, g.gsyncTarget)
	p := startGsync(t, nil, args...)
	waitEqual(t, targets["live-rsync"].dir, g.dir, fidelityLiveTimeout, fidelityOptions(false))

	for _, ph := range fidelityLivePhases {
		ok := t.Run(ph.name, func(t *testing.T) {
			skipPending(t, k.pending["live/"+ph.name])
			ph.change(t, tree, rel)
			r := targets["live-rsync-"+ph.name]
			push(t, r)
			for _, o := range fidelityLiveOptions {
				waitEqual(t, r.dir, g.dir, fidelityLiveTimeout, o)
			}
			if t.Failed() {
				t.Logf("src is rsync's fresh target, dst gsync's live one (gsync %s)", strings.Join(args, " "))
			}
		})
		if !ok {
			break
		}
	}
	if code := p.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("gsync exit code %d after SIGTERM, want 143", code)
	}
}
