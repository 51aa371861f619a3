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
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHDConfig tunes a test sshd. The zero value is fine.
type SSHDConfig struct {
	// Binary is the sshd binary; default /usr/sbin/sshd.
	Binary string
	// Extra lines for sshd_config.
	Extra string
}

// SSHD is a running OpenSSH server on 127.0.0.1 that lets the current user
// log in with a generated ed25519 key.
type SSHD struct {
	Addr string // 127.0.0.1:Port
	Port int
	User string // the current user, who may log in
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

	proc   *process
	output *lockedBuffer
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
	s := &SSHD{User: u.Username, Dir: t.TempDir(), output: &lockedBuffer{}}
	hostKeyPath := filepath.Join(s.Dir, "ssh_host_ed25519_key")
	hostSigner := writeKey(t, hostKeyPath)
	s.HostKey = hostSigner.PublicKey()
	s.UserKeyPath = filepath.Join(s.Dir, "id_ed25519")
	s.UserSigner = writeKey(t, s.UserKeyPath)
	authKeys := filepath.Join(s.Dir, "authorized_keys")
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(s.UserSigner.PublicKey()), 0o600); err != nil {
		t.Fatalf("write authorized_keys: %v", err)
	}
	s.Port = FreePort(t)
	s.Addr = "127.0.0.1:" + itoa(s.Port)
	s.KnownHostsLine = knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
	s.KnownHostsFile = filepath.Join(s.Dir, "known_hosts")
	if err := os.WriteFile(s.KnownHostsFile, []byte(s.KnownHostsLine+"\n"), 0o600); err != nil {
		t.Fatalf("write known_hosts: %v", err)
	}
	conf := filepath.Join(s.Dir, "sshd_config")
	lines := []string{
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
		"Subsystem sftp internal-sftp",
		"LogLevel VERBOSE",
		cfg.Extra,
	}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("write sshd_config: %v", err)
	}
	cmd := exec.Command(bin, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = s.output, s.output
	p, err := startProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
	s.proc = p
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd %s output:\n%s", s.Addr, s.output.String())
		}
		if err := p.stop(); err != nil {
			t.Errorf("stop sshd: %v", err)
		}
	})
	if err := p.waitReady(s.Addr); err != nil {
		t.Fatalf("start sshd: %v\noutput:\n%s", err, s.output.String())
	}
	return s
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
