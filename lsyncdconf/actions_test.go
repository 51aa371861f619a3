package lsyncdconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTranslateAction checks the translation of layer-1 strings against
// what lsyncd 2.2.3's functionWriter makes of them (worked out by hand
// from lsyncd.lua's translateShell, translateBinary and splitStr).
func TestTranslateAction(t *testing.T) {
	file := Event{Path: "/dir/a b.txt", Source: "/src/", Target: "/dst/"}
	dir := Event{Path: "/dir/sub/", Source: "/src/", Target: "host:/dst/"}
	moved := Event{Path: "/new/x;y", Source: "/src/", Target: "/dst/"}
	tests := []struct {
		name, key, text string
		ev, ev2         Event
		want            []string
	}{
		{"shell vars are positional", "onCreate", "cp -r ^sourcePath ^targetPathdir", file, Event{},
			[]string{"/bin/sh", "-c", `cp -r "$1" "$2"`, "/bin/sh", "/src//dir/a b.txt", "/dst//dir/"}},
		{"a repeated variable is one parameter", "onModify", "echo ^pathname ^pathname >> /log", file, Event{},
			[]string{"/bin/sh", "-c", `echo "$1" "$1" >> /log`, "/bin/sh", "dir/a b.txt"}},
		{"directory fields", "onCreate", "x ^path ^pathname ^pathdir ^sourcePathname ^targetPath ^targetPathname", dir, Event{},
			[]string{"/bin/sh", "-c", `x "$3" "$1" "$2" "$4" "$6" "$5"`, "/bin/sh",
				"dir/sub", "dir/", "dir/sub/", "/src//dir/sub", "host:/dst//dir/sub", "host:/dst//dir/sub/"}},
		{"move origin and destination", "onMove", "mv ^o.targetPath ^d.targetPath", file, moved,
			[]string{"/bin/sh", "-c", `mv "$1" "$2"`, "/bin/sh", "/dst//dir/a b.txt", "/dst//new/x;y"}},
		{"leading caret forces the shell", "onStartup", "^/bin/chgrp -R staff ^source || /bin/true", Event{Source: "/src/"}, Event{},
			[]string{"/bin/sh", "-c", `/bin/chgrp -R staff "$1" || /bin/true`, "/bin/sh", "/src/"}},
		{"caret caret keeps one caret", "onCreate", "chmod g+x ^^sourcePathname", file, Event{},
			[]string{"/bin/sh", "-c", `chmod g+x ^"$1"`, "/bin/sh", "/src//dir/a b.txt"}},
		{"program: words at spaces", "onMove", "/bin/echo move ^o.pathname -> ^d.pathname", file, moved,
			[]string{"/bin/echo", "move", "dir/a b.txt", "->", "new/x;y"}},
		{"program: quotes stay in the word", "onCreate", `/bin/echo "a b" x\ty pre^pathname.post`, file, Event{},
			[]string{"/bin/echo", `"a b"`, "x\ty", "predir/a b.txt.post"}},
		{"program: the last occurrence goes first", "onCreate", "/bin/echo ^pathname-^pathname", file, Event{},
			// The first ^pathname is left for ^path, which takes "^path"
			// of it: lsyncd's own result.
			[]string{"/bin/echo", "dir/a b.txtname-dir/a b.txt"}},
		{"program: pathdir of a top-level file", "onCreate", "/bin/echo [^pathdir] [^sourcePathdir]", Event{Path: "/top", Source: "/s/"}, Event{},
			// lsyncd's paths start with "/": sourcePathdir is "/s/" + "/".
			[]string{"/bin/echo", "[]", "[/s//]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := translateAction(tt.key, tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, a.Argv("/bin/sh", tt.ev, tt.ev2)); d != "" {
				t.Errorf("Argv (-want +got):\n%s", d)
			}
		})
	}
}

// TestLoadActions reads a layer-1 config: its actions, the default delay
// of 0 (default.lua has none), onMove = true, and crontab.
func TestLoadActions(t *testing.T) {
	cfg, err := Load("a.lua", `
bash = { delay = 2, onCreate = [[cp -r ^sourcePath ^targetPathdir]], onMove = true }
sync{ bash, source = "/s", target = "/t/" }
sync{ source = "/s", onDelete = "/bin/echo ^pathname" }
`)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Syncs[0]
	if s.Kind != KindActions || *s.Delay != 2e9 || s.Actions[EtypeCreate].Script != `cp -r "$1" "$2"` ||
		!s.Actions[EtypeMove].None || s.Actions[EtypeDelete] != nil || !s.Actions.NeedsShell() {
		t.Errorf("sync 1 = %+v", s)
	}
	s = cfg.Syncs[1]
	if *s.Delay != 0 || s.Actions.NeedsShell() || s.Target != "" {
		t.Errorf("sync 2 = %+v", s)
	}
}

// TestLoadCrontab reads lsyncd 2.3's crontab key: six fields with
// seconds first, or five.
func TestLoadCrontab(t *testing.T) {
	cfg, err := Load("c.lua", `sync{ default.rsync, source = "/s", target = "h::m", crontab = { "1 0 3 * * *", "*/5 * * * *" } }`)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"1 0 3 * * *", "*/5 * * * *"}, cfg.Syncs[0].Crontab); d != "" {
		t.Errorf("crontab: %s", d)
	}
}

// TestLoadLsyncdActionExamples loads lsyncd's own layer-1 examples, as
// the lsyncd package installs them, unchanged.
func TestLoadLsyncdActionExamples(t *testing.T) {
	dir := "/usr/share/doc/lsyncd/examples"
	for _, name := range []string{"lecho.lua", "lbash.lua", "lgforce.lua"} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err != nil {
				t.Skipf("lsyncd's examples are not installed: %v", err)
			}
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			text := string(src)
			if name == "lbash.lua" {
				// lsyncd 2.2.3 refuses lbash.lua as installed, as gsync
				// does: it sets "statusIntervall".
				if _, err := Load(p, text); err == nil || !strings.Contains(err.Error(), `lbash.lua:7: settings{}: setting "statusIntervall" unknown`) {
					t.Errorf("lbash.lua as installed: err = %v", err)
				}
				text = strings.Replace(text, "statusIntervall", "statusInterval", 1)
			}
			cfg, err := Load(p, text)
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.Syncs[0]
			if s.Kind != KindActions || len(s.Actions) < 5 {
				t.Fatalf("sync = %+v", s)
			}
			switch name {
			case "lecho.lua":
				got := s.Actions[EtypeMove].Argv("/bin/sh", Event{Path: "/a", Source: "/s/"}, Event{Path: "/b/", Source: "/s/"})
				if d := cmp.Diff([]string{"/bin/echo", "move", "a", "->", "b"}, got); d != "" {
					t.Error(d)
				}
			case "lbash.lua":
				if got := s.Actions[EtypeMove].Script; got != `mv "$1" "$2"` {
					t.Errorf("onMove script %q", got)
				}
			case "lgforce.lua":
				if !s.Actions[EtypeMove].None || s.Actions[EtypeStartup] == nil || !s.Actions[EtypeStartup].Shell {
					t.Errorf("actions = %+v", s.Actions)
				}
			}
		})
	}
}
