package integration

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/gsync/gsync/internal/treediff"
)

// sshOnceAndLive is the proof every kind of remote passes: a seeded tree
// pushed with --once (target == source), then gsync running live through
// a churn of the source (target == source again), stopped with SIGTERM.
// args are the ssh arguments before SRC and TARGET; target makes the
// target argument from the remote directory. It returns the output of the
// live run.
func sshOnceAndLive(t *testing.T, env, args []string, target func(dir string) string, remoteDir string) string {
	t.Helper()
	return sshOnceAndLiveCmp(t, sshCompareOptions, env, args, target, remoteDir)
}

// sshOnceAndLiveCmp is sshOnceAndLive with the comparisons cmp (mtimes to
// the second for protocol 27 peers, which send no nanoseconds).
func sshOnceAndLiveCmp(t *testing.T, cmp []treediff.Options, env, args []string, target func(dir string) string, remoteDir string) string {
	t.Helper()
	return sshOnceAndLiveHook(t, cmp, env, args, target, remoteDir, nil)
}

// sshOnceAndLiveHook is sshOnceAndLiveCmp with started, when not nil,
// called as soon as the live gsync runs (before its startup sync).
func sshOnceAndLiveHook(t *testing.T, cmp []treediff.Options, env, args []string, target func(dir string) string, remoteDir string, started func(*gsyncProc)) string {
	t.Helper()
	src := t.TempDir()
	seedTree(t, src, 11, 150)
	code, out := runGsyncEnv(t, env, append(append([]string{"--once"}, args...), src, target(remoteDir))...)
	if code != 0 {
		t.Fatalf("gsync --once: exit %d:\n%s", code, out)
	}
	for _, o := range cmp {
		if !treediff.Equal(t, src, remoteDir, o) {
			t.Fatalf("target differs after --once:\n%s", out)
		}
	}
	wait := func() {
		for _, o := range cmp {
			waitEqual(t, src, remoteDir, 60*time.Second, o)
		}
	}
	g := startGsync(t, env, append(append([]string{"--delay", "0"}, args...), src, target(remoteDir))...)
	if started != nil {
		started(g)
	}
	// Changes from here on go in batches, not in the startup sync.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(g.out.String(), "full sync done") {
		if time.Now().After(deadline) {
			t.Fatalf("no full sync within 60 s:\n%s", g.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := newChurner(t, src, 23)
	defer c.dump()
	c.run(120)
	wait()
	// A deleted tree and file, in a batch of their own.
	entries, _ := os.ReadDir(src)
	for _, e := range entries[:min(2, len(entries))] {
		os.RemoveAll(filepath.Join(src, e.Name()))
	}
	wait()
	if code := g.stop(syscall.SIGTERM); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143", code)
	}
	return g.out.String()
}

// sshTarget is the target argument for dir on 127.0.0.1.
func sshTarget(dir string) string { return "127.0.0.1:" + dir }

// TestSSHLegacyAlgorithms: a server that speaks only old algorithms
// (aes128-cbc, diffie-hellman-group14-sha1, hmac-sha1) is refused by
// default with a message naming the options, and reached with -c and -o
// KexAlgorithms=+...; -o keys gsync does not act on are named in a
// warning.
func TestSSHLegacyAlgorithms(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed (the server runs rsync --server)")
	}
	s := StartSSHD(t, SSHDConfig{Extra: "Ciphers aes128-cbc\nKexAlgorithms diffie-hellman-group14-sha1\nMACs hmac-sha1\n"})
	src, dst := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	code, out := runGsyncEnv(t, []string{"PATH="}, append(sshArgs(s), "--once", src, sshTarget(dst))...)
	if code == 0 || !strings.Contains(out, "no common algorithm") || !strings.Contains(out, "KexAlgorithms") {
		t.Fatalf("legacy-only server without options: exit %d, want a failure naming the algorithm options:\n%s", code, out)
	}
	args := sshArgsOpts(s, "-c aes128-cbc -o KexAlgorithms=+diffie-hellman-group14-sha1 -o MACs=hmac-sha1 -o Compression=yes -o LogLevel=QUIET")
	live := sshOnceAndLive(t, []string{"PATH="}, args, sshTarget, t.TempDir())
	for _, opt := range []string{"compression", "loglevel"} {
		if !strings.Contains(live, `option=`+opt) {
			t.Errorf("no warning naming the unsupported option %s:\n%s", opt, tail(live, 20))
		}
	}
	if strings.Contains(live, "option=ciphers") || strings.Contains(live, "option=macs") {
		t.Errorf("a warning names an option gsync acts on:\n%s", tail(live, 20))
	}
	if !strings.Contains(s.Output(), "aes128-cbc") && !strings.Contains(s.Output(), "Accepted publickey") {
		t.Errorf("sshd log shows no login:\n%s", s.Output())
	}
}

