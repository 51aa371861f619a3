package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// xattrFilterSource writes the source tree of TestXattrFilterMatchesRsync:
// xattrs in the user and trusted namespaces, short and long (sent as
// their checksum first) values, on files and a directory, mtimes in the
// past so that a target copy with the same mtime is up to date.
func xattrFilterSource(t *testing.T, src string) {
	testutil.WriteFile(t, filepath.Join(src, "f1"), "one")
	testutil.WriteFile(t, filepath.Join(src, "d/f2"), "two")
	long := func(c string) string { return strings.Repeat(c, 100) }
	setXattrs(t, filepath.Join(src, "f1"), map[string]string{"user.plain": "p", "user.secret.key": "s", "user.secret.ok": "ok",
		"user.keep": "src", "user.gone": "src", "trusted.t": "t", "user.long": long("L"), "user.secret.long": long("S")})
	setXattrs(t, filepath.Join(src, "d"), map[string]string{"user.dirx": "dx", "user.secret.dir": "sd", "user.plain": "dp"})
	// A per-directory file's x rule (-F): for the entries in d, not d.
	testutil.WriteFile(t, filepath.Join(src, "d/.rsync-filter"), "-xs user.plain\n")
	setXattrs(t, filepath.Join(src, "d/f2"), map[string]string{"user.secret": "s2", "user.plain": "p2"})
	setXattrs(t, src, map[string]string{"user.rootx": "r", "user.secret.root": "sr"})
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, p := range []string{"f1", "d/f2", "d/.rsync-filter", "d"} {
		testutil.Must(t, os.Chtimes(filepath.Join(src, p), past, past))
	}
}

// xattrFilterTarget fills the target dir before a push: f1 up to date
// (same content and mtime: only its attributes change) with xattrs of its
// own, d with its own, and d/f2 with other content (sent anew: its old
// xattrs go with the old file, as with rsync's temporary file).
func xattrFilterTarget(t *testing.T, dir, src string) {
	testutil.WriteFile(t, filepath.Join(dir, "f1"), "one")
	testutil.WriteFile(t, filepath.Join(dir, "d/f2"), "other")
	setXattrs(t, filepath.Join(dir, "f1"), map[string]string{"user.secret.t": "target", "user.keep": "target", "user.gone": "target",
		"user.plain": "old", "trusted.tt": "target"})
	setXattrs(t, filepath.Join(dir, "d"), map[string]string{"user.secret.dt": "target", "user.keep": "tdir"})
	setXattrs(t, filepath.Join(dir, "d/f2"), map[string]string{"user.keep": "target"})
	setXattrs(t, dir, map[string]string{"user.secret.troot": "target", "user.rootx": "old"})
	fi, err := os.Stat(filepath.Join(src, "f1"))
	testutil.Must(t, err)
	testutil.Must(t, os.Chtimes(filepath.Join(dir, "f1"), fi.ModTime(), fi.ModTime()))
}

func setXattrs(t *testing.T, p string, m map[string]string) {
	t.Helper()
	for n, v := range m {
		if err := unix.Lsetxattr(p, n, []byte(v), 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				t.Skipf("set xattr %s on %s: %v", n, p, err)
			}
			t.Fatalf("set xattr %s on %s: %v", n, p, err)
		}
	}
}

// getXattr returns the xattr name of p, or "-" when p lacks it.
func getXattr(t *testing.T, p, name string) string {
	t.Helper()
	b := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, b)
	if errors.Is(err, unix.ENODATA) {
		return "-"
	}
	testutil.Must(t, err)
	return string(b[:n])
}

