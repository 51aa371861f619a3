package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gsync/gsync/internal/testutil"
)

// SSHDConfig tunes a test sshd. The zero value is fine.
type SSHDConfig struct {
	// Binary is the sshd binary; default /usr/sbin/sshd.
	Binary string
	// Extra lines for sshd_config, after the harness's own.
	Extra string
	// First are lines put before the harness's own: sshd takes the first
	// value of a keyword, so these override them (PasswordAuthentication
	// yes, UsePAM yes, no Subsystem, ...).
	First string
	// NoSFTP leaves the SFTP subsystem out.
	NoSFTP bool
	// KeyOptions go in front of the user key in authorized_keys, e.g.
	// `restrict,command="rrsync -no-lock DIR"`.
	KeyOptions string
	// User, when set, is the account that may log in instead of the
	// current one: an ordinary user with a shell and a home directory
	// (.ci/run creates NonRootUser). The test is skipped when it does
	// not exist. Home is then a fresh directory of the user's own below
	// their home, removed at the end.
	User string
}

// NonRootUser is the ordinary account .ci/run creates for the tests that
// log in over ssh as someone other than root.
const NonRootUser = "gsync-test"

// SSHD is a running OpenSSH server on 127.0.0.1 that lets the current user
// log in with a generated ed25519 key.
type SSHD struct {
	Addr string // 127.0.0.1:Port
	Port int
	User string // the user who may log in (the current one, or SSHDConfig.User)
	// Home is a directory the user owns (SSHDConfig.User only; else "").
	Home string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey
	// KnownHostsLine is a known_hosts line for "[127.0.0.1]:Port".
	KnownHostsLine string
	// KnownHostsFile holds KnownHostsLine.
	KnownHostsFile string
	// UserKeyPath is the user's OpenSSH private key file (no passphrase).
	UserKeyPath string
	// UserSigner authenticates as User.
	UserSigner ssh.Signer
	// Dir holds the config, keys, pid file and log.
	Dir string

	bin, conf string
	mu        sync.Mutex
	proc      *process // nil while killed
	output    *testutil.Buffer
}

// StartSSHD generates host and user keys and an sshd_config, starts
// `sshd -D -e -f config` on a free port of 127.0.0.1, waits until it
// accepts connections and stops it by pid in a cleanup. It skips the test
// when sshd is missing or cannot run here (sshd needs root for logins).
func StartSSHD(t testing.TB, cfg SSHDConfig) *SSHD {
	t.Helper()
	bin := cfg.Binary
	if bin == "" {
		bin = "/usr/sbin/sshd"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("sshd not installed: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("sshd needs root to accept logins")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("look up current user: %v", err)
	}
	// The privilege separation directory of Debian's sshd.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Skipf("create /run/sshd: %v", err)
	}
	s := &SSHD{User: u.Username, Dir: t.TempDir(), output: &testutil.Buffer{}}
	keysDir := s.Dir
	if cfg.User != "" {
		// sshd reads authorized_keys as the user: it must lie where
		// the user can read it, in a directory of theirs.
		s.User, s.Home = cfg.User, userHome(t, cfg.User)
		keysDir = s.Home
	}
	hostKeyPath := filepath.Join(s.Dir, "ssh_host_ed25519_key")
	hostSigner := writeKey(t, hostKeyPath)
	s.HostKey = hostSigner.PublicKey()
	s.UserKeyPath = filepath.Join(s.Dir, "id_ed25519")
	s.UserSigner = writeKey(t, s.UserKeyPath)
	authKeys := filepath.Join(keysDir, "authorized_keys")
	keyLine := ssh.MarshalAuthorizedKey(s.UserSigner.PublicKey())
	if cfg.KeyOptions != "" {
		keyLine = append([]byte(cfg.KeyOptions+" "), keyLine...)
	}
	if err := os.WriteFile(authKeys, keyLine, 0o644); err != nil {
		t.Fatalf("write authorized_keys: %v", err)
	}
	conf := filepath.Join(s.Dir, "sshd_config")
	// setPort writes the known_hosts file and sshd_config for port.
	setPort := func(port int) {
		s.Port = port
		s.Addr = "127.0.0.1:" + itoa(s.Port)
		s.KnownHostsLine = knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
		s.KnownHostsFile = filepath.Join(s.Dir, "known_hosts")
		if err := os.WriteFile(s.KnownHostsFile, []byte(s.KnownHostsLine+"\n"), 0o600); err != nil {
			t.Fatalf("write known_hosts: %v", err)
		}
		lines := []string{
			cfg.First,
			"Port " + itoa(s.Port),
			"ListenAddress 127.0.0.1",
			"HostKey " + hostKeyPath,
			"AuthorizedKeysFile " + authKeys,
			"PubkeyAuthentication yes",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"StrictModes no",
			"UsePAM no",
			"PidFile " + filepath.Join(s.Dir, "sshd.pid"),
			"PermitRootLogin yes",
			"LogLevel VERBOSE",
		}
		if !cfg.NoSFTP {
			lines = append(lines, "Subsystem sftp internal-sftp")
		}
		lines = append(lines, cfg.Extra)
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatalf("write sshd_config: %v", err)
		}
	}
	s.bin, s.conf = bin, conf
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd %s output:\n%s", s.Addr, s.output.String())
		}
		if err := s.close(); err != nil {
			t.Errorf("stop sshd: %v", err)
		}
	})
	// A free port may be taken before sshd binds it (tests run in
	// parallel, and their connections take ports too): try another.
	for attempt := 1; ; attempt++ {
		setPort(FreePort(t))
		err := s.start()
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(err.Error(), "in use") {
			t.Fatal(err)
		}
	}
}