// buildSSHProxy builds the proxy program once, next to the gsync binary
// the tests run (TestMain removes that directory at the end).
var buildSSHProxy = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(gsyncBin), "sshproxy")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gsync/gsync/integration/internal/sshproxy").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build sshproxy: %v\n%s", err, out)
	}
	return bin, nil
})

// TestSSHProxyCommand: the target sshd is reached through a bastion sshd
// by a ProxyCommand (a small proxy program, not ssh -W) given in an
// ssh_config Match block, with %h %p %r expanded and quoted words kept;
// the proxy ends with gsync's connection.
func TestSSHProxyCommand(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed (the server runs rsync --server)")
	}
	proxy, err := buildSSHProxy()
	if err != nil {
		t.Fatal(err)
	}
	bastion := StartSSHD(t, SSHDConfig{Extra: "AllowTcpForwarding yes"})
	target := StartSSHD(t, SSHDConfig{})
	dir := t.TempDir()
	// The proxy's log of how it was called, to check the expansion.
	wrapper := filepath.Join(dir, "proxy wrapper")
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> '%s/calls'\nexec %s \"$@\"\n", dir, proxy)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "ssh_config")
	body := fmt.Sprintf(`Host mirror
  HostName 127.0.0.1
  Port %d
  IdentityFile %s
  UserKnownHostsFile %s
Match originalhost mirror user %s
  ProxyCommand "%s" -key %s -known %s -user %s %s %%h %%p %%r
`, target.Port, target.UserKeyPath, target.KnownHostsFile, target.User,
		wrapper, bastion.UserKeyPath, bastion.KnownHostsFile, bastion.User, bastion.Addr)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--ssh-config", conf, "-e", "ssh -l " + target.User}
	live := sshOnceAndLive(t, []string{"HOME=" + t.TempDir()}, args, func(d string) string { return "mirror:" + d }, t.TempDir())
	calls := readFile(filepath.Join(dir, "calls"))
	want := fmt.Sprintf("127.0.0.1 %d %s", target.Port, target.User)
	if !strings.Contains(calls, want) {
		t.Errorf("proxy called with %q, want the arguments to end with %q", calls, want)
	}
	// Every login to the target came through the bastion: the bastion
	// forwarded each, the target saw no direct connection from gsync.
	if n, m := strings.Count(bastion.Output(), "Accepted publickey"), strings.Count(target.Output(), "Accepted publickey"); n == 0 || n != m {
		t.Errorf("bastion logins %d, target logins %d: want the same, at least 1", n, m)
	}
	if strings.Count(calls, "\n") == 0 {
		t.Errorf("no proxy call logged")
	}
	// The proxies ended with gsync's connections.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesOf(proxy)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("proxy processes left after gsync exited: %v\n%s", left, tail(live, 20))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesOf lists the pids of live processes running the binary exe.
func processesOf(exe string) []int {
	procs, _ := liveProcesses()
	var out []int
	for _, p := range procs {
		if l, err := os.Readlink("/proc/" + strconv.Itoa(p.pid) + "/exe"); err == nil && l == exe {
			out = append(out, p.pid)
		}
	}
	return out
}