// TestXattrFilterMatchesRsync pushes one tree with -X and rsync's x
// filter rules (xattr names), with gsync and with C rsync 3.5.0, the
// same options, into fresh targets holding the same target-only xattrs:
// a local directory, an rsync daemon's modules (receiver as root) and
// sshd with rsync --server (C rsync over ssh). It requires equal targets,
// xattrs included, and checks the names each rule set is about: what the
// sender leaves out, include-before-exclude order, names a receiver-side
// rule protects on the target, a sender-only rule that lets the target's
// copy go, a merge file's rules, a per-directory file's (-F), for the
// entries of its directory, --delete-excluded, and rsync's default
// namespace rule off once an x rule is given (trusted.* copied and
// deleted).
func TestXattrFilterMatchesRsync(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the tree has trusted.* xattrs and the receivers run as root")
	}
	rsync := lookBinary(t, "rsync")
	ssh := lookBinary(t, "ssh")
	work := t.TempDir()
	rules := filepath.Join(work, "xattr.rules")
	testutil.WriteFile(t, rules, "# xattr names\n-x user.secret*\n-x trusted.*\n")
	cases := []struct {
		name string
		args []string
		// want are xattrs of gsync's target after the push:
		// "path name" to value, "-" absent.
		want map[string]string
	}{
		{"exclude, per-directory file", []string{"--filter", "-x user.secret*", "-F"}, map[string]string{
			"d/f2 user.plain": "-", "d user.plain": "dp",
			"f1 user.secret.key": "-", "f1 user.secret.long": "-", "f1 user.secret.t": "target", "f1 user.plain": "p",
			"f1 user.gone": "src", "f1 trusted.t": "t", "f1 trusted.tt": "-", "d user.secret.dir": "-", "d user.secret.dt": "target",
			"d/f2 user.secret": "-", "d/f2 user.keep": "-", ". user.rootx": "r", ". user.secret.root": "-", ". user.secret.troot": "target"}},
		{"include first, merge file", []string{"--filter", "+x user.secret.ok", "--filter", "merge " + rules}, map[string]string{
			"f1 user.secret.ok": "ok", "f1 user.secret.key": "-", "f1 user.secret.t": "target", "f1 trusted.t": "-",
			"f1 trusted.tt": "target", "f1 user.long": strings.Repeat("L", 100)}},
		{"sides", []string{"--filter", "-xr user.keep", "--filter", "-xs user.gone", "--filter", "Px user.secret.t"}, map[string]string{
			"f1 user.keep": "target", "f1 user.gone": "-", "f1 user.secret.key": "s", "f1 user.secret.t": "target",
			"f1 trusted.t": "t", "f1 trusted.tt": "-", "d user.keep": "tdir", "d/f2 user.keep": "-"}},
		{"user only, nothing deleted", []string{"--filter", "-x! user.*", "--filter", "-xr *"}, map[string]string{
			"f1 user.plain": "old", "f1 user.secret.key": "-", "f1 user.gone": "target", "f1 trusted.tt": "target",
			"f1 trusted.t": "-", "d user.dirx": "-", "d/f2 user.plain": "-", ". user.rootx": "old"}},
		// --delete-excluded makes the unsided rule the sender's: the
		// target's names it matches are removed (exclude.c:
		// parse_rule_tok), the r rule still protects.
		{"delete-excluded", []string{"--delete-excluded", "--filter", "-x user.secret*", "--filter", "-xr user.keep"}, map[string]string{
			"f1 user.secret.t": "-", "f1 user.secret.key": "-", "f1 user.keep": "target", "d user.secret.dt": "-", ". user.secret.troot": "-"}},
	}
	src := filepath.Join(work, "src")
	xattrFilterSource(t, src)
	// One daemon and one sshd for all rows; each row its own targets.
	var mods []Module
	for i := range cases {
		for _, who := range []string{"g", "r"} {
			dir := filepath.Join(work, who+itoa(i))
			testutil.MustMkdir(t, dir)
			xattrFilterTarget(t, dir, src)
			mods = append(mods, Module{Name: who + itoa(i), Path: dir, Extra: "\tuid = root\n\tgid = root"})
		}
	}
	d := StartRsyncDaemon(t, Config{Modules: mods})
	s := startSSHPeer(t)
	e := fmt.Sprintf("%s -F /dev/null -p %d -i %s -l %s -o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes",
		ssh, s.Port, s.UserKeyPath, s.User, s.KnownHostsFile)
	opt := treediff.Options{CompareXattrs: true, MtimeGranularity: -1}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			type kind struct {
				name         string
				g, r         string // target dirs
				gArgs, rArgs []string
				gDst, rDst   string
			}
			n := itoa(i)
			kinds := []kind{
				{name: "daemon", g: filepath.Join(work, "g"+n), r: filepath.Join(work, "r"+n), gDst: d.URL("g" + n), rDst: d.URL("r"+n) + "/"},
				{name: "local", g: filepath.Join(work, "lg"+n), r: filepath.Join(work, "lr"+n)},
				{name: "ssh", g: filepath.Join(work, "sg"+n), r: filepath.Join(work, "sr"+n), gArgs: sshArgs(s), rArgs: []string{"-e", e}},
			}
			for _, k := range kinds[1:] {
				for _, dir := range []string{k.g, k.r} {
					testutil.MustMkdir(t, dir)
					xattrFilterTarget(t, dir, src)
				}
			}
			kinds[1].gDst, kinds[1].rDst = kinds[1].g, kinds[1].r+"/"
			kinds[2].gDst, kinds[2].rDst = "127.0.0.1:"+kinds[2].g, "127.0.0.1:"+kinds[2].r+"/"
			for _, k := range kinds {
				args := append(append(append([]string{"--once", "--delete", "true", "-X"}, k.gArgs...), tc.args...), src, k.gDst)
				if code, out := runGsync(t, args...); code != 0 {
					t.Fatalf("%s: gsync %q: exit %d\n%s", k.name, args, code, out)
				}
				rargs := append(append(append([]string{"-a", "-X", "--delete"}, k.rArgs...), tc.args...), src+"/", k.rDst)
				if out, err := exec.Command(rsync, rargs...).CombinedOutput(); err != nil {
					t.Fatalf("%s: rsync %q: %v\n%s", k.name, rargs, err, out)
				}
				if diffs, err := treediff.Compare(k.r, k.g, opt); err != nil || len(diffs) > 0 {
					t.Errorf("%s: gsync's target differs from rsync's (%v): %v", k.name, err, diffs)
				}
				for key, want := range tc.want {
					p, name, _ := strings.Cut(key, " ")
					if got := getXattr(t, filepath.Join(k.g, p), name); got != want {
						t.Errorf("%s: %s has %s = %q, want %q", k.name, p, name, got, want)
					}
				}
			}
		})
	}
}

