package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// TestCheck runs gsync check on a table of good, broken and tricky
// command lines and lsyncd configs against a real rsync 3.5.0 daemon and
// sshd: each ends with its exit status (0 fine, 2 configuration, 3 a
// target) and names the problem (with file:line for a config), and no
// check changes a target.
func TestCheck(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	mod, ro, sec := filepath.Join(t.TempDir(), "m"), filepath.Join(t.TempDir(), "ro"), filepath.Join(t.TempDir(), "sec")
	d := StartRsyncDaemon(t, Config{Modules: []Module{
		{Name: "m", Path: mod},
		{Name: "ro", Path: ro, ReadOnly: true},
		{Name: "sec", Path: sec, AuthUsers: []string{"alice"}, Secrets: map[string]string{"alice": "s3cret"}},
	}})
	s := startSSHPeer(t)
	src, work := t.TempDir(), t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "f"), "x")
	pw, pwLoose, wrongPW := filepath.Join(work, "pw"), filepath.Join(work, "pw-loose"), filepath.Join(work, "pw-wrong")
	testutil.Must(t, os.WriteFile(pw, []byte("s3cret\n"), 0o600))
	testutil.Must(t, os.WriteFile(wrongPW, []byte("nope\n"), 0o600))
	testutil.Must(t, os.WriteFile(pwLoose, []byte("s3cret\n"), 0o644))
	looseKey := filepath.Join(work, "id-loose")
	b, err := os.ReadFile(s.UserKeyPath)
	testutil.Must(t, err)
	testutil.Must(t, os.WriteFile(looseKey, b, 0o644))
	testutil.Must(t, os.Chmod(looseKey, 0o644))
	sshDst := filepath.Join(t.TempDir(), "not-yet")
	secURL := strings.Replace(d.URL("sec"), "rsync://", "rsync://alice@", 1)
	conf := func(body string) string {
		p := filepath.Join(t.TempDir(), "lsyncd.conf.lua")
		testutil.WriteFile(t, p, "settings { nodaemon = true }\n"+body)
		return p
	}
	env := []string{"HOME=" + t.TempDir(), "SSH_AUTH_SOCK=", "RSYNC_PASSWORD="}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"all good", append(append([]string{"--exclude", "*.tmp", "--on-push", "/bin/true"}, sshArgs(s)...), src, "127.0.0.1:"+sshDst),
			0, []string{"target 127.0.0.1:" + sshDst + ": ok", "does not exist yet: gsync creates it", "runs: rsync --server", "filter - *.tmp", "on push: /bin/true", "gsync check: ok"}},
		{"daemon and local", []string{src, d.URL("m"), filepath.Join(work, "local")},
			0, []string{"module accepts a push", "runs: rsync --server -logDtpre.iLsfxCIvu --delete --force . m", "directory does not exist yet; the sync creates it", "ok (1 sync(s), 2 target(s))"}},
		{"read-only module", []string{src, d.URL("ro")}, 3, []string{"FAILED", "read only"}},
		{"password", []string{"--password-file", pw, src, secURL}, 0, []string{"module accepts a push"}},
		{"wrong password", []string{"--password-file", wrongPW, src, secURL}, 3, []string{"FAILED", "auth"}},
		{"loose password file", []string{"--password-file", pwLoose, src, secURL}, 2, []string{"password file", "others"}},
		{"unknown module", []string{src, d.URL("nope")}, 3, []string{"Unknown module"}},
		{"unknown host key", []string{"--ssh", "--ssh-config", "none", "-e", fmt.Sprintf("ssh -p %d -i %s -l %s", s.Port, s.UserKeyPath, s.User), src, "127.0.0.1:" + sshDst},
			3, []string{"FAILED", "known_hosts"}},
		{"loose ssh key", []string{"--ssh", "--ssh-config", "none", "--known-hosts", s.KnownHostsFile, "-e", fmt.Sprintf("ssh -p %d -i %s -l %s", s.Port, looseKey, s.User), src, "127.0.0.1:" + sshDst},
			3, []string{"FAILED", "chmod 600"}},
		{"missing hook program", []string{"--on-push", filepath.Join(work, "no-such-hook") + " --all", src, d.URL("m")}, 2, []string{"--on-push", "no-such-hook"}},
		{"missing source", []string{filepath.Join(work, "nope"), d.URL("m")}, 2, []string{"does not exist"}},
		{"bad flag value", []string{"--delete", "sometimes", src, d.URL("m")}, 2, []string{"invalid delete mode"}},
		{"config: bad value", []string{"--config", conf(`sync { default.rsync, source = "` + src + `", target = "x::m",
  delay = "soon" }`)}, 2, []string{"lsyncd.conf.lua:2:", "delay"}},
		{"config: missing exclude file", []string{"--config", conf(`sync { default.direct, source = "` + src + `", target = "` + filepath.Join(work, "l2") + `" }
sync { default.rsync, source = "` + src + `", target = "127.0.0.1::m", excludeFrom = "` + filepath.Join(work, "none") + `" }`)}, 2,
			[]string{"lsyncd.conf.lua:3:", "exclude file"}},
		{"config: good", []string{"--config", conf(`sync { default.rsync, source = "` + src + `", target = "` + d.URL("m") + `", exclude = { "*.log" } }`)},
			0, []string{"Sync1: source " + src, "exclude *.log", "gsync check: ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runGsyncEnv(t, env, append([]string{"check"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if testutil.Exists(sshDst) {
		t.Errorf("check created the ssh target directory")
	}
	for _, dir := range []string{mod, ro, sec} {
		if c, err := treediff.TakeCensus(dir); err != nil || c.Entries != 0 {
			t.Errorf("check changed module %s: %+v, %v", dir, c, err)
		}
	}
}