// TestSSHUserCertificate: sshd trusts a test CA (TrustedUserCAKeys) and
// has no authorized key for the user's key: the login works with the
// certificate beside the key (KEY-cert.pub, loaded like OpenSSH does) and
// with -o CertificateFile, and is refused without it.
func TestSSHUserCertificate(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed (the server runs rsync --server)")
	}
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca")
	ca := writeKey(t, caPath)
	if err := os.WriteFile(caPath+".pub", ssh.MarshalAuthorizedKey(ca.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := StartSSHD(t, SSHDConfig{Extra: "TrustedUserCAKeys " + caPath + ".pub"})
	keyPath := filepath.Join(dir, "id_user")
	key := writeKey(t, keyPath)
	cert := &ssh.Certificate{
		Key: key.PublicKey(), CertType: ssh.UserCert, KeyId: "gsync-test", ValidPrincipals: []string{s.User},
		ValidAfter: uint64(time.Now().Add(-time.Hour).Unix()), ValidBefore: uint64(time.Now().Add(time.Hour).Unix()),
		Permissions: ssh.Permissions{Extensions: map[string]string{"permit-pty": ""}},
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certText := ssh.MarshalAuthorizedKey(cert)
	base := []string{"--ssh", "--ssh-config", "none", "--known-hosts", s.KnownHostsFile}
	env := []string{"PATH=", "HOME=" + t.TempDir(), "SSH_AUTH_SOCK="}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)

	// Without the certificate: refused.
	rsh := fmt.Sprintf("ssh -p %d -i %s -l %s -o IdentitiesOnly=yes -o IdentityAgent=none", s.Port, keyPath, s.User)
	code, out := runGsyncEnv(t, env, append(base, "-e", rsh, "--once", src, sshTarget(t.TempDir()))...)
	if code == 0 || !strings.Contains(out, "refused") {
		t.Fatalf("key without certificate: exit %d, want a refused login:\n%s", code, out)
	}

	// With KEY-cert.pub beside the key.
	if err := os.WriteFile(keyPath+"-cert.pub", certText, 0o644); err != nil {
		t.Fatal(err)
	}
	sshOnceAndLive(t, env, append(base, "-e", rsh), sshTarget, t.TempDir())
	if !strings.Contains(s.Output(), "Accepted publickey") || !strings.Contains(s.Output(), "ID gsync-test") {
		t.Errorf("sshd log shows no certificate login:\n%s", tail(s.Output(), 10))
	}
	os.Remove(keyPath + "-cert.pub")

	// With -o CertificateFile naming it elsewhere.
	certFile := filepath.Join(dir, "user cert.pub")
	if err := os.WriteFile(certFile, certText, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(base, "-e", rsh+" -o 'CertificateFile="+certFile+"'")
	code, out = runGsyncEnv(t, env, append(args, "--once", src, sshTarget(t.TempDir()))...)
	if code != 0 {
		t.Fatalf("-o CertificateFile: exit %d:\n%s", code, out)
	}
}

// setUserPassword gives the account name the password pw for the test and
// locks it again ('*', as .ci/run creates it) in a cleanup.
func setUserPassword(t *testing.T, name, pw string) {
	t.Helper()
	lookBinary(t, "chpasswd")
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		cmd := exec.Command("chpasswd", "-e")
		cmd.Stdin = strings.NewReader(name + ":*\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("lock %s again: %v\n%s", name, err, out)
		}
	})
}

