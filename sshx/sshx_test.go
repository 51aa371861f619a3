package sshx_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/gsync/gsync/integration"
	"github.com/gsync/gsync/sshx"
)

// newKey generates an ed25519 key and writes it (encrypted with pass when
// not empty) to dir/name.
func newKey(t *testing.T, dir, name, pass string) (string, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if pass == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(pass))
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

// keyServer is a minimal ssh server on 127.0.0.1 that accepts one user
// key and serves nothing: enough to check host keys and logins without
// root or sshd.
type keyServer struct {
	addr string
	port int
	host ssh.Signer
}

func startKeyServer(t *testing.T, host ssh.Signer, user ssh.PublicKey) *keyServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), user.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(host)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
				if err != nil {
					c.Close()
					return
				}
				go ssh.DiscardRequests(reqs)
				for ch := range chans {
					ch.Reject(ssh.Prohibited, "no services here")
				}
				sc.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return &keyServer{addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port, host: host}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHostKeyChecking(t *testing.T) {
	dir := t.TempDir()
	keyFile, user := newKey(t, dir, "id", "")
	_, host := newKey(t, dir, "host", "")
	srv := startKeyServer(t, host, user.PublicKey())
	home := t.TempDir()
	cfg := sshx.Config{Host: "127.0.0.1", Port: srv.port, User: "u", IdentityFiles: []string{keyFile},
		ConfigFile: "none", NoAgent: true, Home: home}
	kh := filepath.Join(home, ".ssh", "known_hosts")

	// Unknown: refused, with the how-to, and nothing written.
	_, err := sshx.Dial(ctxT(t), cfg)
	var he *sshx.HostKeyError
	if !errors.As(err, &he) || he.Changed {
		t.Fatalf("Dial with an unknown host key = %v, want an unknown-host HostKeyError", err)
	}
	for _, want := range []string{
		fmt.Sprintf("host key for [127.0.0.1]:%d is unknown", srv.port),
		fmt.Sprintf("ssh-keyscan -p %d 127.0.0.1 >> %s", srv.port, kh),
		"--host-key-check=accept-new",
		ssh.FingerprintSHA256(host.PublicKey()),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !sshx.IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = false", err)
	}
	if _, err := os.Stat(kh); err == nil {
		t.Fatalf("strict mode wrote %s", kh)
	}

	// accept-new: written (0600 in a 0700 directory), then verified.
	acc := cfg
	acc.HostKeyCheck = sshx.AcceptNew
	c, err := sshx.Dial(ctxT(t), acc)
	if err != nil {
		t.Fatalf("Dial with accept-new: %v", err)
	}
	c.Close()
	fi, err := os.Stat(kh)
	if err != nil {
		t.Fatalf("accept-new wrote no known_hosts: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(kh)); di.Mode().Perm() != 0o700 {
		t.Errorf(".ssh mode %v, want 0700", di.Mode().Perm())
	}
	data, _ := os.ReadFile(kh)
	if want := xknownhosts.Line([]string{xknownhosts.Normalize(srv.addr)}, host.PublicKey()); strings.TrimSpace(string(data)) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}
	c, err = sshx.Dial(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("strict Dial after accept-new: %v", err)
	}
	c.Close()

	// The server's key changes: refused in every mode but off.
	_, host2 := newKey(t, dir, "host2", "")
	srv2 := startKeyServer(t, host2, user.PublicKey())
	line := xknownhosts.Line([]string{xknownhosts.Normalize(srv2.addr)}, host.PublicKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []sshx.HostKeyCheck{sshx.Strict, sshx.AcceptNew} {
		c2 := cfg
		c2.Port, c2.HostKeyCheck = srv2.port, mode
		_, err := sshx.Dial(ctxT(t), c2)
		if !errors.As(err, &he) || !he.Changed || !strings.Contains(err.Error(), "HAS CHANGED") {
			t.Errorf("%v: Dial with a changed host key = %v, want a changed-key HostKeyError", mode, err)
		}
	}
	if after, _ := os.ReadFile(kh); string(after) != line+"\n" {
		t.Errorf("known_hosts changed after a refused key: %q", after)
	}
	off := cfg
	off.Port, off.HostKeyCheck = srv2.port, sshx.Off
	c, err = sshx.Dial(ctxT(t), off)
	if err != nil {
		t.Fatalf("Dial with --host-key-check=off: %v", err)
	}
	c.Close()
}

func TestHashedKnownHosts(t *testing.T) {
	dir := t.TempDir()
	keyFile, user := newKey(t, dir, "id", "")
	_, host := newKey(t, dir, "host", "")
	srv := startKeyServer(t, host, user.PublicKey())
	kh := filepath.Join(t.TempDir(), "sub", "kh")
	cfg := sshx.Config{Host: "127.0.0.1", Port: srv.port, User: "u", IdentityFiles: []string{keyFile},
		ConfigFile: "none", NoAgent: true, Home: t.TempDir(), KnownHostsFiles: []string{kh},
		HostKeyCheck: sshx.AcceptNew, Options: map[string]string{"HashKnownHosts": "yes"}}
	c, err := sshx.Dial(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	data, _ := os.ReadFile(kh)
	if !strings.HasPrefix(string(data), "|1|") {
		t.Errorf("known_hosts = %q, want a hashed entry", data)
	}
	cfg.HostKeyCheck = sshx.Strict
	c, err = sshx.Dial(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("strict Dial with a hashed entry: %v", err)
	}
	c.Close()
}

func TestEncryptedKey(t *testing.T) {
	dir := t.TempDir()
	keyFile, user := newKey(t, dir, "id_secret", "passphrase")
	_, host := newKey(t, dir, "host", "")
	srv := startKeyServer(t, host, user.PublicKey())
	_, err := sshx.Dial(ctxT(t), sshx.Config{Host: "127.0.0.1", Port: srv.port, User: "u",
		IdentityFiles: []string{keyFile}, ConfigFile: "none", NoAgent: true, Home: t.TempDir(), HostKeyCheck: sshx.Off})
	var ae *sshx.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("Dial with an encrypted key = %v, want an AuthError", err)
	}
	for _, want := range []string{keyFile + " is encrypted", "ssh-add " + keyFile} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// A wrong key is refused with the keys tried.
	other, _ := newKey(t, dir, "id_other", "")
	_, err = sshx.Dial(ctxT(t), sshx.Config{Host: "127.0.0.1", Port: srv.port, User: "u",
		IdentityFiles: []string{other}, ConfigFile: "none", NoAgent: true, Home: t.TempDir(), HostKeyCheck: sshx.Off})
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), other) {
		t.Fatalf("Dial with a refused key = %v, want an AuthError naming %s", err, other)
	}
}