// TestXattrFilterLive runs gsync with -X and x rules on a local and an
// rsync daemon target: the startup sync leaves the excluded names out;
// later xattr changes at the source (attribute events) arrive without
// the excluded names, and the target xattrs the rules protect stay on
// a directory. (A file in a batch is sent whole, rsync -I, so its target
// copy is a new file without target-only xattrs, as C rsync's receiver
// leaves any file it writes: README, Filters.)
func TestXattrFilterLive(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the daemon's receiver runs as root to keep xattrs")
	}
	work := t.TempDir()
	src, dst, mod := filepath.Join(work, "src"), filepath.Join(work, "dst"), filepath.Join(work, "mod")
	testutil.MustMkdir(t, dst)
	testutil.MustMkdir(t, mod)
	testutil.WriteFile(t, filepath.Join(src, "d/f"), "data")
	setXattrs(t, filepath.Join(src, "d/f"), map[string]string{"user.plain": "p", "user.secret": "s"})
	setXattrs(t, filepath.Join(src, "d"), map[string]string{"user.plain": "dp", "user.secret": "ds"})
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: mod, Extra: "\tuid = root\n\tgid = root"}}})
	g := startGsync(t, nil, "--delay", "0", "-X", "--filter", "-x user.secret*", "--filter", "-xr user.keep", src, dst, d.URL("m"))
	for _, root := range []string{dst, mod} {
		p := filepath.Join(root, "d/f")
		testutil.Eventually(t, "d/f with its xattrs pushed to "+root, func() bool { return testutil.Exists(p) && getXattr(t, p, "user.plain") == "p" })
		for _, q := range []string{p, filepath.Join(root, "d")} {
			if got := getXattr(t, q, "user.secret"); got != "-" {
				t.Errorf("%s: excluded user.secret pushed: %q", q, got)
			}
		}
		setXattrs(t, filepath.Join(root, "d"), map[string]string{"user.keep": "target", "user.secret.t": "target"})
	}
	setXattrs(t, filepath.Join(src, "d"), map[string]string{"user.plain": "dp2", "user.secret": "ds2", "user.keep": "src"})
	setXattrs(t, filepath.Join(src, "d/f"), map[string]string{"user.plain": "p2", "user.secret": "s2"})
	for _, root := range []string{dst, mod} {
		p := filepath.Join(root, "d")
		testutil.Eventually(t, "the changed xattrs pushed to "+root, func() bool {
			return getXattr(t, p, "user.plain") == "dp2" && getXattr(t, filepath.Join(p, "f"), "user.plain") == "p2"
		})
		for name, want := range map[string]string{"user.secret": "-", "user.keep": "target", "user.secret.t": "target"} {
			if got := getXattr(t, p, name); got != want {
				t.Errorf("%s: d has %s = %q, want %q", root, name, got, want)
			}
		}
		if got := getXattr(t, filepath.Join(p, "f"), "user.secret"); got != "-" {
			t.Errorf("%s: d/f has the excluded user.secret = %q", root, got)
		}
	}
	if code := g.stop(15); code != 143 && code != 0 {
		t.Errorf("gsync exit %d", code)
	}
}