// TestSSHPassword: password and keyboard-interactive logins (sshd refuses
// keys) with the password from --ssh-password-file, an lsyncd-style
// "sshpass -p"/"sshpass -f" rsh, or $SSHPASS; a password file others may
// read is refused; the password is in no log line and not in the status
// file; without it the login is refused.
func TestSSHPassword(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting a password needs root")
	}
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed (the server runs rsync --server)")
	}
	const pw = "pw-Secret 'x\"7"
	pwSSHD := StartSSHD(t, SSHDConfig{User: NonRootUser, First: "PubkeyAuthentication no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no"})
	kbdSSHD := StartSSHD(t, SSHDConfig{User: NonRootUser, First: "PubkeyAuthentication no\nPasswordAuthentication no\nKbdInteractiveAuthentication yes\nUsePAM yes"})
	setUserPassword(t, NonRootUser, pw)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	base := func(s *SSHD) []string {
		return []string{"--ssh", "--ssh-config", "none", "--known-hosts", s.KnownHostsFile, "--log-level", "debug"}
	}
	rsh := func(s *SSHD) string { return fmt.Sprintf("ssh -p %d -l %s", s.Port, s.User) }
	env := []string{"PATH=", "HOME=" + t.TempDir(), "SSH_AUTH_SOCK=", "SSHPASS="}

	// No password: refused.
	code, out := runGsyncEnv(t, env, append(base(pwSSHD), "-e", rsh(pwSSHD), "--once", src, sshTarget(filepath.Join(pwSSHD.Home, "none")))...)
	if code == 0 {
		t.Fatalf("login without a password succeeded:\n%s", out)
	}
	// A password file others may read: a clear error, no login.
	loose := filepath.Join(dir, "loose")
	os.WriteFile(loose, []byte(pw+"\n"), 0o640)
	code, out = runGsyncEnv(t, env, append(base(pwSSHD), "-e", rsh(pwSSHD), "--ssh-password-file", loose, "--once", src, sshTarget(filepath.Join(pwSSHD.Home, "none")))...)
	if code == 0 || !strings.Contains(out, "has mode 0640") || !strings.Contains(out, "chmod 600") {
		t.Fatalf("group-readable password file: exit %d, want a refusal naming the mode:\n%s", code, out)
	}

	checkSecret := func(what, out string) {
		t.Helper()
		if strings.Contains(out, pw) || strings.Contains(out, "pw-Secret") {
			t.Errorf("%s: the password shows in the output", what)
		}
	}
	for _, tc := range []struct {
		name string
		s    *SSHD
		args []string
		env  []string
	}{
		{"password file, password auth", pwSSHD, []string{"-e", rsh(pwSSHD), "--ssh-password-file", pwFile}, nil},
		{"sshpass -p, keyboard-interactive", kbdSSHD, []string{"-e", "sshpass -p " + sshQuote(pw) + " " + rsh(kbdSSHD)}, nil},
		{"sshpass -f, password auth", pwSSHD, []string{"-e", "sshpass -f " + pwFile + " " + rsh(pwSSHD)}, nil},
		{"$SSHPASS, keyboard-interactive", kbdSSHD, []string{"-e", rsh(kbdSSHD)}, []string{"SSHPASS=" + pw}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status := filepath.Join(t.TempDir(), "status")
			args := append(append(base(tc.s), "--status-file", status, "--status-interval", "0"), tc.args...)
			dst, err := os.MkdirTemp(tc.s.Home, "dst-")
			if err != nil {
				t.Fatal(err)
			}
			os.Chown(dst, uidOf(t, NonRootUser), -1)
			live := sshOnceAndLive(t, append(append([]string(nil), env...), tc.env...), args, sshTarget, dst)
			checkSecret(tc.name, live)
			checkSecret(tc.name+" status file", readFile(status))
		})
	}
	if !strings.Contains(pwSSHD.Output(), "Accepted password for "+NonRootUser) {
		t.Errorf("sshd shows no password login:\n%s", tail(pwSSHD.Output(), 10))
	}
	if !strings.Contains(kbdSSHD.Output(), "Accepted keyboard-interactive") {
		t.Errorf("sshd shows no keyboard-interactive login:\n%s", tail(kbdSSHD.Output(), 10))
	}
}

