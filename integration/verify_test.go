package integration

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// verifyPeer is a target kind gsync verify runs against: the directory
// the target lands in, the arguments that name it, and whether rsync
// prints its transfers as a sender ('<') or as a local copy ('>').
type verifyPeer struct {
	name    string
	sending bool
	target  func(t *testing.T) (dir string, args []string)
}

func verifyPeers() []verifyPeer {
	return []verifyPeer{
		{"local", false, func(t *testing.T) (string, []string) {
			dst := t.TempDir()
			return dst, []string{dst}
		}},
		{"daemon", true, func(t *testing.T) (string, []string) {
			dir := filepath.Join(t.TempDir(), "module")
			d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir}}})
			return dir, []string{d.URL("m")}
		}},
		{"ssh", true, func(t *testing.T) (string, []string) {
			s := startSSHPeer(t)
			dst := t.TempDir()
			return dst, append(sshArgs(s), "127.0.0.1:"+dst)
		}},
	}
}

// rsyncOracle is what C rsync -ani --delete (-c) prints for a copy of
// src to dst with the drift tree's exclude, as the given side prints it,
// sorted.
func rsyncOracle(t *testing.T, src, dst string, checksum, sending bool) []string {
	t.Helper()
	args := []string{"-ani", "--delete", "--exclude", treediff.DriftExclude}
	if checksum {
		args = append(args, "-c")
	}
	out, err := exec.Command(lookBinary(t, "rsync"), append(args, src+"/", dst+"/")...).Output()
	if err != nil {
		t.Fatalf("rsync -ani: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l == "" {
			continue
		}
		if sending && strings.HasPrefix(l, ">") {
			l = "<" + l[1:]
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return lines
}

// splitVerify separates gsync verify's itemized lines (sorted) from its
// summary lines.
func splitVerify(out string) (items, summary []string) {
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		switch {
		case l == "":
		case strings.Contains(l, " -> ") && strings.Contains(l, ": ") && strings.HasPrefix(l, "/"):
			summary = append(summary, l)
		default:
			items = append(items, l)
		}
	}
	slices.Sort(items)
	return items, summary
}

// TestVerifyRealPeers: on a local target, an rsync 3.5.0 daemon and
// sshd, gsync verify finds every planted difference (content with equal
// size and mtime only with --checksum, mode, owner, group, symlink
// target, missing and extra entries, a file that is a directory on the
// target) and prints exactly what C rsync -ani prints for the same
// trees, leaves excluded entries alone and exits 1; --repair makes the
// target equal (a second verify prints nothing and exits 0, and so does
// rsync -anic), and --json reports the same.
func TestVerifyRealPeers(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	for _, p := range verifyPeers() {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			dst, targetArgs := p.target(t)
			src := t.TempDir()
			if _, err := treediff.PlantDrift(src, dst); err != nil {
				t.Fatal(err)
			}
			base := append([]string{"verify", "--exclude", treediff.DriftExclude}, append([]string{src}, targetArgs...)...)
			run := func(extra ...string) (int, string) {
				t.Helper()
				args := append([]string{base[0]}, extra...)
				return runGsync(t, append(args, base[1:]...)...)
			}
			for _, checksum := range []bool{false, true} {
				var extra []string
				if checksum {
					extra = []string{"--checksum"}
				}
				want := rsyncOracle(t, src, dst, checksum, p.sending)
				code, out := run(extra...)
				items, summary := splitVerify(out)
				if code != 1 {
					t.Errorf("checksum %v: exit %d, want 1 (differs)\n%s", checksum, code, out)
				}
				if diff := cmp.Diff(want, items); diff != "" {
					t.Errorf("checksum %v: itemized (-rsync -ani +gsync verify):\n%s", checksum, diff)
				}
				if len(summary) != 1 || !strings.Contains(summary[0], "difference(s)") {
					t.Errorf("checksum %v: summary %q", checksum, summary)
				}
				if checksum != slices.ContainsFunc(items, func(l string) bool { return strings.HasSuffix(l, " content") }) {
					t.Errorf("checksum %v: the same-size same-mtime content difference found %v", checksum, !checksum)
				}
			}

			code, out := run("--json", "--checksum")
			var rep []struct {
				Equal       bool
				Differences []struct{ Item, Path, Kind string }
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || len(rep) != 1 || rep[0].Equal {
				t.Fatalf("--json: exit %d, %v:\n%s", code, err, out)
			}
			kinds := map[string]string{}
			for _, d := range rep[0].Differences {
				if d.Kind != "extra" || kinds[d.Path] == "" {
					kinds[d.Path] = d.Kind
				}
			}
			for path, kind := range map[string]string{"content": "update", "size": "update", "time": "attributes", "mode": "attributes",
				"link": "attributes", "missing": "missing", "newdir/missing": "missing", "extra": "extra", "extradir/x": "extra", "type": "missing"} {
				if kinds[path] != kind {
					t.Errorf("--json: %s is %q, want %q (all: %v)", path, kinds[path], kind, kinds)
				}
			}

			code, out = run("--repair", "--checksum")
			if _, summary := splitVerify(out); code != 1 || len(summary) != 1 || !strings.HasSuffix(summary[0], "repaired, now equal") {
				t.Errorf("--repair: exit %d\n%s", code, out)
			}
			code, out = run("--checksum")
			if items, summary := splitVerify(out); code != 0 || len(items) != 0 || len(summary) != 1 || !strings.HasSuffix(summary[0], ": equal") {
				t.Errorf("verify after --repair: exit %d, want 0 and nothing listed\n%s", code, out)
			}
			if left := rsyncOracle(t, src, dst, true, p.sending); len(left) != 0 {
				t.Errorf("rsync -anic after --repair: %q", left)
			}
			if !testutil.Exists(filepath.Join(dst, "keep.tmp")) || testutil.Exists(filepath.Join(dst, "skip.tmp")) {
				t.Errorf("excluded entries were touched by the repair")
			}
		})
	}
}

