package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/treediff"
)

// bigTree builds the acceptance tree: files files spread over dirs
// directories, with symlinks, odd names, sub-second mtimes and
// setuid/setgid/sticky bits.
func bigTree(t *testing.T, root string, files, dirs int, names []string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(files), uint64(dirs)))
	list := []string{root}
	for i := 0; i < dirs; i++ {
		name := fmt.Sprintf("d%03d", i)
		if i%25 == 0 {
			name = fmt.Sprintf("%s%03d", names[i/25%len(names)], i)
		}
		p := filepath.Join(list[rng.IntN(len(list))], name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		list = append(list, p)
	}
	os.Chmod(list[1], 0o1777) // sticky, like /tmp
	os.Chmod(list[2], 0o2775) // setgid directory
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// File contents are windows of one random text: filling each file
	// byte by byte is slow under the race detector.
	text := make([]byte, 64<<10)
	for j := range text {
		text[j] = byte('a' + rng.IntN(26))
	}
	for i := 0; i < files; i++ {
		dir := list[rng.IntN(len(list))]
		name := fmt.Sprintf("f%05d.txt", i)
		if i%97 == 0 {
			name = fmt.Sprintf("%s-%d", names[i/97%len(names)], i)
		}
		p := filepath.Join(dir, name)
		n := rng.IntN(2048)
		off := rng.IntN(len(text) - n)
		data := text[off : off+n]
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		switch i % 50 {
		case 1:
			os.Chmod(p, 0o4755) // setuid
		case 2:
			os.Chmod(p, 0o600)
		}
		mt := base.Add(time.Duration(rng.Int64N(int64(90 * 24 * time.Hour))))
		os.Chtimes(p, mt, mt) // sub-second mtimes
		if i%200 == 0 {
			os.Symlink(name, filepath.Join(dir, "link-"+name))
			os.Symlink("/nonexistent/target", filepath.Join(dir, fmt.Sprintf("dangling%d", i)))
		}
	}
	// Directory mtimes last, at whole seconds in the past (rsync skips a
	// directory whose mtime matches to the second; see rsyncPeerOptions).
	for i := len(list) - 1; i >= 0; i-- {
		mt := base.Add(time.Duration(i) * time.Minute)
		os.Chtimes(list[i], mt, mt)
	}
}

// peer is one rsync daemon flavour gsync is tested against.
type peer struct {
	name string
	url  string
	dir  string
	opts []treediff.Options // all must hold for the trees to be equal
	// validUTF8 avoids names with invalid UTF-8 (gokrazy's receiver fails
	// to read directories with such names: "readdir ...: invalid argument").
	validUTF8 bool
}

// rsyncPeerOptions are the comparisons that hold against C rsync at
// protocol proto: file mtimes in ns from protocol 31 on, seconds before;
// directory and symlink mtimes to the second (rsync leaves them alone when
// they already match to the second).
func rsyncPeerOptions(proto int) []treediff.Options {
	files := treediff.Options{SkipDirMtimes: true, SkipSymlinkMtimes: true, IgnoreRootMtime: true}
	if proto < 31 {
		files.MtimeGranularity = time.Second
	}
	return []treediff.Options{files, {MtimeGranularity: time.Second, IgnoreRootMtime: true}}
}

func startRsyncPeer(t *testing.T, proto int) peer {
	dir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Protocol: proto, Modules: []Module{{Name: "m", Path: dir}}})
	name := "rsync-3.5"
	if proto != 0 {
		name += fmt.Sprintf("/protocol=%d", proto)
	} else {
		proto = 32
	}
	return peer{name: name, url: d.URL("m"), dir: dir, opts: rsyncPeerOptions(proto)}
}

func startGokrazyPeer(t *testing.T) peer {
	dir := t.TempDir()
	addr := StartGokrazyDaemon(t, dir)
	// gokrazy's receiver (protocol 27) sets file mtimes to the second and
	// does not restore directory mtimes.
	return peer{name: "gokrazy/protocol=27", url: "rsync://" + addr + "/" + GokrazyModule + "/", dir: dir,
		opts:      []treediff.Options{{MtimeGranularity: time.Second, SkipDirMtimes: true, SkipSymlinkMtimes: true, IgnoreRootMode: true}},
		validUTF8: true}
}

func waitEqualAll(t *testing.T, src, dst string, timeout time.Duration, opts []treediff.Options) {
	t.Helper()
	for _, o := range opts {
		waitEqual(t, src, dst, timeout, o)
	}
}