// sshQuote quotes a word for the -e command line.
func sshQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// uidOf is the user id of the account name.
func uidOf(t *testing.T, name string) int {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("no user %s: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}

// TestSSHNoSFTP: an sshd without an SFTP subsystem, and a key restricted
// by a forced command to rrsync (which runs instead of any subsystem):
// the remote directory is used as rsync sees it, moves are re-sent
// (said once at connect), deletes are the remote rsync's scoped --delete;
// --once, then live churn with moves and deletes, target == source.
func TestSSHNoSFTP(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed (the server runs rsync --server)")
	}
	t.Run("no subsystem", func(t *testing.T) {
		t.Parallel()
		s := StartSSHD(t, SSHDConfig{NoSFTP: true})
		live := sshOnceAndLive(t, []string{"PATH="}, sshArgs(s), sshTarget, filepath.Join(t.TempDir(), "dst"))
		checkNoSFTPLog(t, live)
	})
	t.Run("rrsync forced command", func(t *testing.T) {
		t.Parallel()
		rrsync := lookBinary(t, "rrsync")
		root := t.TempDir()
		s := StartSSHD(t, SSHDConfig{KeyOptions: fmt.Sprintf(`restrict,command="%s -no-lock %s"`, rrsync, root)})
		// The target is relative to rrsync's directory. Without SFTP,
		// rsync creates only the last component of it.
		os.Mkdir(filepath.Join(root, "sub"), 0o755)
		live := sshOnceAndLive(t, []string{"PATH="}, sshArgs(s), func(string) string { return "127.0.0.1:sub/dst" }, filepath.Join(root, "sub", "dst"))
		checkNoSFTPLog(t, live)
	})
}

// TestSSHRrsyncLock: rrsync without -no-lock lets one rsync run at a time
// in its directory, which gsync's standby sessions break; gsync notices,
// says so, and goes on with one session at a time. Whether gsync's own
// sessions meet is a race (on a busy server each rrsync starts after the
// last push ended), so the test holds rrsync's lock (an flock on its
// directory) while the live gsync starts, until gsync has said so.
func TestSSHRrsyncLock(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	rrsync := lookBinary(t, "rrsync")
	root := t.TempDir()
	s := StartSSHD(t, SSHDConfig{KeyOptions: fmt.Sprintf(`restrict,command="%s %s"`, rrsync, root)})
	const said = "runs one rsync at a time"
	hold := func(g *gsyncProc) {
		f, err := os.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close() // releases the lock
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatalf("lock %s as rrsync does: %v", root, err)
		}
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(g.out.String(), said); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no warning about rrsync's lock within 30 s:\n%s", g.out.String())
			}
		}
	}
	live := sshOnceAndLiveHook(t, sshCompareOptions, []string{"PATH="}, sshArgs(s), func(string) string { return "127.0.0.1:dst" }, filepath.Join(root, "dst"), hold)
	if n := strings.Count(live, said); n != 1 {
		t.Errorf("%d warnings about rrsync's lock, want 1:\n%s", n, tail(live, 20))
	}
}

// TestSSHMaxSessions: an sshd that allows 3 sessions per connection
// (MaxSessions 3: the SFTP session and two more) refuses gsync's standby
// sessions; gsync notices, says so, and goes on with one at a time.
func TestSSHMaxSessions(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	s := StartSSHD(t, SSHDConfig{First: "MaxSessions 3"})
	live := sshOnceAndLive(t, []string{"PATH="}, sshArgs(s), sshTarget, filepath.Join(t.TempDir(), "dst"))
	if !strings.Contains(live, "MaxSessions") {
		t.Errorf("no warning about MaxSessions:\n%s", tail(live, 20))
	}
}

// checkNoSFTPLog checks the live run's log says once that moves are
// re-sent.
func checkNoSFTPLog(t *testing.T, out string) {
	t.Helper()
	if n := strings.Count(out, "no SFTP on 127.0.0.1: moves are re-sent"); n != 1 {
		t.Errorf("%d log lines say moves are re-sent, want 1:\n%s", n, tail(out, 20))
	}
}

// sshCompareOptions27 are the comparisons that hold against a protocol 27
// receiver: mtimes to the second.
var sshCompareOptions27 = []treediff.Options{{MtimeGranularity: time.Second, IgnoreRootMtime: true}}