// TestVerifyErrors: verify exits 3 when a target cannot be compared and
// 2 on a usage error.
func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "f"), "x")
	code, out := runGsync(t, "verify", "--timeout", "5", src, "rsync://127.0.0.1:1/nothing/")
	if code != 3 || !strings.Contains(out, "error:") {
		t.Errorf("unreachable daemon: exit %d, want 3\n%s", code, out)
	}
	code, out = runGsync(t, "verify", src)
	if code != 2 {
		t.Errorf("no target: exit %d, want 2\n%s", code, out)
	}
	if code, out := runGsync(t, "verify", "--bogus", src, t.TempDir()); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2\n%s", code, out)
	}
}

// TestVerifyConfig: gsync verify --config compares every sync of an
// lsyncd config, each with its own options: a default.rsync sync with
// rsync = { archive = true } to an rsync 3.5.0 daemon (every planted
// difference, as rsync -ani), and a default.direct one with delete =
// 'running', whose full syncs do not delete (its extra entry is no
// difference).
func TestVerifyConfig(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	dir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir}}})
	src, local := t.TempDir(), t.TempDir()
	if _, err := treediff.PlantDrift(src, dir); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(local, "extra"), "only on the target")
	conf := filepath.Join(t.TempDir(), "lsyncd.conf.lua")
	testutil.WriteFile(t, conf, `settings { nodaemon = true }
sync { default.rsync, source = "`+src+`", target = "`+d.URL("m")+`", rsync = { archive = true }, exclude = { "`+treediff.DriftExclude+`" } }
sync { default.direct, source = "`+src+`", target = "`+local+`", delete = 'running', exclude = { "`+treediff.DriftExclude+`" } }
`)
	code, out := runGsync(t, "verify", "--config", conf)
	sections := map[string][]string{}
	cur := ""
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "# "+src+" -> "):
			cur = strings.TrimPrefix(l, "# "+src+" -> ")
		case strings.HasPrefix(l, src+" -> "):
			cur = ""
		case cur != "":
			sections[cur] = append(sections[cur], l)
		}
	}
	if code != 1 || len(sections) != 2 {
		t.Fatalf("exit %d, want 1 with two targets\n%s", code, out)
	}
	got := sections[d.URL("m")]
	slices.Sort(got)
	if diff := cmp.Diff(rsyncOracle(t, src, dir, false, true), got); diff != "" {
		t.Errorf("daemon sync (-rsync -ani +gsync verify):\n%s", diff)
	}
	direct := sections[local]
	if slices.Contains(direct, "*deleting   extra") || !slices.Contains(direct, ">f+++++++++ missing") {
		t.Errorf("direct sync with delete = 'running': %q, want missing files and no deletion", direct)
	}
}