// TestDaemonAuth checks the right password (file and environment) and that a
// wrong one stops gsync with a clear message.
func TestDaemonAuth(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed")
	}
	dir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "secure", Path: dir,
		AuthUsers: []string{"alice"}, Secrets: map[string]string{"alice": "s3cret"}}}})
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "file"), []byte("payload"), 0o644)
	url := strings.Replace(d.URL("secure"), "rsync://", "rsync://alice@", 1)

	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	if code, out := runGsync(t, "--once", "--password-file", pw, src, url); code != 0 {
		t.Fatalf("right password (file): exit %d: %s", code, out)
	}
	treediff.Equal(t, src, dir, treediff.Options{IgnoreRootMtime: true, MtimeGranularity: time.Second})

	if code, out := runGsyncEnv(t, []string{"RSYNC_PASSWORD=s3cret"}, "--once", src, url); code != 0 {
		t.Fatalf("right password (RSYNC_PASSWORD): exit %d: %s", code, out)
	}

	os.WriteFile(pw, []byte("wrong\n"), 0o600)
	code, out := runGsync(t, "--once", "--password-file", pw, src, url)
	if code == 0 || !strings.Contains(strings.ToLower(out), "auth") {
		t.Errorf("wrong password: exit %d, want a failure that mentions authentication: %s", code, out)
	}
	os.Chmod(pw, 0o644)
	code, out = runGsync(t, "--once", "--password-file", pw, src, url)
	if code != 2 || !strings.Contains(out, "password file") {
		t.Errorf("world-readable password file: exit %d, want 2 naming the password file: %s", code, out)
	}
}

// TestDaemonUnwritableDir makes one target directory unwritable for the
// daemon: only its files fail (and are retried), the rest of the batch
// lands, and once it is writable again everything converges.
func TestDaemonUnwritableDir(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed")
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to run the daemon as nobody")
	}
	dir := filepath.Join(t.TempDir(), "module")
	os.MkdirAll(filepath.Join(dir, "ro"), 0o755)
	os.Chown(dir, 65534, 65534)
	os.Chown(filepath.Join(dir, "ro"), 65534, 65534)
	os.Chmod(filepath.Dir(dir), 0o755)
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir, NoChroot: true,
		Extra: "uid = 65534\ngid = 65534\n"}}})
	src := t.TempDir()
	os.Chmod(src, 0o755)
	os.Mkdir(filepath.Join(src, "ro"), 0o755)
	os.Mkdir(filepath.Join(src, "ok"), 0o755)
	g := startGsync(t, nil, "--delay", "0", src, d.URL("m"))
	opts := rsyncPeerOptions(32)
	waitEqualAll(t, src, dir, 60*time.Second, opts)

	os.Chmod(filepath.Join(dir, "ro"), 0o555)
	os.WriteFile(filepath.Join(src, "ro", "blocked"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(src, "ok", "lands"), []byte("y"), 0o644)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "ok", "lands")); err == nil && string(b) == "y" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ok/lands did not arrive while ro/ was unwritable")
		}
		time.Sleep(100 * time.Millisecond)
	}
	os.Chmod(filepath.Join(dir, "ro"), 0o755)
	waitEqualAll(t, src, dir, 60*time.Second, opts)
	g.stop(syscall.SIGTERM)
}

// TestDaemonGrowingFile appends to a file while gsync sends it: the run is
// not aborted and the final content arrives.
func TestDaemonGrowingFile(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed")
	}
	dir := filepath.Join(t.TempDir(), "module")
	d := StartRsyncDaemon(t, Config{Modules: []Module{{Name: "m", Path: dir}}})
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "other"), []byte("other"), 0o644)
	g := startGsync(t, nil, "--delay", "0", src, d.URL("m"))
	opts := rsyncPeerOptions(32)
	waitEqualAll(t, src, dir, 60*time.Second, opts)

	f, err := os.Create(filepath.Join(src, "growing.log"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 256<<10)
	for i := 0; i < 200; i++ { // 50 MiB in small appends, each a close-write for gsync? no: one open file
		f.Write(chunk)
		if i%20 == 0 {
			f.Sync()
			os.WriteFile(filepath.Join(src, fmt.Sprintf("side%d", i)), []byte("s"), 0o644)
		}
	}
	f.Close()
	waitEqualAll(t, src, dir, 90*time.Second, opts)
	g.stop(syscall.SIGTERM)
}
