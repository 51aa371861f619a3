package sshx_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/gsync/gsync/sshx"
)

// serveAgent runs an ssh-agent holding priv on a unix socket in dir until
// the test ends.
func serveAgent(t *testing.T, dir string, priv ed25519.PrivateKey) string {
	t.Helper()
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // ends when the listener closes
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { // ends when the client hangs up
				defer wg.Done()
				agent.ServeAgent(kr, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return sock
}

// TestIdentityAgentAndIdentitiesOnly: IdentityAgent names the agent's
// socket (SSH_AUTH_SOCK unset), "none" turns it off; IdentitiesOnly
// keeps the agent's keys out unless an identity file (here only its .pub)
// names them.
func TestIdentityAgentAndIdentitiesOnly(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	userPub, _ := ssh.NewPublicKey(pub)
	_, host := newKey(t, dir, "host", "")
	srv := startKeyServer(t, host, userPub)
	kh := filepath.Join(dir, "kh")
	os.WriteFile(kh, []byte(xknownhosts.Line([]string{xknownhosts.Normalize(srv.addr)}, host.PublicKey())+"\n"), 0o600)
	sock := serveAgent(t, dir, priv)
	pubOnly := filepath.Join(dir, "agentkey")
	os.WriteFile(pubOnly+".pub", ssh.MarshalAuthorizedKey(userPub), 0o644)

	dial := func(opts map[string]string, ids ...string) error {
		c, err := sshx.Dial(ctxT(t), sshx.Config{Host: "127.0.0.1", Port: srv.port, User: "u", ConfigFile: "none",
			KnownHostsFiles: []string{kh}, Home: t.TempDir(), Options: opts, IdentityFiles: ids})
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(map[string]string{"identityagent": sock}); err != nil {
		t.Errorf("IdentityAgent %s: %v", sock, err)
	}
	if err := dial(map[string]string{"identityagent": sock, "identitiesonly": "yes"}); err == nil || !sshx.IsPermanent(err) {
		t.Errorf("IdentitiesOnly without the key's file: %v, want a refused login", err)
	}
	if err := dial(map[string]string{"identityagent": sock, "identitiesonly": "yes"}, pubOnly); err != nil {
		t.Errorf("IdentitiesOnly with the key's .pub: %v", err)
	}
	if err := dial(map[string]string{"identityagent": "none"}); err == nil {
		t.Errorf("IdentityAgent none: the agent was used")
	}
}
