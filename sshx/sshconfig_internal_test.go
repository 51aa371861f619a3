package sshx

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestArgvSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`nc %h %p`, []string{"nc", "%h", "%p"}},
		{`  a   "b c"  'd e' `, []string{"a", "b c", "d e"}},
		{`a\ b c`, []string{"a b", "c"}},
		{`"a\"b" 'c\'d'`, []string{`a"b`, `c'd`}},
		{`a\nb "x\ y"`, []string{`a\nb`, `x\ y`}}, // unknown escapes stay
		{`a"b c"d`, []string{"ab cd"}},
		{`a # comment`, []string{"a"}},
		{``, nil},
	} {
		got, err := argvSplit(tc.in, true)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("argvSplit(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := argvSplit(`a "b`, false); err == nil {
		t.Errorf("unterminated quote accepted")
	}
}

// writeConf writes files below dir and returns the path of the first.
func writeConf(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveConfigFile(t *testing.T) {
	home := t.TempDir()
	writeConf(t, home, map[string]string{
		".ssh/config": `# first value wins; IdentityFile accumulates
Host web* !webx
  HostName=10.0.0.%h
  IdentityFile ~/.ssh/a
  Include conf.d/*.conf
Match user deploy host 10.0.0.*
  Port 2200
  ProxyCommand /usr/bin/connect -H "proxy host:8080" %h %p %r %%
Match !user deploy
  Port 2300
Match originalhost webx
  Port 2400
Match exec "true"
  User never
Host *
  User deploy
  IdentityFile %d/.ssh/b
  ConnectTimeout 7
  Ciphers ^aes128-cbc
  KexAlgorithms +diffie-hellman-group14-sha1
  MACs -hmac-sha1*
  IdentitiesOnly yes
  IdentityAgent ~/agent.sock
  CertificateFile ~/.ssh/a-cert.pub
`,
		".ssh/conf.d/1.conf": "User deploy\nIdentityFile ~/.ssh/c\n",
		".ssh/conf.d/2.conf": "User other\n",
	})
	log := slog.New(slog.DiscardHandler)
	s, err := resolve(Config{Host: "web1", Home: home, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/bin/connect", "-H", "proxy host:8080", "10.0.0.web1", "2200", "deploy", "%"}
	if s.hostname != "10.0.0.web1" || s.user != "deploy" || s.port != 2200 || !slices.Equal(s.proxy, want) {
		t.Errorf("host %s user %s port %d proxy %q; want 10.0.0.web1 deploy 2200 %q", s.hostname, s.user, s.port, s.proxy, want)
	}
	if d := cmp.Diff([]string{home + "/.ssh/a", home + "/.ssh/c", home + "/.ssh/b"}, s.idFiles); d != "" {
		t.Errorf("identity files (-want +got):\n%s", d)
	}
	if s.timeout.Seconds() != 7 || !s.idOnly || s.agentSock != home+"/agent.sock" || !slices.Equal(s.certs, []string{home + "/.ssh/a-cert.pub"}) {
		t.Errorf("timeout %v idOnly %v agent %q certs %q", s.timeout, s.idOnly, s.agentSock, s.certs)
	}
	if s.ciphers[0] != "aes128-cbc" || len(s.ciphers) < 2 || !slices.Contains(s.kex, "diffie-hellman-group14-sha1") ||
		s.kex[0] != "mlkem768x25519-sha256" || slices.ContainsFunc(s.macs, func(m string) bool { return strings.HasPrefix(m, "hmac-sha1") }) {
		t.Errorf("ciphers %q kex %q macs %q", s.ciphers, s.kex, s.macs)
	}

	// -l other (the command line first): Match user deploy does not apply.
	s, err = resolve(Config{Host: "web1", User: "other", Home: home, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if s.port != 2300 || s.proxy != nil {
		t.Errorf("as other: port %d proxy %q, want 2300 and none", s.port, s.proxy)
	}
	// A host the Host line excludes; Match originalhost. (Without -l,
	// "Match !user deploy" would apply first: no User is set yet when it
	// is read, so it compares with the local user, as in OpenSSH.)
	s, err = resolve(Config{Host: "webx", User: "deploy", Home: home, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if s.hostname != "webx" || s.port != 2400 {
		t.Errorf("webx: host %s port %d, want webx 2400", s.hostname, s.port)
	}
	// -o wins over the file; ProxyCommand none switches it off; -o
	// ProxyJump given first wins over the file's ProxyCommand.
	s, err = resolve(Config{Host: "web1", Home: home, Logger: log, Options: map[string]string{"proxycommand": "none", "port": "1"}})
	if err != nil || s.proxy != nil || s.port != 1 {
		t.Errorf("-o ProxyCommand=none: proxy %q port %d err %v", s.proxy, s.port, err)
	}
	s, err = resolve(Config{Host: "web1", Home: home, Logger: log, Options: map[string]string{"proxyjump": "j"}})
	if err != nil || s.proxy != nil || s.jump != "j" {
		t.Errorf("-o ProxyJump: proxy %q jump %q err %v", s.proxy, s.jump, err)
	}
}

func TestIncludeLoop(t *testing.T) {
	home := t.TempDir()
	writeConf(t, home, map[string]string{".ssh/config": "Include config\n"})
	_, err := resolve(Config{Host: "h", User: "u", Home: home, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "Include nested deeper") {
		t.Errorf("self-including config: %v, want a nesting error", err)
	}
}

func TestAlgorithmEdits(t *testing.T) {
	ciphers, kex, _, hostKeys, pubkeys := algoSets()
	for _, tc := range []struct {
		set  algoSet
		spec string
		want string // comma list, or "error"
	}{
		{ciphers, "aes128-cbc", "aes128-cbc"},
		{ciphers, "aes128-cbc,nope", "error"},
		{ciphers, "aes*-ctr", "aes128-ctr,aes192-ctr,aes256-ctr"},
		{ciphers, "+3des-cbc", strings.Join(ciphers.defaults, ",") + ",3des-cbc"},
		{ciphers, "^aes256-ctr", "aes256-ctr," + strings.Join(slices.DeleteFunc(slices.Clone(ciphers.defaults), func(s string) bool { return s == "aes256-ctr" }), ",")},
		{ciphers, "-*", "error"},
		{kex, "diffie-hellman-group14-sha1", "diffie-hellman-group14-sha1"},
		{hostKeys, "ssh-rsa", "ssh-rsa"},
		{pubkeys, "ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519-cert-v01@openssh.com"},
		{pubkeys, "", ""},
	} {
		got, err := tc.set.edit(tc.spec)
		g := strings.Join(got, ",")
		if err != nil {
			g = "error"
		}
		if g != tc.want {
			t.Errorf("%s %q = %s (%v), want %s", tc.set.keyword, tc.spec, g, err, tc.want)
		}
	}
}

func TestUnusedOptions(t *testing.T) {
	got := UnusedOptions(map[string]string{"compression": "yes", "Ciphers": "x", "proxycommand": "nc", "loglevel": "quiet"})
	if fmt.Sprint(got) != "[compression loglevel]" {
		t.Errorf("UnusedOptions = %q", got)
	}
}

func TestParseRshSSHPass(t *testing.T) {
	r, err := ParseRsh(`sshpass -p 'top secret' ssh -p 2222 -l u`)
	if err != nil || r.Password.s != "top secret" || r.Port != 2222 || r.User != "u" {
		t.Errorf("sshpass -p: %+v, %v", r, err)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", r, r, r, r.Password); strings.Contains(s, "top secret") {
		t.Errorf("the password shows in %s", s)
	}
	r, err = ParseRsh(`/usr/bin/sshpass -f /etc/pw -v ssh -i k`)
	if err != nil || r.PasswordFile != "/etc/pw" || !r.Password.IsZero() || r.IdentityFiles[0] != "k" {
		t.Errorf("sshpass -f: %+v, %v", r, err)
	}
	if r, err = ParseRsh(`sshpass -e ssh`); err != nil || !r.PasswordEnv {
		t.Errorf("sshpass -e: %+v, %v", r, err)
	}
	for _, bad := range []string{`sshpass -p hunter2`, `sshpass -d 3 ssh`, `sshpass -p hunter2 ssh host`, `sshpass -p hunter2 rsh`, `sshpass -p 'hunter2`} {
		_, err := ParseRsh(bad)
		if err == nil {
			t.Errorf("ParseRsh(%q) succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseRsh(%q) error shows the password: %v", bad, err)
		}
	}
}

func TestReadPasswordFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")
	os.WriteFile(f, []byte("s3cret\nsecond line\n"), 0o600)
	if pw, err := ReadPasswordFile(f); err != nil || pw.s != "s3cret" {
		t.Errorf("ReadPasswordFile = %q, %v", pw.s, err)
	}
	os.Chmod(f, 0o604)
	if _, err := ReadPasswordFile(f); err == nil || !strings.Contains(err.Error(), "mode 0604") {
		t.Errorf("world-readable password file: %v", err)
	}
}
