package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/sshx"
	"github.com/gsync/gsync/transport"
)

// TestLsyncdSSHPass: lsyncd's rsh = "sshpass -p X ssh ..." and "sshpass
// -f FILE ssh ..." give the password to gsync's own login; the ssh
// options after sshpass still count; --ssh-password-file wins.
func TestLsyncdSSHPass(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("from-file\n"), 0o600)
	flagFile := filepath.Join(dir, "flag")
	os.WriteFile(flagFile, []byte("from-flag\n"), 0o600)
	for _, tc := range []struct{ rsh, flag, want string }{
		{`sshpass -p "p w" ssh -p 2222`, "", "p w"},
		{"sshpass -f " + pwFile + " ssh -p 2222", "", "from-file"},
		{`sshpass -p x ssh -p 2222`, flagFile, "from-flag"},
	} {
		cfg, err := lsyncdconf.Load("c.lua", fmt.Sprintf(`sync{ default.rsync, source = "/src", target = "u@h:/d", rsync = { rsh = %q } }`, tc.rsh))
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		rsh, err := sshx.ParseRsh(c.ssh.rsh, c.ssh.rshArgs...)
		if err != nil || rsh.Port != 2222 {
			t.Fatalf("ParseRsh(%q) = port %d, %v", c.ssh.rsh, rsh.Port, err)
		}
		pw, err := sshPassword(tc.flag, rsh)
		if err != nil || fmt.Sprint(pw) != "[redacted]" {
			t.Fatalf("sshPassword = %v, %v", pw, err)
		}
		if got := secretText(pw); got != tc.want {
			t.Errorf("rsh %q flag %q: password %q, want %q", tc.rsh, tc.flag, got, tc.want)
		}
	}
	if _, err := sshPassword("", sshx.Rsh{PasswordEnv: true}); err == nil && os.Getenv("SSHPASS") == "" {
		t.Errorf("sshpass -e without $SSHPASS accepted")
	}
}

// secretText tells which of the test's passwords s holds (a Secret has no
// getter on purpose, but it is comparable).
func secretText(s sshx.Secret) string {
	for _, c := range []string{"p w", "from-file", "from-flag"} {
		if s == sshx.NewSecret(c) {
			return c
		}
	}
	return strings.Repeat("?", 3)
}

// TestDaemonTargetOverSSH: host::module with an rsh (lsyncd's rsync.rsh,
// or -e) is a daemon over ssh; without one, a TCP daemon.
func TestDaemonTargetOverSSH(t *testing.T) {
	for _, tc := range []struct {
		rsync   string
		overSSH bool
	}{
		{`rsync = { rsh = "ssh -p 1 -l someone" }`, true},
		{`rsync = { }`, false},
	} {
		cfg, err := lsyncdconf.Load("c.lua", `sync{ default.rsync, source = "/src", target = "127.0.0.1::m", `+tc.rsync+` }`)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		c.port = 1 // nothing listens: the standby connection fails on loopback
		rules, err := filter.New(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		tgt, _, err := openTarget(c, "127.0.0.1::m", rules, transport.Options{Source: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		_, isSSH := tgt.(*transport.DaemonOverSSH)
		tgt.Close()
		if isSSH != tc.overSSH {
			t.Errorf("%s: target %T, want over ssh %v", tc.rsync, tgt, tc.overSSH)
		}
	}
}
