package rsyncproto

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

func needRsync(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync binary not installed")
	}
	return p
}

// pipeConn joins a child's stdout and stdin into one stream.
type pipeConn struct {
	r io.ReadCloser
	w io.WriteCloser
}

func (p *pipeConn) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeConn) Close() error {
	p.w.Close()
	return p.r.Close()
}

// startRsync runs rsync with args and returns the pipes; the process is
// waited for at cleanup.
func startRsync(t testing.TB, args ...string) (*pipeConn, func() error) {
	t.Helper()
	return startRsyncBin(t, needRsync(t), args...)
}

// startRsyncBin is startRsync with the rsync binary bin.
func startRsyncBin(t testing.TB, bin string, args ...string) (*pipeConn, func() error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Our own pipe, not StdoutPipe: Wait closes a StdoutPipe as soon as
	// the child exits, dropping the last bytes it wrote (its goodbye)
	// when the reader has not got to them yet.
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Start()
	w.Close()
	if err != nil {
		out.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waited := false
	var werr error
	wait := func() error {
		if waited {
			return werr
		}
		waited = true
		select {
		case werr = <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			werr = fmt.Errorf("rsync did not exit; killed")
			<-done
		}
		if stderr.Len() > 0 {
			t.Logf("rsync stderr: %s", stderr.String())
		}
		return werr
	}
	t.Cleanup(func() {
		in.Close()
		wait()
		out.Close()
	})
	return &pipeConn{r: out, w: in}, wait
}

// pushSSH pushes req to dir via "rsync --server" over pipes.
func pushSSH(t testing.TB, req Request, proto int) (*Result, error) {
	t.Helper()
	return pushSSHBin(t, needRsync(t), req, proto)
}

// pushSSHBin is pushSSH to the rsync binary bin.
func pushSSHBin(t testing.TB, bin string, req Request, proto int) (*Result, error) {
	t.Helper()
	args := ServerArgs(req)
	if proto > 0 && proto < 32 {
		args = append([]string{args[0], fmt.Sprintf("--protocol=%d", proto)}, args[1:]...)
	}
	pc, wait := startRsyncBin(t, bin, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := PushServer(ctx, pc, req)
	pc.Close()
	wait()
	return res, err
}

// daemonConf writes an rsyncd.conf with module "m" at dir.
func daemonConf(t *testing.T, dir string, extra string) string {
	t.Helper()
	tmp := t.TempDir()
	conf := filepath.Join(tmp, "rsyncd.conf")
	body := fmt.Sprintf("use chroot = no\nmunge symlinks = no\nuid = root\ngid = root\n[m]\npath = %s\nread only = no\n%s", dir, extra)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// dialPipeDaemon starts a single-use daemon over pipes.
func dialPipeDaemon(t *testing.T, conf string, cfg DaemonConfig) (*Daemon, *pipeConn, func() error, error) {
	t.Helper()
	pc, wait := startRsync(t, "--server", "--daemon", "--config="+conf, ".")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := DialDaemon(ctx, pc, cfg)
	return d, pc, wait, err
}

func pushDaemon(t *testing.T, conf string, cfg DaemonConfig, req Request) (*Result, error) {
	t.Helper()
	d, pc, wait, err := dialPipeDaemon(t, conf, cfg)
	if err != nil {
		pc.Close()
		wait()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := d.Push(ctx, req)
	pc.Close()
	wait()
	return res, err
}

// compareTrees fails the test if dst differs from src.
func compareTrees(t *testing.T, src, dst string, nsec bool, skip func(string) bool) {
	t.Helper()
	compareTreesOpt(t, src, dst, nsec, true, skip)
}

// compareTreesOpt is compareTrees; dirTimes=false ignores directory mtimes
// (gokrazy's receiver does not restore them). The oracle is treediff's:
// names, types, content, mode bits, symlink targets, device numbers and
// mtimes (ns, or seconds when nsec is false; not of symlinks or the root).
func compareTreesOpt(t *testing.T, src, dst string, nsec, dirTimes bool, skip func(string) bool) {
	t.Helper()
	opt := treediff.Options{SkipDirMtimes: !dirTimes, SkipSymlinkMtimes: true, IgnoreRootMtime: true}
	if !nsec {
		opt.MtimeGranularity = time.Second
	}
	if skip != nil {
		opt.Exclude = func(rel string, _ bool) bool { return skip(rel) }
	}
	treediff.Equal(t, src, dst, opt)
}

func writeFile(t *testing.T, p string, data []byte, mode fs.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func pseudoRandom(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// makeTree builds a varied source tree.
func makeTree(t *testing.T, root string, withDevices bool) {
	t.Helper()
	base := time.Unix(1704164645, 123456789)
	for i := 0; i < 120; i++ {
		d := fmt.Sprintf("d%d/e%d", i%7, i%3)
		writeFile(t, filepath.Join(root, d, fmt.Sprintf("f%03d.txt", i)), pseudoRandom(i*37, uint32(i)), 0o644, base.Add(time.Duration(i)*time.Second+time.Duration(i)*time.Millisecond))
	}
	for i := 0; i < 40; i++ {
		writeFile(t, filepath.Join(root, "empty", fmt.Sprintf("z%02d", i)), nil, 0o640, base)
	}
	writeFile(t, filepath.Join(root, "big.bin"), pseudoRandom(1<<20+12345, 7), 0o600, base)
	writeFile(t, filepath.Join(root, "suid"), []byte("x"), 0o4755, base)
	writeFile(t, filepath.Join(root, "sgid"), []byte("y"), 0o2750, base)
	odd := []string{"new\nline", `back\slash`, "br]acket", "st*ar?[x]", "sp ace ", "\xff\xfeinvalid", strings.Repeat("L", 255), "-dash"}
	for i, n := range odd {
		writeFile(t, filepath.Join(root, "odd", n), []byte(fmt.Sprint(i)), 0o644, base)
	}
	deep := filepath.Join(root, "deep")
	for len(deep)-len(root) < 4000-210 {
		deep = filepath.Join(deep, strings.Repeat("p", 200))
	}
	writeFile(t, filepath.Join(deep, "leaf"), []byte("deep"), 0o644, base)
	testutil.Must(t, os.MkdirAll(filepath.Join(root, "sticky"), 0o755))
	testutil.Must(t, os.Chmod(filepath.Join(root, "sticky"), 0o1777))
	testutil.Must(t, os.Symlink("big.bin", filepath.Join(root, "rel-link")))
	testutil.Must(t, os.Symlink("/etc/passwd", filepath.Join(root, "abs-link")))
	testutil.Must(t, os.Symlink("nowhere/at/all", filepath.Join(root, "dangling")))
	if withDevices {
		testutil.Must(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
		if os.Geteuid() == 0 {
			testutil.Must(t, syscall.Mknod(filepath.Join(root, "chr"), syscall.S_IFCHR|0o600, 1<<8|3))
		}
	}
	// Directory (and device) mtimes last.
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (d.IsDir() || d.Type()&(fs.ModeNamedPipe|fs.ModeDevice) != 0) {
			os.Chtimes(p, base, base)
		}
		return nil
	})
}