// TestVerifyXattrsACLs: with -A -X, gsync verify reports a target
// file's changed xattr ('x') and added ACL ('a') on an rsync 3.5.0
// daemon and sshd as C rsync -aAX -ani does.
func TestVerifyXattrsACLs(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	setfacl := lookBinary(t, "setfacl")
	for _, p := range verifyPeers()[1:] {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			dst, targetArgs := p.target(t)
			src := t.TempDir()
			testutil.WriteFile(t, filepath.Join(src, "f"), "a")
			testutil.WriteFile(t, filepath.Join(src, "g"), "b")
			if out, err := exec.Command("setfattr", "-n", "user.k", "-v", "v", filepath.Join(src, "f")).CombinedOutput(); err != nil {
				t.Skipf("setfattr: %v %s", err, out)
			}
			if code, out := runGsync(t, append([]string{"--once", "-AX", "--control-socket", "none", src}, targetArgs...)...); code != 0 {
				t.Fatalf("gsync --once: exit %d\n%s", code, out)
			}
			testutil.Must(t, exec.Command("setfattr", "-n", "user.k", "-v", "edited", filepath.Join(dst, "f")).Run())
			testutil.Must(t, exec.Command(setfacl, "-m", "u:65534:r", filepath.Join(dst, "g")).Run())
			out, err := exec.Command(lookBinary(t, "rsync"), "-aAX", "-ani", src+"/", dst+"/").Output()
			testutil.Must(t, err)
			var want []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if l != "" && !strings.HasSuffix(l, " ./") {
					want = append(want, l)
				}
			}
			slices.Sort(want)
			code, vout := runGsync(t, append([]string{"verify", "-AX", src}, targetArgs...)...)
			items, _ := splitVerify(vout)
			items = slices.DeleteFunc(items, func(l string) bool { return strings.HasSuffix(l, " ./") })
			if code != 1 || len(items) != 2 {
				t.Errorf("exit %d, want 1 with 2 items\n%s", code, vout)
			}
			if diff := cmp.Diff(want, items); diff != "" {
				t.Errorf("(-rsync -aAX -ani +gsync verify -AX):\n%s", diff)
			}
		})
	}
}

// TestVerifyMissingRemoteDir: gsync verify against an ssh target whose
// directory does not exist reports everything missing and creates
// nothing.
func TestVerifyMissingRemoteDir(t *testing.T) {
	t.Parallel()
	s := startSSHPeer(t)
	src := t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "f"), "x")
	dst := filepath.Join(t.TempDir(), "not", "there")
	code, out := runGsync(t, append(append([]string{"verify"}, sshArgs(s)...), src, "127.0.0.1:"+dst)...)
	if items, _ := splitVerify(out); code != 1 || !slices.Contains(items, "<f+++++++++ f") {
		t.Errorf("exit %d, want 1 with f missing\n%s", code, out)
	}
	if testutil.Exists(filepath.Dir(dst)) {
		t.Errorf("verify created %s", filepath.Dir(dst))
	}
}
