package sshx_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/gsync/gsync/sshx"
)

// TestStrictHostKeyCheckingOffRefusesChangedKey: ssh_config's (or -o)
// StrictHostKeyChecking off / no accepts an unknown host but never a
// changed key; only gsync's own --host-key-check=off does.
func TestStrictHostKeyCheckingOffRefusesChangedKey(t *testing.T) {
	dir := t.TempDir()
	keyFile, user := newKey(t, dir, "id", "")
	_, oldHost := newKey(t, dir, "old", "")
	_, host := newKey(t, dir, "host", "")
	srv := startKeyServer(t, host, user.PublicKey())
	for _, tc := range []struct{ name, value string }{{"option off", "off"}, {"option no", "no"}, {"ssh_config off", "off"}} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			kh := filepath.Join(home, "known_hosts")
			cfg := sshx.Config{Host: "127.0.0.1", Port: srv.port, User: "u", IdentityFiles: []string{keyFile},
				ConfigFile: "none", NoAgent: true, Home: home, KnownHostsFiles: []string{kh}}
			if tc.name == "ssh_config off" {
				conf := filepath.Join(home, "config")
				if err := os.WriteFile(conf, []byte("Host *\n  StrictHostKeyChecking "+tc.value+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				cfg.ConfigFile = conf
			} else {
				cfg.Options = map[string]string{"StrictHostKeyChecking": tc.value}
			}

			// Unknown host: accepted and written, like accept-new.
			c, err := sshx.Dial(ctxT(t), cfg)
			if err != nil {
				t.Fatalf("Dial to an unknown host with StrictHostKeyChecking=%s: %v", tc.value, err)
			}
			c.Close()
			if data, _ := os.ReadFile(kh); len(data) == 0 {
				t.Errorf("the unknown host's key was not added to %s", kh)
			}

			// Changed key: refused, known_hosts untouched.
			line := xknownhosts.Line([]string{xknownhosts.Normalize(srv.addr)}, oldHost.PublicKey()) + "\n"
			if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = sshx.Dial(ctxT(t), cfg)
			var he *sshx.HostKeyError
			if !errors.As(err, &he) || !he.Changed {
				t.Fatalf("Dial with a changed key and StrictHostKeyChecking=%s = %v, want a changed-key HostKeyError", tc.value, err)
			}
			if after, _ := os.ReadFile(kh); string(after) != line {
				t.Errorf("known_hosts changed after a refused key: %q", after)
			}

			// Only --host-key-check=off turns checking off.
			off := cfg
			off.HostKeyCheck = sshx.Off
			c, err = sshx.Dial(ctxT(t), off)
			if err != nil {
				t.Fatalf("Dial with --host-key-check=off: %v", err)
			}
			c.Close()
		})
	}
}