// userHome makes a fresh directory owned by the account name below its
// home directory, removed when t ends; t is skipped without the account.
func userHome(t testing.TB, name string) string {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("no user %s (.ci/run creates it: useradd --create-home --shell /bin/sh %s): %v", name, name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp(u.HomeDir, "gsync-test-")
	if err != nil {
		t.Fatalf("make a directory for %s: %v", name, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatalf("chown %s: %v", dir, err)
	}
	return dir
}

func (s *SSHD) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("%s already running", s)
	}
	cmd := exec.Command(s.bin, "-D", "-e", "-f", s.conf)
	cmd.Stdout, cmd.Stderr = s.output, s.output
	p, err := startProcess(cmd)
	if err != nil {
		return err
	}
	if err := p.waitReady(s.Addr); err != nil {
		p.stop()
		return fmt.Errorf("start sshd: %w\noutput:\n%s", err, s.output.String())
	}
	s.proc = p
	return nil
}

// Kill stops sshd and every connection process it serves (each runs in a
// session of its own, so they are found by parent pid) with SIGKILL, like a
// crash of the server. The users' commands below them (a shell, rsync
// --server) are not killed: they see their connection go and exit on their
// own, running their exit handlers (a login shell killed mid-startup can
// leave lock files behind). It is a no-op when sshd is not running.
func (s *SSHD) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	err := signalSSHD(s.proc.cmd.Process.Pid, s.bin, syscall.SIGKILL)
	if serr := s.proc.stop(); err == nil {
		err = serr
	}
	s.proc = nil
	return err
}

// close stops sshd at the end of a test: the listener only; connections
// end with their clients.
func (s *SSHD) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	err := s.proc.stop()
	s.proc = nil
	return err
}

// Restart starts sshd again on the same port and with the same keys after
// Kill (or kills and restarts a running one).
func (s *SSHD) Restart() error {
	if err := s.Kill(); err != nil {
		return err
	}
	return s.start()
}

// Stop freezes sshd and its connection processes (SIGSTOP): the network
// stalls without closing a connection.
func (s *SSHD) Stop() error { return s.signal(syscall.SIGSTOP) }

// Cont resumes an sshd frozen by Stop.
func (s *SSHD) Cont() error { return s.signal(syscall.SIGCONT) }

func (s *SSHD) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return fmt.Errorf("%s is not running", s)
	}
	return signalSSHD(s.proc.cmd.Process.Pid, s.bin, sig)
}

// ClientConfig returns an ssh client configuration that logs in as User
// with the user key and checks the host key.
func (s *SSHD) ClientConfig() *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.UserSigner)},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey),
		Timeout:         readyTimeout,
	}
}

// Output returns what sshd logged so far.
func (s *SSHD) Output() string { return s.output.String() }

// writeKey generates an ed25519 key, writes it as an OpenSSH private key
// file and returns its signer.
func writeKey(t testing.TB, p string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatalf("write key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	return signer
}

// String names the server for logs.
func (s *SSHD) String() string { return fmt.Sprintf("sshd %s@%s", s.User, s.Addr) }
