package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
	"github.com/gsync/gsync/lsyncdconf"
)

// corpusDir holds the lsyncd configs of TestLsyncdCorpus: shapes people
// write (from lsyncd's manual and what its users post), written for these
// tests. Each is a text/template; its header comments say on which
// targets it runs:
//
//	-- kinds: local daemon ssh   the targets it runs against
//	-- pending: KIND: REASON     a kind whose comparison is known to fail
//	--                           (another issue's work), skipped with REASON
//	-- lsyncd                    also run side by side with lsyncd 2.2.3
//	-- stale: PATH: REASON       the live comparison leaves PATH out: a
//	--                           path lsyncd + rsync leave stale too
//
// The template's functions place sources and targets (see corpusRun.funcs).
const corpusDir = "testdata/lsyncd-corpus"

// corpusSources are the source trees every config may use (src "a").
var corpusSources = []string{"a", "b", "c", "d"}

// corpusPeers are the peers every config of the corpus shares: one C
// rsync daemon module and one sshd (root logins, rsync --server behind).
type corpusPeers struct {
	daemonDir string
	daemonURL string
	ssh       *SSHD
	sshDir    string
}

// TestLsyncdCorpus runs every config of corpusDir, unchanged but for
// where its sources and targets are, with -onepass and then live (-delay
// 0, through one round of changes), against each kind of target it
// names: a local directory, a C rsync daemon and sshd. After each run
// every sync's target must equal what C rsync leaves for the arguments
// lsyncd 2.2.3 gives it for that sync (its startup command line, run
// locally: lsyncdconf.Sync.Lsyncd), and the live run must end with exit
// 143 on SIGTERM. Configs marked "-- lsyncd" also run live with lsyncd
// 2.2.3 when it is installed, through the same changes: both targets
// equal.
//
// Over sshd a run costs ten times the CPU of the others (a login, an
// SFTP session and standby rsync sessions per sync): make test runs the
// configs that name only ssh and every third of the others
// (sshEveryNth); make stress runs all.
func TestLsyncdCorpus(t *testing.T) {
	t.Parallel()
	rsync := lookBinary(t, "rsync")
	lookBinary(t, "ssh")
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.lua"))
	if err != nil || len(files) < 30 {
		t.Fatalf("corpus: %d configs (%v), want at least 30", len(files), err)
	}
	// The peers outlive every subtest: they belong to this test.
	base := t.TempDir()
	peers := &corpusPeers{daemonDir: filepath.Join(base, "module"), sshDir: filepath.Join(base, "ssh")}
	testutil.Must(t, os.Mkdir(peers.daemonDir, 0o755))
	testutil.Must(t, os.Mkdir(peers.sshDir, 0o755))
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: peers.daemonDir}}})
	peers.daemonURL = strings.TrimSuffix(d.URL("m"), "/")
	peers.ssh = StartSSHD(t, SSHDConfig{Extra: corpusSSHDExtra})
	for i, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".lua")
		h := parseCorpusHeader(string(text))
		if len(h.kinds) == 0 {
			t.Errorf("%s: no \"-- kinds:\" line", f)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, kind := range h.kinds {
				t.Run(kind, func(t *testing.T) {
					t.Parallel()
					if why := h.pending[kind]; why != "" {
						t.Skipf("pending: %s", why)
					}
					if kind == "ssh" && len(h.kinds) > 1 && i%sshEveryNth != 0 && !stress() {
						t.Skipf("ssh: every %dth config in make test, all in make stress", sshEveryNth)
					}
					r := newCorpusRun(t, peers, kind, name, string(text), rsync)
					r.stale = h.stale
					r.run(t, h.lsyncd && kind == "local")
				})
			}
		})
	}
}

// sshEveryNth: make test runs the ssh kind of every sshEveryNth config
// that also names other kinds.
const sshEveryNth = 3

// corpusHeader is what a config's header comments say.
type corpusHeader struct {
	kinds   []string
	pending map[string]string
	lsyncd  bool
	stale   []string // paths the live comparison leaves out
}

func parseCorpusHeader(text string) corpusHeader {
	h := corpusHeader{pending: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "-- kinds:"):
			h.kinds = strings.Fields(strings.TrimPrefix(line, "-- kinds:"))
		case strings.HasPrefix(line, "-- pending:"):
			kind, why, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "-- pending:")), ":")
			h.pending[strings.TrimSpace(kind)] = strings.TrimSpace(why)
		case strings.TrimSpace(line) == "-- lsyncd":
			h.lsyncd = true
		case strings.HasPrefix(line, "-- stale:"):
			p, _, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "-- stale:")), ":")
			h.stale = append(h.stale, strings.TrimSpace(p))
		}
	}
	return h
}

