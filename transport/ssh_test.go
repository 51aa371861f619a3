//go:build unix

package transport_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/integration"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/treediff"
	"github.com/gsync/gsync/sshx"
	"github.com/gsync/gsync/sshx/sshxtest"
	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/transport/transporttest"
)

// countingConn counts the bytes written to the server.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// sshTargetConfig logs in to s as its user with its key and known_hosts;
// written counts the bytes sent to the server when not nil.
func sshTargetConfig(t *testing.T, s *integration.SSHD, dir string, written *atomic.Int64) transport.SSHConfig {
	cfg := transport.SSHConfig{
		SSH: sshx.Config{
			Host: "127.0.0.1", Port: s.Port, User: s.User,
			IdentityFiles:   []string{s.UserKeyPath},
			KnownHostsFiles: []string{s.KnownHostsFile},
			ConfigFile:      "none", NoAgent: true, Home: t.TempDir(),
		},
		Dir: dir,
	}
	if _, err := os.Stat("/usr/bin/rsync"); err != nil {
		t.Skip("rsync not installed on the test server")
	}
	if written != nil {
		cfg.SSH.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, written}, nil
		}
	}
	return cfg
}

func newSSHTarget(t *testing.T, cfg transport.SSHConfig, opts transport.Options) *transport.SSH {
	t.Helper()
	tgt, err := transport.NewSSH(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	return tgt
}

func TestSSHConformance(t *testing.T) {
	t.Parallel() // waits on its own peers
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	transporttest.Run(t, transporttest.Harness{
		New: func(t *testing.T, src string, opts transport.Options) (transport.Target, string) {
			dir := t.TempDir()
			return newSSHTarget(t, sshTargetConfig(t, s, dir, nil), opts), dir
		},
		Caps: transporttest.Caps{
			SymlinkMtimes:    true,
			RenameKeepsInode: true,
			// The remote C rsync creates device nodes and special files.
			NodeMtimeSeconds: true,
		},
	})
}

// TestSSHConformanceProtocol28: a remote rsync held to protocol 28 cannot
// scope deletes by filter (rsyncproto.ScopesDeletes), so the target
// deletes over SFTP.
func TestSSHConformanceProtocol28(t *testing.T) {
	t.Parallel() // waits on its own peers
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	transporttest.Run(t, transporttest.Harness{
		New: func(t *testing.T, src string, opts transport.Options) (transport.Target, string) {
			if strings.HasSuffix(t.Name(), "/TypeChange") {
				// The receiver, run without --delete, cannot replace a
				// non-empty directory by a file or symlink, and the
				// SFTP deletes only remove paths gone at the source.
				t.Skip("without a receiver-side --delete a directory is not replaced by a non-directory")
			}
			dir := t.TempDir()
			cfg := sshTargetConfig(t, s, dir, nil)
			cfg.Protocol = 28
			return newSSHTarget(t, cfg, opts), dir
		},
		Caps: transporttest.Caps{
			RenameKeepsInode: true,
			NodeMtimeSeconds: true,
			MtimeGranularity: time.Second, // nanoseconds need protocol 31
		},
	})
}

// rsyncEqual compares like the integration tests do against C rsync: file
// mtimes to the nanosecond, directory and symlink mtimes to the second
// (rsync leaves them alone when they match to the second).
func rsyncEqual(t *testing.T, src, dst string) bool {
	t.Helper()
	return treediff.Equal(t, src, dst, treediff.Options{SkipDirMtimes: true, SkipSymlinkMtimes: true}) &&
		treediff.Equal(t, src, dst, treediff.Options{MtimeGranularity: time.Second})
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestSSHRenameMovesNoData: renaming a 16 MiB file and a 2,000-file
// directory is done in place on the server; the target keeps the inodes and
// less than 64 KiB go over the connection.
func TestSSHRenameMovesNoData(t *testing.T) {
	t.Parallel() // waits on its own peers
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	src, dst := t.TempDir(), t.TempDir()
	big := filepath.Join(src, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Real data, not a hole: every MiB starts with a distinct block. 16
	// MiB resent would be 256 times the bound below; more only costs the
	// test (ssh encryption and two tree compares under -race).
	block := make([]byte, 1<<20)
	for i := range 16 {
		copy(block, fmt.Sprintf("MiB %d of the big file\n", i))
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		p := filepath.Join(src, "many", fmt.Sprintf("sub%02d", i%20), fmt.Sprintf("f%04d", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var written atomic.Int64
	tgt := newSSHTarget(t, sshTargetConfig(t, s, dst, &written), transport.Options{Source: src})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := tgt.FullSync(ctx); err != nil {
		t.Fatal(err)
	}
	if !rsyncEqual(t, src, dst) {
		t.FailNow()
	}
	bigIno, manyIno := inode(t, filepath.Join(dst, "big.bin")), inode(t, filepath.Join(dst, "many"))
	fileIno := inode(t, filepath.Join(dst, "many", "sub07", "f0007"))

	os.Mkdir(filepath.Join(src, "moved"), 0o755)
	if err := os.Rename(big, filepath.Join(src, "moved", "big.renamed")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(src, "many"), filepath.Join(src, "moved", "many")); err != nil {
		t.Fatal(err)
	}
	before := written.Load()
	st, err := tgt.Push(ctx, []transport.Change{
		{Op: change.Modify, Path: "moved", IsDir: true},
		{Op: change.Move, From: "big.bin", Path: "moved/big.renamed"},
		{Op: change.Move, From: "many", Path: "moved/many", IsDir: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	sent := written.Load() - before
	t.Logf("renames of a 16 MiB file and a 2,000-file directory: %d bytes sent, stats %+v", sent, st)
	if st.Renamed != 2 || len(st.Failed) > 0 {
		t.Errorf("stats %+v, want 2 renames and no failures", st)
	}
	if sent >= 64<<10 {
		t.Errorf("the renames sent %d bytes, want < 64 KiB", sent)
	}
	if got := inode(t, filepath.Join(dst, "moved", "big.renamed")); got != bigIno {
		t.Errorf("renamed file has inode %d, want %d", got, bigIno)
	}
	if got := inode(t, filepath.Join(dst, "moved", "many")); got != manyIno {
		t.Errorf("renamed directory has inode %d, want %d", got, manyIno)
	}
	if got := inode(t, filepath.Join(dst, "moved", "many", "sub07", "f0007")); got != fileIno {
		t.Errorf("file in renamed directory has inode %d, want %d", got, fileIno)
	}
	if !rsyncEqual(t, src, dst) {
		t.FailNow()
	}
}

// TestSSHStandbySession: pushes run on the session opened ahead of time,
// all on one connection.
func TestSSHStandbySession(t *testing.T) {
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	src, dst := t.TempDir(), t.TempDir()
	tgt := newSSHTarget(t, sshTargetConfig(t, s, dst, nil), transport.Options{Source: src})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := tgt.FullSync(ctx); err != nil {
		t.Fatal(err)
	}
	const pushes = 5
	for i := range pushes {
		name := fmt.Sprintf("f%d", i)
		if err := os.WriteFile(filepath.Join(src, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		// Give the standby session time to start: the point is that a
		// push finds it waiting.
		deadline := time.Now().Add(10 * time.Second)
		for tgt.Client().Sessions() < int64(i)+2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := tgt.Push(ctx, []transport.Change{{Op: change.Modify, Path: name}}); err != nil {
			t.Fatal(err)
		}
	}
	if !rsyncEqual(t, src, dst) {
		t.FailNow()
	}
	if got := transport.SSHStandbyUsed(tgt); got != pushes {
		t.Errorf("%d of %d pushes ran on a standby session", got, pushes)
	}
	if got := tgt.Client().Connects(); got != 1 {
		t.Errorf("%d ssh logins, want 1", got)
	}
	// One session for the full sync, one per push, the pool standing by.
	if got, want := tgt.Client().Sessions(), int64(pushes+1+transport.SSHStandbySessions); got > want {
		t.Errorf("%d exec sessions, want at most %d", got, want)
	}
}

// TestSSHRemoteDirResolution: "~", "~/x" and relative directories are
// below the remote home, missing ones are created with their parents.
func TestSSHRemoteDirResolution(t *testing.T) {
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		t.Skip("no home directory")
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	rel := fmt.Sprintf(".gsync-test-%d/a/b", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(filepath.Join(home, fmt.Sprintf(".gsync-test-%d", os.Getpid()))) })
	for _, dir := range []string{"~/" + rel, rel} {
		tgt := newSSHTarget(t, sshTargetConfig(t, s, dir, nil), transport.Options{Source: src})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := tgt.FullSync(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		want := filepath.Join(home, rel)
		if tgt.Dir() != want {
			t.Errorf("dir %q resolved to %q, want %q", dir, tgt.Dir(), want)
		}
		if _, err := os.Stat(filepath.Join(want, "f")); err != nil {
			t.Errorf("dir %q: %v", dir, err)
		}
		tgt.Close()
	}
}

// TestSSHUnknownHostIsFatal: a host key missing from known_hosts stops the
// target with a fatal error telling how to trust it.
func TestSSHUnknownHostIsFatal(t *testing.T) {
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	cfg := sshTargetConfig(t, s, t.TempDir(), nil)
	cfg.SSH.KnownHostsFiles = []string{filepath.Join(t.TempDir(), "empty_known_hosts")}
	tgt := newSSHTarget(t, cfg, transport.Options{Source: t.TempDir()})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := tgt.FullSync(ctx)
	if err == nil || transport.IsTransient(err) {
		t.Fatalf("FullSync = %v, want a fatal error", err)
	}
	t.Log(err)
}

func TestParseSSHTarget(t *testing.T) {
	for _, tc := range []struct {
		spec, user, host, dir string
		ok                    bool
	}{
		{"user@host:dir", "user", "host", "dir", true},
		{"host:/abs/dir", "", "host", "/abs/dir", true},
		{"host:", "", "host", "", true},
		{"host:~/x", "", "host", "~/x", true},
		{"[::1]:d", "", "::1", "d", true},
		{"u@[fe80::1]:/x", "u", "fe80::1", "/x", true},
		{"./a:b", "", "", "", false},
		{"/mnt/x:y", "", "", "", false},
		{"host::module", "", "", "", false},
		{"plain", "", "", "", false},
		{":dir", "", "", "", false},
	} {
		user, host, dir, ok := transport.ParseSSHTarget(tc.spec)
		if ok != tc.ok || user != tc.user || host != tc.host || dir != tc.dir {
			t.Errorf("ParseSSHTarget(%q) = %q %q %q %v, want %q %q %q %v", tc.spec, user, host, dir, ok, tc.user, tc.host, tc.dir, tc.ok)
		}
	}
}

// BenchmarkSSHPush measures one batch of one changed file over a live
// connection, with the standby session, against the cost of opening an
// exec session.
func BenchmarkSSHPush(b *testing.B) {
	s := integration.StartSSHD(b, integration.SSHDConfig{})
	src, dst := b.TempDir(), b.TempDir()
	cfg := transport.SSHConfig{SSH: sshx.Config{Host: "127.0.0.1", Port: s.Port, User: s.User,
		IdentityFiles: []string{s.UserKeyPath}, KnownHostsFiles: []string{s.KnownHostsFile},
		ConfigFile: "none", NoAgent: true, Home: b.TempDir()}, Dir: dst}
	tgt, err := transport.NewSSH(cfg, transport.Options{Source: src})
	if err != nil {
		b.Fatal(err)
	}
	defer tgt.Close()
	ctx := context.Background()
	if _, err := tgt.FullSync(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("push", func(b *testing.B) {
		for i := range b.N {
			os.WriteFile(filepath.Join(src, "f"), []byte(fmt.Sprint(i)), 0o644)
			if _, err := tgt.Push(ctx, []transport.Change{{Op: change.Modify, Path: "f"}}); err != nil {
				b.Fatal(err)
			}
			// Let the next standby session start, as the delay would.
			b.StopTimer()
			time.Sleep(2 * time.Second)
			b.StartTimer()
		}
	})
	b.Run("exec-session", func(b *testing.B) {
		for range b.N {
			sess, err := tgt.Client().Exec(ctx, []string{"true"})
			if err != nil {
				b.Fatal(err)
			}
			sess.Wait(ctx)
		}
	})
}

// TestSSHStalledSFTPIsTransient: an SFTP server that stops answering
// (at INIT, or at a rename, a removal or a mkdir while stats are
// answered) while ssh keepalives are answered: the push or full sync
// returns a transient error within --timeout (a hang guard bounds the
// test, no wall time is asserted), and no goroutine is left behind.
func TestSSHStalledSFTPIsTransient(t *testing.T) {
	cases := []struct {
		name    string
		mode    sshxtest.Stall
		exclude bool // deletes go over SFTP
		run     func(ctx context.Context, tgt *transport.SSH) error
	}{
		{"init", sshxtest.StallInit, false, func(ctx context.Context, tgt *transport.SSH) error {
			_, err := tgt.FullSync(ctx)
			return err
		}},
		{"rename", sshxtest.StallRequests, false, func(ctx context.Context, tgt *transport.SSH) error {
			_, err := tgt.Push(ctx, []transport.Change{{Op: change.Move, From: "a", Path: "sub/b"}})
			return err
		}},
		{"remove", sshxtest.StallRequests, true, func(ctx context.Context, tgt *transport.SSH) error {
			_, err := tgt.Push(ctx, []transport.Change{{Op: change.Delete, Path: "gone"}})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			srv := sshxtest.StartStallServer(t, tc.mode)
			opts := transport.Options{Source: t.TempDir(), Delete: transport.DeleteAlways}
			if tc.exclude {
				opts.Exclude = func(string, bool) bool { return false }
			}
			tgt, err := transport.NewSSH(transport.SSHConfig{
				SSH: sshx.Config{Host: "127.0.0.1", Port: srv.Port, User: srv.User,
					IdentityFiles: []string{srv.KeyFile}, KnownHostsFiles: []string{srv.KnownHosts},
					ConfigFile: "none", NoAgent: true, Home: t.TempDir(), KeepAlive: 50 * time.Millisecond},
				Dir: "dst", Timeout: 300 * time.Millisecond,
			}, opts)
			if err != nil {
				t.Fatal(err)
			}
			res := make(chan error, 1)
			go func() { res <- tc.run(context.Background(), tgt) }()
			select {
			case err = <-res:
			case <-time.After(20 * time.Second):
				t.Fatal("the push hangs on a stalled SFTP server")
			}
			if err == nil || !transport.IsTransient(err) || !strings.Contains(err.Error(), "did not answer") {
				t.Errorf("push = %v, want a transient error saying the server did not answer", err)
			}
			tgt.Close()
			srv.Close()
			deadline := time.Now().Add(20 * time.Second)
			for runtime.NumGoroutine() > before {
				if time.Now().After(deadline) {
					t.Fatalf("%d goroutines left, %d before", runtime.NumGoroutine(), before)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestSSHPeerTextEscaped: what the remote command writes to stderr reaches
// the push's error (and so status and logs) only with control characters
// escaped.
func TestSSHPeerTextEscaped(t *testing.T) {
	srv := sshxtest.StartStallServer(t, sshxtest.Escapes)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tgt := newSSHTarget(t, transport.SSHConfig{
		SSH: sshx.Config{Host: "127.0.0.1", Port: srv.Port, User: srv.User,
			IdentityFiles: []string{srv.KeyFile}, KnownHostsFiles: []string{srv.KnownHosts},
			ConfigFile: "none", NoAgent: true, Home: t.TempDir()},
		Dir: "dst", Timeout: 5 * time.Second,
	}, transport.Options{Source: src})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := tgt.Push(ctx, []transport.Change{{Op: change.Modify, Path: "f"}})
	if err == nil {
		t.Fatal("push to a server whose rsync fails succeeded")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\x1b\x07\r\n") || !strings.Contains(msg, `\#033[31mevil`) {
		t.Errorf("push error %q: want the remote's stderr with control characters escaped", msg)
	}
}

// openrsyncPath finds the openrsync test peer (macOS 15+'s rsync):
// $GSYNC_OPENRSYNC, else ../shared/peers/openrsync beside the work tree.
func openrsyncPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("GSYNC_OPENRSYNC")
	if p == "" {
		p = filepath.Join("..", "..", "shared", "peers", "openrsync")
	}
	p, err := filepath.Abs(p)
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		t.Skipf("no openrsync (set GSYNC_OPENRSYNC): %v", err)
	}
	return p
}

// TestSSHConformanceNoSFTP: an sshd without the SFTP subsystem; moves are
// re-sent, deletes are the remote rsync's.
func TestSSHConformanceNoSFTP(t *testing.T) {
	t.Parallel() // waits on its own peers
	s := integration.StartSSHD(t, integration.SSHDConfig{NoSFTP: true})
	transporttest.Run(t, transporttest.Harness{
		New: func(t *testing.T, src string, opts transport.Options) (transport.Target, string) {
			dir := t.TempDir()
			cfg := sshTargetConfig(t, s, dir, nil)
			if opts.Exclude != nil {
				cfg.ExcludeRules = suiteExcludeRules // without SFTP the remote rsync must keep them
			}
			return newSSHTarget(t, cfg, opts), dir
		},
		Caps: transporttest.Caps{SymlinkMtimes: true, NodeMtimeSeconds: true},
	})
}

// TestSSHConformanceOpenrsync: openrsync (protocol 27) as the remote
// rsync, with SFTP and without: it is identified (rsync --version), and
// its deletes are scoped by the filter list either way, like those of a
// protocol 29+ rsync (ScopedDelete).
func TestSSHConformanceOpenrsync(t *testing.T) {
	t.Parallel() // waits on its own peers
	orsync := openrsyncPath(t)
	for _, noSFTP := range []bool{false, true} {
		t.Run(fmt.Sprintf("sftp=%v", !noSFTP), func(t *testing.T) {
			s := integration.StartSSHD(t, integration.SSHDConfig{NoSFTP: noSFTP})
			transporttest.Run(t, transporttest.Harness{
				New: func(t *testing.T, src string, opts transport.Options) (transport.Target, string) {
					switch {
					case strings.HasSuffix(t.Name(), "/DryRun"):
						// The scenario wants a dry-run full sync to count
						// the files it would send.
						t.Skip("openrsync's receiver asks for no file in a dry run: gsync counts none")
					}
					dir := t.TempDir()
					cfg := sshTargetConfig(t, s, dir, nil)
					cfg.RsyncPath = orsync
					if opts.Exclude != nil {
						cfg.ExcludeRules = suiteExcludeRules
					}
					return newSSHTarget(t, cfg, opts), dir
				},
				Caps: transporttest.Caps{RenameKeepsInode: !noSFTP, NodeMtimeSeconds: true, MtimeGranularity: time.Second},
			})
		})
	}
}