// openrsyncPath finds the openrsync test peer (the rsync of macOS 15+):
// $GSYNC_OPENRSYNC, else ../shared/peers/openrsync beside the work tree;
// the test is skipped without it.
func openrsyncPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("GSYNC_OPENRSYNC")
	if p == "" {
		wd, _ := os.Getwd() // the package directory
		p = filepath.Join(wd, "..", "..", "shared", "peers", "openrsync")
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

// TestSSHOpenrsync: openrsync (protocol 27) as the remote rsync behind
// sshd, live: deletes reach the target (scoped by the filter list, which
// openrsync honours), options openrsync rejects are not sent; with SFTP
// and without it.
func TestSSHOpenrsync(t *testing.T) {
	t.Parallel()
	orsync := openrsyncPath(t)
	for _, noSFTP := range []bool{false, true} {
		t.Run(fmt.Sprintf("sftp=%v", !noSFTP), func(t *testing.T) {
			t.Parallel()
			s := StartSSHD(t, SSHDConfig{NoSFTP: noSFTP})
			args := append(sshArgs(s), "--rsync-path", orsync)
			live := sshOnceAndLiveCmp(t, sshCompareOptions27, []string{"PATH="}, args, sshTarget, filepath.Join(t.TempDir(), "dst"))
			if strings.Contains(live, "level=ERROR") {
				t.Errorf("errors in the live run:\n%s", tail(live, 20))
			}
			// Identified, so deletes stay with the remote rsync,
			// scoped by the filter list, with SFTP or without.
			if !strings.Contains(live, "remote rsync is openrsync") || strings.Contains(live, "deletes change their way") {
				t.Errorf("the log does not say openrsync keeps scoped deletes at protocol 27:\n%s", tail(live, 20))
			}
			if !strings.Contains(live, "deleted=1") && !regexp.MustCompile(`deleted=[1-9]`).MatchString(live) {
				t.Errorf("no batch deleted anything:\n%s", tail(live, 20))
			}
		})
	}
}

// TestSSHDaemonOverSSH: host::module with -e is rsync's daemon over ssh:
// an exec session runs a single-use "rsync --server --daemon ." that
// reads its rsyncd.conf (here given with --rsync-path "rsync --config=..."),
// and the module's authentication applies: a wrong password is refused;
// with the right one, --once and live churn leave target == source. The
// URL form works the same way.
func TestSSHDaemonOverSSH(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	s := StartSSHD(t, SSHDConfig{})
	dir := t.TempDir()
	mod := filepath.Join(dir, "mod")
	os.Mkdir(mod, 0o755)
	secrets := filepath.Join(dir, "secrets")
	os.WriteFile(secrets, []byte("alice:s3cret\n"), 0o600)
	conf := filepath.Join(dir, "rsyncd.conf")
	body := fmt.Sprintf("use chroot = yes\nuid = root\ngid = root\n[mod]\n  path = %s\n  read only = no\n  auth users = alice\n  secrets file = %s\n", mod, secrets)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	good, bad := filepath.Join(dir, "pw"), filepath.Join(dir, "badpw")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	os.WriteFile(bad, []byte("wrong\n"), 0o600)
	base := []string{"--ssh-config", "none", "--known-hosts", s.KnownHostsFile,
		"-e", fmt.Sprintf("ssh -p %d -i %s -l %s", s.Port, s.UserKeyPath, s.User),
		"--rsync-path", "rsync --config=" + conf}
	env := []string{"PATH=", "RSYNC_PASSWORD="}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)

	code, out := runGsyncEnv(t, env, append(append([]string(nil), base...), "--password-file", bad, "--once", src, "alice@127.0.0.1::mod/x")...)
	if code == 0 || !strings.Contains(out, "auth") {
		t.Fatalf("wrong module password: exit %d, want an authentication failure:\n%s", code, out)
	}
	args := append(append([]string(nil), base...), "--password-file", good)
	sshOnceAndLive(t, env, args, func(string) string { return "alice@127.0.0.1::mod/sub" }, filepath.Join(mod, "sub"))
	code, out = runGsyncEnv(t, env, append(args, "--once", src, "rsync://alice@127.0.0.1/mod/url")...)
	if code != 0 {
		t.Fatalf("rsync:// over ssh: exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(mod, "url", "f")); err != nil {
		t.Errorf("rsync:// over ssh: %v", err)
	}
	if !strings.Contains(s.Output(), "Starting session: command") {
		t.Errorf("sshd ran no command:\n%s", tail(s.Output(), 10))
	}
}