// corpusRun is one config run against one kind of target.
type corpusRun struct {
	kind, name, text, rsync string
	peers                   *corpusPeers
	dir                     string // scratch: the config, its extra files, the references
	srcRoot                 string
	dstRoot                 string // where the targets land on this machine
	stale                   []string
}

func newCorpusRun(t *testing.T, peers *corpusPeers, kind, name, text, rsync string) *corpusRun {
	r := &corpusRun{kind: kind, name: name, text: text, rsync: rsync, peers: peers, dir: t.TempDir()}
	r.srcRoot = filepath.Join(r.dir, "src")
	for i, s := range corpusSources {
		seedCorpusTree(t, filepath.Join(r.srcRoot, s), i)
	}
	switch kind {
	case "local":
		r.dstRoot = filepath.Join(r.dir, "dst")
	case "daemon":
		r.dstRoot = filepath.Join(peers.daemonDir, name)
	case "ssh":
		r.dstRoot = filepath.Join(peers.sshDir, name)
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	if err := os.MkdirAll(r.dstRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// seedCorpusTree writes a small tree that tells rsync's options apart:
// files of several sizes and modes, one owned by another user, nested
// and empty directories, a relative symlink, names with spaces and
// pattern characters, and files the configs exclude (*.o, *.tmp, .git/,
// cache/).
func seedCorpusTree(t *testing.T, root string, n int) {
	t.Helper()
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	w := func(p string, size int, mode os.FileMode) {
		full := filepath.Join(root, p)
		testutil.Must(t, os.MkdirAll(filepath.Dir(full), 0o755))
		testutil.Must(t, os.WriteFile(full, bytes.Repeat([]byte{byte('a' + n)}, size), mode))
		testutil.Must(t, os.Chmod(full, mode))
	}
	w("f1", 10+n, 0o644)
	w("f2", 3000, 0o600)
	w("f3", 70000+n, 0o755)
	w("sub/dir/deep.txt", 500, 0o640)
	w("sub/with space [x]", 20, 0o644)
	w("build/main.o", 100, 0o644)
	w("tmp.tmp", 5, 0o644)
	w(".git/HEAD", 23, 0o644)
	w("cache/blob", 4000, 0o644)
	w("owned", 7, 0o644)
	testutil.Must(t, os.Lchown(filepath.Join(root, "owned"), 1234, 5678))
	testutil.Must(t, os.MkdirAll(filepath.Join(root, "empty"), 0o750))
	testutil.Must(t, os.Symlink("sub/dir/deep.txt", filepath.Join(root, "link")))
	// Old mtimes (directories last): a fresh copy cannot match by chance.
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink == 0 && !fi.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	for _, d := range []string{"sub/dir", "sub", "build", ".git", "cache", "empty", ""} {
		os.Chtimes(filepath.Join(root, d), old, old)
	}
}

// corpusChange is the live round of changes, on every source: a new
// file in a new directory tree, an append, a delete, a rename, a new
// excluded file, a mode change. The new tree is made beside the source
// and moved in whole: a push that read new.txt between its creation and
// its write would leave an empty copy, which the next push replaces,
// and configs with backups keep that copy (as with lsyncd + rsync),
// where C rsync's one push after all changes makes no backup.
func corpusChange(t *testing.T, root string) {
	t.Helper()
	at := func(p string) string { return filepath.Join(root, p) }
	stage := t.TempDir()
	testutil.Must(t, os.MkdirAll(filepath.Join(stage, "live/deep/er"), 0o755))
	testutil.Must(t, os.WriteFile(filepath.Join(stage, "live/deep/er/new.txt"), []byte("new"), 0o644))
	testutil.Must(t, os.Rename(filepath.Join(stage, "live"), at("live")))
	f, err := os.OpenFile(at("f1"), os.O_WRONLY|os.O_APPEND, 0)
	testutil.Must(t, err)
	_, err = f.WriteString("appended")
	testutil.Must(t, err)
	testutil.Must(t, f.Close())
	testutil.Must(t, os.Remove(at("f2")))
	testutil.Must(t, os.Rename(at("f3"), at("f3 renamed")))
	testutil.Must(t, os.WriteFile(at("build/new.o"), []byte("o"), 0o644))
	testutil.Must(t, os.Chmod(at("sub/dir/deep.txt"), 0o600))
}

// funcs are the template functions a config places itself with; each
// returns Lua source (a quoted string, a number or nil).
func (r *corpusRun) funcs(dstRoot, scratch string) template.FuncMap {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	targetOf := func(name string) string {
		p := filepath.Join(dstRoot, name)
		if name == "" {
			p = dstRoot + "/"
		}
		switch r.kind {
		case "daemon":
			rel := strings.TrimPrefix(p, r.peers.daemonDir)
			return r.peers.daemonURL + rel
		case "ssh":
			return r.peers.ssh.User + "@127.0.0.1:" + p
		}
		return p
	}
	s := r.peers.ssh
	return template.FuncMap{
		"src":        func(name string) string { return q(filepath.Join(r.srcRoot, name)) },
		"srcRoot":    func() string { return q(r.srcRoot + "/") },
		"target":     func(name string) string { return q(targetOf(name)) },
		"targetBase": func() string { return q(targetOf("")) },
		"targetdir":  func(name string) string { return q(filepath.Join(dstRoot, name)) },
		"host":       func() string { return q(s.User + "@127.0.0.1") },
		"sshPort":    func() string { return fmt.Sprint(s.Port) },
		"sshKey":     func() string { return q(s.UserKeyPath) },
		"knownHosts": func() string { return q(s.KnownHostsFile) },
		"rsh": func() string {
			if r.kind != "ssh" {
				return "nil"
			}
			return q(fmt.Sprintf("ssh -p %d -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes",
				s.Port, s.UserKeyPath, s.KnownHostsFile))
		},
		"dir": func() string { return q(scratch) },
		"exe": func(name, content string) string {
			p := filepath.Join(scratch, name)
			os.WriteFile(p, []byte(strings.ReplaceAll(content, `\n`, "\n")), 0o755)
			return q(p)
		},
		"secret": func(name, content string) string {
			p := filepath.Join(scratch, name)
			os.WriteFile(p, []byte(content+"\n"), 0o600)
			return q(p)
		},
		"file": func(name, content string) string {
			p := filepath.Join(scratch, name)
			os.WriteFile(p, []byte(strings.ReplaceAll(content, `\n`, "\n")), 0o644)
			return q(p)
		},
	}
}

// render writes the config for targets below dstRoot, its extra files
// in scratch.
func (r *corpusRun) render(t *testing.T, dstRoot, scratch string) string {
	t.Helper()
	testutil.Must(t, os.MkdirAll(scratch, 0o755))
	tmpl, err := template.New(r.name).Funcs(r.funcs(dstRoot, scratch)).Parse(r.text)
	if err != nil {
		t.Fatalf("parse template: %v", err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatalf("render: %v", err)
	}
	p := filepath.Join(scratch, r.name+".lua")
	testutil.Must(t, os.WriteFile(p, b.Bytes(), 0o644))
	return p
}

// corpusSync is one sync of a config with where its target lands here
// and the C rsync reference for it.
type corpusSync struct {
	s      lsyncdconf.Sync
	dst    string
	ref    string
	ext    *lsyncdconf.External
	excl   []string
	filt   []string
	noInit bool
	stale  []string // left out of the live comparison (corpusHeader)
}

// syncsOf loads the rendered config as gsync reads it and prepares a
// reference directory for each sync.
func (r *corpusRun) syncsOf(t *testing.T, conf string) []*corpusSync {
	t.Helper()
	cfg, err := lsyncdconf.LoadFile(conf)
	if err != nil {
		t.Fatalf("load %s: %v", conf, err)
	}
	var out []*corpusSync
	for i, s := range cfg.Syncs {
		cs := &corpusSync{s: s, ref: filepath.Join(r.dir, fmt.Sprintf("ref%d", i)), noInit: !s.Init, stale: r.stale}
		switch {
		case s.Kind == lsyncdconf.KindRsyncSSH:
			cs.dst = s.TargetDir
		case strings.HasPrefix(s.Target, r.peers.daemonURL):
			cs.dst = r.peers.daemonDir + strings.TrimPrefix(s.Target, r.peers.daemonURL)
		case strings.Contains(s.Target, "@127.0.0.1:"):
			_, cs.dst, _ = strings.Cut(s.Target, ":")
		default:
			cs.dst = s.Target
		}
		cs.ext = s.Lsyncd()
		cs.ext.Target = cs.ref + "/"
		// Options for the connection only: a local reference has none.
		cs.ext.Computed = slices.DeleteFunc(slices.Clone(cs.ext.Computed), func(a string) bool {
			for _, p := range []string{"--rsh=", "--password-file=", "--rsync-path=", "--timeout=", "--bwlimit="} {
				if strings.HasPrefix(a, p) {
					return true
				}
			}
			return false
		})
		cs.excl = append(cs.excl, s.Exclude...)
		if s.ExcludeFrom != "" {
			pats, err := filter.ReadExcludeFile(s.ExcludeFrom)
			testutil.Must(t, err)
			cs.excl = append(cs.excl, pats...)
		}
		cs.filt = append(cs.filt, s.Filter...)
		if s.FilterFrom != "" {
			rules, err := lsyncdconf.ReadFilterFile(s.FilterFrom)
			testutil.Must(t, err)
			cs.filt = append(cs.filt, rules...)
		}
		out = append(out, cs)
	}
	return out
}

// reference runs C rsync for cs as lsyncd's startup sync would (del:
// with --delete), into its reference directory.
func (r *corpusRun) reference(t *testing.T, cs *corpusSync, del bool) {
	t.Helper()
	args, stdin := cs.ext.StartupArgs(cs.s.Source, cs.excl, cs.filt, del)
	cmd := exec.Command(r.rsync, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reference rsync %q: %v\n%s", args, err, out)
	}
}

// compareOptions are the comparisons of a target with its reference.
func compareOptions(cs *corpusSync, live bool) treediff.Options {
	o := treediff.Options{CompareOwner: true, SkipSymlinkMtimes: true, IgnoreRootMtime: live, SkipDirMtimes: live}
	if !cs.s.Rsync.On("times") {
		o.MtimeGranularity = -1
	}
	if cs.s.Rsync.On("omit_dir_times") {
		// -O: both leave directory mtimes as their creation made them.
		o.SkipDirMtimes, o.IgnoreRootMtime = true, true
	}
	return o
}

// equalRef reports whether cs's target equals its reference (both may
// be missing).
func equalRef(cs *corpusSync, live bool) ([]treediff.Diff, error) {
	_, errR := os.Lstat(cs.ref)
	_, errD := os.Lstat(cs.dst)
	if errR != nil || errD != nil {
		if (errR == nil) != (errD == nil) {
			return []treediff.Diff{{Path: ".", Kind: "root", Src: fmt.Sprint(errR), Dst: fmt.Sprint(errD)}}, nil
		}
		return nil, nil
	}
	diffs, err := treediff.Compare(cs.ref, cs.dst, compareOptions(cs, live))
	if live {
		diffs = slices.DeleteFunc(diffs, func(d treediff.Diff) bool { return slices.Contains(cs.stale, d.Path) })
	}
	return diffs, err
}

// sameRef is equalRef's verdict alone, cheaper (treediff.Same): for
// polling.
func sameRef(cs *corpusSync, live bool) bool {
	_, errR := os.Lstat(cs.ref)
	_, errD := os.Lstat(cs.dst)
	if errR != nil || errD != nil {
		return (errR == nil) == (errD == nil)
	}
	same, err := treediff.Same(cs.ref, cs.dst, compareOptions(cs, live))
	return err == nil && same
}

// waitRefs waits until every target equals its reference.
func waitRefs(t *testing.T, syncs []*corpusSync, live bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, cs := range syncs {
		if live && cs.noInit {
			continue // holds only what changed: checked by run
		}
		for !sameRef(cs, live) {
			if time.Now().Before(deadline) {
				time.Sleep(corpusPoll)
				continue
			}
			diffs, err := equalRef(cs, live)
			if err != nil || len(diffs) > 0 {
				t.Fatalf("%s (%s -> %s) differs from C rsync's %q: %v\n%s", cs.s.Where(), cs.s.Source, cs.dst,
					cs.ext.Computed, err, treediff.Format(diffs, 20))
			}
			break // converged since the last poll
		}
	}
}

// corpusPoll is the pause between two comparisons: short, the trees are
// small and a waiting subtest holds one of the few parallel slots.
const corpusPoll = 25 * time.Millisecond

// waitLogCount waits until p's output holds s n times.
func waitLogCount(t *testing.T, p *gsyncProc, s string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(p.out.String(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("gsync did not log %q %d times within %v:\n%s", s, n, timeout, tail(p.out.String(), 30))
		}
		time.Sleep(corpusPoll)
	}
}

// run runs the config with -onepass, compares, then live with -delay 0
// through corpusChange, compares, and stops it; withLsyncd also runs
// lsyncd 2.2.3 live on its own targets.
func (r *corpusRun) run(t *testing.T, withLsyncd bool) {
	conf := r.render(t, r.dstRoot, filepath.Join(r.dir, "gsync"))
	syncs := r.syncsOf(t, conf)
	for _, cs := range syncs {
		if !cs.noInit {
			r.reference(t, cs, cs.s.Delete == "true" || cs.s.Delete == "startup")
		}
	}
	if r.kind != "ssh" {
		// Over ssh only the live run: its startup sync (checked below
		// against the same references) is -onepass's work, and every
		// ssh connection costs sshd a fork and a login.
		code, out := runGsync(t, "-onepass", conf)
		if code != 0 {
			t.Fatalf("-onepass: exit %d\n%s", code, tail(out, 30))
		}
		waitRefs(t, syncs, false, 5*time.Second)
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("-onepass logged an error: %s", line)
			}
		}
	}

	var lsyncdTargets []*corpusSync
	var stopLsyncd func()
	if withLsyncd {
		lsyncdTargets, stopLsyncd = r.startLsyncd(t)
	}
	g := startGsync(t, nil, "-delay", "0", conf)
	// The changes must come after the startup syncs (a delete = "startup"
	// sync deletes only in those); the startup sync of a target -onepass
	// synced changes nothing.
	startups := 0
	for _, cs := range syncs {
		if !cs.noInit {
			startups++
		}
	}
	waitLogCount(t, g, "msg=watching", 1, 20*time.Second)
	waitLogCount(t, g, `msg="full sync done"`, startups, 20*time.Second)
	waitRefs(t, slices.DeleteFunc(slices.Clone(syncs), func(cs *corpusSync) bool { return cs.noInit }), false, 10*time.Second)
	for _, s := range corpusSources {
		corpusChange(t, filepath.Join(r.srcRoot, s))
	}
	for _, cs := range syncs {
		// lsyncd's batches apply deletes unless delete is false or
		// "startup"; init = false targets hold only what changed.
		if cs.noInit {
			continue
		}
		r.reference(t, cs, cs.s.Delete == "true" || cs.s.Delete == "running")
	}
	waitRefs(t, syncs, true, 20*time.Second)
	for _, cs := range syncs {
		if cs.noInit {
			if _, err := os.Stat(filepath.Join(cs.dst, "live/deep/er/new.txt")); err != nil {
				waitExists(t, filepath.Join(cs.dst, "live/deep/er/new.txt"), 10*time.Second)
			}
		}
	}
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("live: exit %d after SIGTERM, want 143", code)
	}
	if stopLsyncd != nil {
		waitRefs(t, lsyncdTargets, true, 30*time.Second)
		stopLsyncd()
	}
}

// waitExists waits for p to exist.
func waitExists(t *testing.T, p string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Lstat(p); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", p, timeout)
		}
		time.Sleep(corpusPoll)
	}
}

