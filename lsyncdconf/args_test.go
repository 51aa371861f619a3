package lsyncdconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIsLsyncdArgs(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want bool
	}{
		{[]string{"/src", "/dst"}, false},
		{[]string{"--delay", "5", "/src", "/dst"}, false},
		{[]string{"--insist", "/src", "host::m"}, false},
		{[]string{"-n", "/src", "/dst"}, false},
		{[]string{"-e", "ssh -p 2", "/src", "h:d"}, false},
		{[]string{"-rsync", "/src", "/dst"}, true},
		{[]string{"-nodaemon", "/etc/lsyncd.conf"}, true},
		{[]string{"/etc/lsyncd/lsyncd.conf.lua"}, true},
		{[]string{"--version"}, false},
		{[]string{"-version"}, true},
		{[]string{"-runner", "x"}, true},
		{nil, false},
	} {
		if got := IsLsyncdArgs(tt.argv); got != tt.want {
			t.Errorf("IsLsyncdArgs(%q) = %v, want %v", tt.argv, got, tt.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	cfg, file, handled, err := ParseArgs([]string{"-nodaemon", "-delay", "5", "-rsync", "/a", "h::m",
		"-direct", "/b", "/c", "--rsyncssh", "/d", "u@host", "dir", "-sshopts", "-p 2222",
		"-log", "scarce", "-logfile", "/l", "-pidfile", "/p", "-insist", "-onepass"})
	if err != nil || !handled || file != "" {
		t.Fatalf("ParseArgs = %v, %q, %v", err, file, handled)
	}
	st := cfg.Settings
	if !st.NoDaemon || !st.Insist || !st.OnePass || st.LogFile != "/l" || st.PidFile != "/p" ||
		len(st.Log) != 1 || st.Log[0] != "scarce" || *st.Delay != 5*time.Second {
		t.Errorf("settings = %+v", st)
	}
	if len(cfg.Syncs) != 3 {
		t.Fatalf("got %d syncs", len(cfg.Syncs))
	}
	for i, want := range []struct{ kind, src, target string }{
		{KindRsync, "/a", "h::m"}, {KindDirect, "/b", "/c"}, {KindRsyncSSH, "/d", "u@host:dir"},
	} {
		s := cfg.Syncs[i]
		if s.Kind != want.kind || s.Source != want.src || s.Target != want.target || *s.Delay != 5*time.Second ||
			s.Delete != "true" || !s.Init || s.Where() != "command line" {
			t.Errorf("sync %d = %+v, want %+v", i, s, want)
		}
	}
	if got := cfg.Syncs[2].SSH.Args(); strings.Join(got, " ") != "-p 2222" {
		t.Errorf("-sshopts: Args = %q", got)
	}
	// Default delays per kind without -delay.
	cfg, _, _, err = ParseArgs([]string{"-rsync", "/a", "/b", "-direct", "/c", "/d"})
	if err != nil || *cfg.Syncs[0].Delay != 15*time.Second || *cfg.Syncs[1].Delay != time.Second {
		t.Errorf("default delays: %v %v %v", err, *cfg.Syncs[0].Delay, *cfg.Syncs[1].Delay)
	}
	if _, _, handled, _ := ParseArgs([]string{"/src", "/dst"}); handled {
		t.Error("native argv handled as lsyncd's")
	}
}

func TestParseArgsConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.lua")
	os.WriteFile(p, []byte(`settings{ logfile = "/from/config", pidfile = "/cfg.pid" }
sync{ default.rsync, source = "/a", target = "/b", delay = 30 }
sync{ default.direct, source = "/c", target = "/d" }
`), 0o644)
	cl, file, handled, err := ParseArgs([]string{"-logfile", "/from/cli", "-delay", "2", p})
	if err != nil || !handled || file != p {
		t.Fatalf("ParseArgs = %v %q %v", err, file, handled)
	}
	cfg, err := LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Override(cl.Settings)
	if cfg.Settings.LogFile != "/from/cli" || cfg.Settings.PidFile != "/cfg.pid" {
		t.Errorf("settings = %+v", cfg.Settings)
	}
	// -delay overrides every sync, also an explicit delay (lsyncd: inheritSettings).
	for i, s := range cfg.Syncs {
		if *s.Delay != 2*time.Second {
			t.Errorf("sync %d delay = %v, want 2s", i, *s.Delay)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"-rsync", "/a"}, "needs 2 argument(s)"},
		{[]string{"-rsync", "/a", "/b", "c.lua"}, "cannot be command line syncs and a config file"},
		{[]string{"-nodaemon", "a.lua", "b.lua"}, "more than one config file"},
		{[]string{"-nodaemon"}, "nothing to do"},
		{[]string{"-delay", "soon", "-rsync", "/a", "/b"}, "want a number of seconds"},
		{[]string{"-rsync", "/a", "/b", "-bogus"}, "unknown option -bogus"},
		{[]string{"-runner", "r.lua", "c.lua"}, "not supported"},
		{[]string{"-rsyncssh", "/a", "", "dir"}, "needs host and targetdir"},
	} {
		_, _, handled, err := ParseArgs(tt.argv)
		if !handled || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseArgs(%q) = %v, handled %v; want error containing %q", tt.argv, err, handled, tt.want)
		}
	}
	cfg, _, _, err := ParseArgs([]string{"-version"})
	if err != nil || !cfg.Settings.Version {
		t.Errorf("-version: %v %+v", err, cfg)
	}
}