func TestParseRsh(t *testing.T) {
	r, err := sshx.ParseRsh(`ssh -p 2222 -i key -o StrictHostKeyChecking=no -l user -C -oServerAliveInterval=5 -o "ProxyJump jump" -i'other key' -F cfg -qv`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Port != 2222 || r.User != "user" || r.ConfigFile != "cfg" {
		t.Errorf("port %d user %q config %q", r.Port, r.User, r.ConfigFile)
	}
	if fmt.Sprint(r.IdentityFiles) != "[key other key]" {
		t.Errorf("identity files %q", r.IdentityFiles)
	}
	want := map[string]string{"stricthostkeychecking": "no", "serveraliveinterval": "5", "proxyjump": "jump"}
	if fmt.Sprint(r.Options) != fmt.Sprint(want) {
		t.Errorf("options %v, want %v", r.Options, want)
	}
	if fmt.Sprint(r.Ignored) != "[-C -q -v]" {
		t.Errorf("ignored %q", r.Ignored)
	}
	for _, bad := range []string{"rsh -p 1", "ssh -p", "ssh -p 0", "ssh host", "ssh 'unterminated"} {
		if _, err := sshx.ParseRsh(bad); err == nil {
			t.Errorf("ParseRsh(%q) succeeded", bad)
		}
	}
	if r, err := sshx.ParseRsh("/usr/bin/ssh -p2200"); err != nil || r.Port != 2200 {
		t.Errorf("ParseRsh(/usr/bin/ssh -p2200) = %+v, %v", r, err)
	}
	// Extra words (lsyncd's ssh={...}) are taken as they are: a space or a
	// quote in a file name is part of the name, never re-split.
	r, err = sshx.ParseRsh("ssh -l other", "-p", "2222", "-i", `/k ey's "x"`, "-o", "UserKnownHostsFile=/a b")
	if err != nil || r.User != "other" || r.Port != 2222 || len(r.IdentityFiles) != 1 || r.IdentityFiles[0] != `/k ey's "x"` ||
		r.Options["userknownhostsfile"] != "/a b" {
		t.Errorf("ParseRsh with extra words = %+v, %v", r, err)
	}
	if r, err := sshx.ParseRsh("", "-p", "2200"); err != nil || r.Port != 2200 {
		t.Errorf("ParseRsh(\"\", -p 2200) = %+v, %v", r, err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain/path-1.x": "plain/path-1.x",
		"":               "''",
		"a b":            "'a b'",
		"it's":           `'it'\''s'`,
		"$(x);`y`":       "'$(x);`y`'",
	} {
		if got := sshx.ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestSSHConfigAlias resolves a Host alias of a config file against a real
// sshd, then runs commands with odd arguments and uses SFTP.
func TestSSHConfigAlias(t *testing.T) {
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	conf := filepath.Join(t.TempDir(), "config")
	body := fmt.Sprintf("Host backup\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n  ServerAliveInterval 1\n\nHost *\n  User nobody-else\n",
		s.Port, s.User, s.UserKeyPath)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := sshx.Dial(ctxT(t), sshx.Config{Host: "backup", ConfigFile: conf, KnownHostsFiles: []string{s.KnownHostsFile},
		NoAgent: true, Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.String() != fmt.Sprintf("%s@127.0.0.1:%d", s.User, s.Port) {
		t.Errorf("connected as %s", c)
	}
	args := []string{"plain", "with space", "it's", "$(echo pwned)", "`id`", "a\nb", "*", "-n", ""}
	sess, err := c.Exec(ctxT(t), append([]string{"printf", "%s\\0"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(sess)
	if err != nil {
		t.Fatal(err)
	}
	if code, err := sess.Wait(ctxT(t)); code != 0 || err != nil {
		t.Fatalf("printf exit %d, %v: %s", code, err, sess.Stderr())
	}
	if got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", args) {
		t.Errorf("remote saw %q, want %q", got, args)
	}
	sess, err = c.Exec(ctxT(t), []string{"sh", "-c", "echo oops >&2; exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, sess)
	// The last line: a login shell's start-up may write before it (this
	// machine's root runs pyenv from ~/.bashrc, which complains when
	// sessions start at once).
	if code, err := sess.Wait(ctxT(t)); code != 3 || err != nil || !strings.HasSuffix(strings.TrimSpace(string(sess.Stderr())), "\noops") && strings.TrimSpace(string(sess.Stderr())) != "oops" {
		t.Errorf("exit %d, %v, stderr %q; want 3 and oops", code, err, sess.Stderr())
	}
	sc, err := c.SFTP(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := sc.Mkdir(filepath.Join(dir, "made")); err != nil {
		t.Fatal(err)
	}
	if err := sc.PosixRename(filepath.Join(dir, "made"), filepath.Join(dir, "renamed")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "renamed")); err != nil {
		t.Error(err)
	}
	if sc2, _ := c.SFTP(ctxT(t)); sc2 != sc {
		t.Errorf("SFTP opened a second session")
	}
	// Keepalives (every second here) keep the connection usable.
	time.Sleep(1500 * time.Millisecond)
	if _, err := sc.Getwd(); err != nil {
		t.Errorf("SFTP after keepalives: %v", err)
	}
	if c.Connects() != 1 {
		t.Errorf("%d connections, want 1", c.Connects())
	}
}

// TestReconnect: when the connection dies, the next Exec and SFTP call
// log in again.
func TestReconnect(t *testing.T) {
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	var mu sync.Mutex
	var conns []net.Conn
	c, err := sshx.Dial(ctxT(t), sshx.Config{Host: "127.0.0.1", Port: s.Port, User: s.User,
		IdentityFiles: []string{s.UserKeyPath}, KnownHostsFiles: []string{s.KnownHostsFile},
		ConfigFile: "none", NoAgent: true, Home: t.TempDir(),
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err == nil {
				mu.Lock()
				conns = append(conns, nc)
				mu.Unlock()
			}
			return nc, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SFTP(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	conns[0].Close()
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sess, err := c.Exec(ctxT(t), []string{"true"})
		if err == nil {
			if code, err := sess.Wait(ctxT(t)); code != 0 || err != nil {
				t.Fatalf("true after reconnect: %d %v", code, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnection: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sc, err := c.SFTP(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Getwd(); err != nil {
		t.Fatalf("SFTP after reconnect: %v", err)
	}
	if c.Connects() != 2 {
		t.Errorf("%d logins, want 2", c.Connects())
	}
}

// TestProxyJump reaches sshd through itself as the jump host.
func TestProxyJump(t *testing.T) {
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	c, err := sshx.Dial(ctxT(t), sshx.Config{Host: "127.0.0.1", Port: s.Port, User: s.User,
		IdentityFiles: []string{s.UserKeyPath}, KnownHostsFiles: []string{s.KnownHostsFile},
		Options:    map[string]string{"ProxyJump": fmt.Sprintf("%s@127.0.0.1:%d", s.User, s.Port)},
		ConfigFile: "none", NoAgent: true, Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.Exec(ctxT(t), []string{"sh", "-c", "echo $SSH_CLIENT"})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(sess)
	if code, err := sess.Wait(ctxT(t)); code != 0 || err != nil {
		t.Fatalf("exit %d %v", code, err)
	}
	if !strings.HasPrefix(string(out), "127.0.0.1 ") {
		t.Errorf("SSH_CLIENT = %q", out)
	}
	// Two logins: the jump host, then the target through it.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(s.Output(), "Accepted publickey") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(s.Output(), "Accepted publickey"); n != 2 {
		t.Errorf("sshd saw %d logins, want 2 (jump host and target)", n)
	}
}

// TestConfigFileAndOptions: a Host alias of a config file sets HostName,
// Port, User, IdentityFile and UserKnownHostsFile; -o options override it.
func TestConfigFileAndOptions(t *testing.T) {
	dir := t.TempDir()
	keyFile, user := newKey(t, dir, "id", "")
	_, host := newKey(t, dir, "host", "")
	srv := startKeyServer(t, host, user.PublicKey())
	kh := filepath.Join(dir, "kh")
	os.WriteFile(kh, []byte(xknownhosts.Line([]string{xknownhosts.Normalize(srv.addr)}, host.PublicKey())+"\n"), 0o600)
	conf := filepath.Join(dir, "config")
	body := fmt.Sprintf("Host mirror\n  HostName 127.0.0.1\n  Port %d\n  User alice\n  IdentityFile %s\n  UserKnownHostsFile %s\n", srv.port, keyFile, kh)
	os.WriteFile(conf, []byte(body), 0o600)
	home := t.TempDir()
	c, err := sshx.Dial(ctxT(t), sshx.Config{Host: "mirror", ConfigFile: conf, NoAgent: true, Home: home})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), fmt.Sprintf("alice@127.0.0.1:%d", srv.port); got != want {
		t.Errorf("connected as %s, want %s", got, want)
	}
	c.Close()
	// -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no: the
	// unknown key is accepted and stored nowhere.
	c, err = sshx.Dial(ctxT(t), sshx.Config{Host: "mirror", ConfigFile: conf, NoAgent: true, Home: home,
		Options: map[string]string{"userknownhostsfile": "/dev/null", "stricthostkeychecking": "no"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := os.Stat(filepath.Join(home, ".ssh")); err == nil {
		t.Errorf("a known_hosts file was written below the home directory")
	}
	// A missing explicit config file is an error.
	if _, err := sshx.Dial(ctxT(t), sshx.Config{Host: "mirror", ConfigFile: filepath.Join(dir, "nope")}); err == nil || !sshx.IsPermanent(err) {
		t.Errorf("Dial with a missing config file = %v, want a permanent error", err)
	}
}