// startLsyncd runs lsyncd 2.2.3 (-delay 1) on the same config with its
// own targets (references shared with gsync's: the same syncs); stop
// ends it. Without lsyncd it returns nothing.
func (r *corpusRun) startLsyncd(t *testing.T) ([]*corpusSync, func()) {
	lsyncd, err := exec.LookPath("lsyncd")
	if err != nil {
		t.Log("lsyncd not installed: no side-by-side run")
		return nil, nil
	}
	dst := filepath.Join(r.dir, "lsyncd-dst")
	testutil.Must(t, os.MkdirAll(dst, 0o755))
	conf := r.render(t, dst, filepath.Join(r.dir, "lsyncd"))
	syncs := r.syncsOf(t, conf)
	for i, cs := range syncs {
		cs.ref = filepath.Join(r.dir, fmt.Sprintf("ref%d", i)) // gsync's references
	}
	cmd := exec.Command(lsyncd, "-nodaemon", "-delay", "1", conf)
	p, _ := startLsyncdCmd(t, cmd)
	// lsyncd's startup sync must be done before the changes.
	waitRefs(t, syncs, false, 20*time.Second)
	return syncs, func() { p.stop() }
}

// corpusSSHDExtra keeps sshd's CPU per connection low (the corpus opens
// hundreds): one fast key exchange and cipher.
const corpusSSHDExtra = "KexAlgorithms curve25519-sha256\nCiphers aes128-gcm@openssh.com\nMaxStartups 100\nMaxSessions 100"