// TestXattrFilterNonRoot runs gsync and C rsync as an ordinary user
// (NonRootUser) into local targets: without x rules the receiver keeps
// the user namespace only (a security.* name of the source is not
// copied); with x rules it keeps what they let through, a name outside
// the user namespace as "user.rsync.NAME" (xattrs.c:receive_xattr).
// Neither tries to set a name it may not (no warning).
func TestXattrFilterNonRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the push as another user and to set a security.* xattr")
	}
	rsync := lookBinary(t, "rsync")
	base := userHome(t, NonRootUser)
	u, err := user.Lookup(NonRootUser)
	if err != nil {
		t.Skipf("no user %s: %v", NonRootUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	bin := filepath.Join(base, "gsync")
	placeGsync(t, bin)
	src := filepath.Join(base, "src")
	testutil.WriteFile(t, filepath.Join(src, "f"), "f")
	setXattrs(t, filepath.Join(src, "f"), map[string]string{"user.a": "a", "user.secret": "s", "security.gsync-test": "sec"})
	cases := []struct {
		name string
		args []string
		want map[string]string // xattrs of gsync's f, "-" absent
	}{
		{"default", nil, map[string]string{"user.a": "a", "user.secret": "s", "security.gsync-test": "-",
			"user.rsync.security.gsync-test": "-", "user.t": "-"}},
		{"x rule", []string{"--filter", "-x user.secret*"}, map[string]string{"user.a": "a", "user.secret": "-",
			"user.rsync.security.gsync-test": "sec", "user.secret.t": "target", "user.t": "-"}},
	}
	var dirs []string
	for i := range cases {
		for _, who := range []string{"g", "r"} {
			dir := filepath.Join(base, who+itoa(i))
			testutil.WriteFile(t, filepath.Join(dir, "f"), "f")
			setXattrs(t, filepath.Join(dir, "f"), map[string]string{"user.secret.t": "target", "user.t": "target"})
			dirs = append(dirs, dir, filepath.Join(dir, "f"))
		}
	}
	fi, err := os.Stat(filepath.Join(src, "f"))
	testutil.Must(t, err)
	for _, p := range append(dirs, src, filepath.Join(src, "f")) {
		testutil.Must(t, os.Lchown(p, uid, gid))
		if filepath.Base(p) == "f" {
			testutil.Must(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
		}
	}
	asUser := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "HOME="+base)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for i, tc := range cases {
		g, r := filepath.Join(base, "g"+itoa(i)), filepath.Join(base, "r"+itoa(i))
		args := append(append([]string{"--once", "--delete", "true", "-X"}, tc.args...), src, g)
		out, err := asUser(bin, args...)
		if err != nil {
			t.Fatalf("%s: gsync %q: %v\n%s", tc.name, args, err, out)
		}
		if strings.Contains(out, "cannot keep") {
			t.Errorf("%s: gsync tried a name the receiver does not keep:\n%s", tc.name, out)
		}
		rargs := append(append([]string{"-a", "-X", "--delete"}, tc.args...), src+"/", r+"/")
		if out, err := asUser(rsync, rargs...); err != nil {
			t.Fatalf("%s: rsync %q: %v\n%s", tc.name, rargs, err, out)
		}
		if diffs, err := treediff.Compare(r, g, treediff.Options{CompareXattrs: true, MtimeGranularity: -1}); err != nil || len(diffs) > 0 {
			t.Errorf("%s: gsync's target differs from rsync's (%v): %v", tc.name, err, diffs)
		}
		for name, want := range tc.want {
			if got := getXattr(t, filepath.Join(g, "f"), name); got != want {
				t.Errorf("%s: f has %s = %q, want %q", tc.name, name, got, want)
			}
		}
	}
}
