package lsyncdconf

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/filter"
)

func load(t *testing.T, name string) *Config {
	t.Helper()
	cfg, err := LoadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", name, err)
	}
	return cfg
}

func TestLoadSeveral(t *testing.T) {
	cfg := load(t, "several.lua")
	st := cfg.Settings
	if st.LogFile != "/var/log/lsyncd/lsyncd.log" || st.StatusFile != "/var/log/lsyncd/lsyncd.status" ||
		st.StatusInterval != 20*time.Second || !st.NoDaemon || !st.Insist || st.MaxProcesses != 1 {
		t.Errorf("settings = %+v", st)
	}
	if len(cfg.Syncs) != 3 {
		t.Fatalf("got %d syncs, want 3", len(cfg.Syncs))
	}
	www, data, home := cfg.Syncs[0], cfg.Syncs[1], cfg.Syncs[2]
	if www.Kind != KindRsync || www.Source != "/srv/www" || www.Target != "backup.example.com::www" ||
		*www.Delay != 5*time.Second || www.Delete != "true" || !www.Init || www.MaxDelays != 1000 || www.Line != 11 {
		t.Errorf("sync 1 = %+v", www)
	}
	if diff := cmp.Diff([]string{"*.tmp", "/cache/", ".git"}, www.Exclude); diff != "" {
		t.Errorf("exclude (-want +got):\n%s", diff)
	}
	if www.Rsync.Str["password_file"] != "/etc/lsyncd/rsync.secret" || !www.Rsync.On("compress") {
		t.Errorf("rsync = %+v", www.Rsync)
	}
	if data.Kind != KindDirect || *data.Delay != time.Second || data.Delete != "false" || data.Line != 25 {
		t.Errorf("sync 2 = %+v", data)
	}
	if home.Init || home.Rsync.Str["rsh"] != "/usr/bin/ssh -p 2222 -o StrictHostKeyChecking=yes" ||
		home.Rsync.Str["timeout"] != "30" || *home.Delay != 15*time.Second {
		t.Errorf("sync 3 = %+v", home)
	}
	if diff := cmp.Diff([]string{"- /*/.cache/", "+ /*/", "- *.swp"}, home.Filter); diff != "" {
		t.Errorf("filter (-want +got):\n%s", diff)
	}
}

func TestLoadRsyncSSH(t *testing.T) {
	s := load(t, "rsyncssh.lua").Syncs[0]
	if s.Kind != KindRsyncSSH || s.Host != "deploy@web1.example.com" || s.TargetDir != "/var/www" ||
		s.Target != "deploy@web1.example.com:/var/www" || s.Delete != "running" ||
		s.ExcludeFrom != "/etc/lsyncd/exclude.list" || *s.Delay != 2*time.Second {
		t.Errorf("sync = %+v", s)
	}
	want := SSHOpts{IdentityFile: "/etc/lsyncd/id_ed25519", Port: 2222, Options: [][2]string{
		{"StrictHostKeyChecking", "yes"}, {"UserKnownHostsFile", "/etc/lsyncd/known_hosts"}}}
	if diff := cmp.Diff(want, s.SSH); diff != "" {
		t.Errorf("ssh (-want +got):\n%s", diff)
	}
	if got, want := strings.Join(s.SSH.Args(), " "), "-p 2222 -i /etc/lsyncd/id_ed25519 -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/etc/lsyncd/known_hosts"; got != want {
		t.Errorf("Args = %q, want %q", got, want)
	}
	if s.Rsync.Binary != "/usr/local/bin/rsync" || s.Rsync.On("compress") || !s.Rsync.On("owner") {
		t.Errorf("rsync = %+v", s.Rsync)
	}
}

func TestLoadLoopAndPrototypes(t *testing.T) {
	cfg := load(t, "loop.lua")
	if len(cfg.Syncs) != 4 {
		t.Fatalf("got %d syncs, want 4", len(cfg.Syncs))
	}
	for i, host := range []string{"web1", "web2", "web3"} {
		s := cfg.Syncs[i]
		if s.Target != host+"::site" || *s.Delay != time.Duration(i+1)*time.Second || len(s.Exclude) != 2 || s.Line != 6 {
			t.Errorf("sync %d = %+v", i, s)
		}
	}
	p := cfg.Syncs[3]
	if p.Kind != KindRsync || *p.Delay != 0 || !p.Rsync.On("checksum") || !p.Rsync.On("perms") || !p.Rsync.On("links") {
		t.Errorf("prototype sync = %+v", p)
	}
}

func TestLoadDocsExamples(t *testing.T) {
	s := load(t, "lrsync.lua").Syncs[0]
	if s.Kind != KindRsync || s.Source != "src" || s.Target != "/path/to/trg/" {
		t.Errorf("lrsync = %+v", s)
	}
	cfg := load(t, "lrsyncssh.lua")
	if s := cfg.Syncs[0]; s.Target != "localhost:dst/" || cfg.Settings.StatusInterval != time.Second {
		t.Errorf("lrsyncssh = %+v %+v", s, cfg.Settings)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown key", "sync{default.rsync, source='/a', target='/b',\n soruce='x'}", `c.lua:1: sync{}: unknown key "soruce"`},
		{"unknown setting", "settings{delay=3}\nsync{default.rsync, source='/a', target='/b'}", `c.lua:1: settings{}: setting "delay" unknown`},
		{"settings replaced", "\nsettings = function() end\nsync{default.rsync, source='/a', target='/b'}", `c.lua:2: the config replaced the settings function`},
		{"settings table bad key", "\nsettings = { delay = 3 }\nsync{default.rsync, source='/a', target='/b'}", `c.lua:2: settings{}: setting "delay" unknown`},
		{"onCreate", "x = 1\nsync{default.rsync, source='/a', target='/b', onCreate = function(e) end}", `c.lua:2: sync{}: onCreate is a layer-1 action, which default.rsync does not run`},
		{"layer 1 string on rsync", "sync{default.rsync, source='/a', target='/b', onModify = 'cp ^source ^target'}", `onModify is a layer-1 action, which default.rsync does not run`},
		{"action", "sync{default.rsync, source='/a', target='/b', action = function(inlet) end}", `"action" on default.rsync: gsync runs action and collect functions in a sync without default.rsync`},
		{"prepare", "sync{source='/a', action = function(inlet) end, prepare = function() end}", `"prepare" is an lsyncd hook into its runner`},
		{"collect not a function", "sync{source='/a', action = function(inlet) end, collect = 3}", `collect must be a function`},
		{"no actions", "sync{source='/a', target='/b'}", `no actions specified`},
		{"only onMove true", "sync{source='/a', target='/b', onMove = true}", `no actions specified`},
		{"target without target", "sync{source='/a', onCreate = 'cp ^sourcePath ^targetPath'}", `onCreate uses ^target..., but the sync has no target`},
		{"destination outside onMove", "sync{source='/a', onCreate = 'echo ^d.pathname'}", `onCreate: ^d.pathname names the destination of a move`},
		{"rsync in actions", "sync{source='/a', onCreate = 'true', rsync = {archive = true}}", `a sync with layer-1 actions (onCreate = "...") runs no rsync`},
		{"delete in actions", "sync{source='/a', onCreate = 'true', delete = false}", `delete belongs to default.rsync`},
		{"action not a string", "sync{source='/a', onCreate = 3}", `onCreate must be a string`},
		{"bad exitcodes", "sync{source='/a', onCreate = 'true', exitcodes = { [1] = 'retry' }}", `exitcodes[1] = "retry": want 'ok', 'again' or 'die'`},
		{"exitcodes on rsync", "sync{default.rsync, source='/a', target='/b', exitcodes = { [1] = 'ok' }}", `exitcodes belongs to a sync with layer-1 actions`},
		{"crontab in actions", "sync{source='/a', onCreate = 'true', crontab = { '@daily' }}", `crontab repeats the full sync of default.rsync`},
		{"bad crontab", "sync{default.rsync, source='/a', target='/b', crontab = {'* * * * *', 'every day'}}", `crontab: parse crontab rule 2 "every day"`},
		{"spawn", "\n\nspawn(nil, '/bin/true')", `c.lua:3: spawn() is not available under gsync: it runs a program from an lsyncd layer-2/3 action`},
		{"spawnShell", "spawnShell(nil, 'true')", `spawnShell() is not available under gsync`},
		{"alarm", "alarm(now() + 5, function() end)", `alarm() is not available under gsync`},
		{"observefd", "observefd(0)", `observefd() is not available under gsync`},
		{"os.execute", "os.execute('touch /tmp/pwned')", `c.lua:1: os.execute() is not available under gsync: a config must not run programs`},
		{"os.remove", "os.remove('/tmp/x')", `os.remove() is not available`},
		{"os.exit", "os.exit(0)", `os.exit() is not available under gsync: use terminate(code)`},
		{"io.popen", "io.popen('id')", `io.popen() is not available under gsync: a config must not run programs`},
		{"io.open write", "io.open('/tmp/x', 'w')", `io.open("/tmp/x", "w"): a config may only read files`},
		{"io.output", "io.output('/tmp/x')", `io.output() is not available`},
		{"io.lines stdin", "for l in io.lines() do end", `io.lines() without a file name`},
		{"require", "require('socket')", `c.lua:1: require() is not available under gsync: gsync configs do not load Lua modules`},
		{"dofile", "dofile('/etc/lsyncd/common.lua')", `dofile() is not available under gsync`},
		{"loadfile", "loadfile('/etc/lsyncd/common.lua')", `loadfile() is not available under gsync`},
		{"package", "package.path = '/tmp/?.lua'", `attempt to index a non-table object`},
		{"terminate", "terminate(3)", `the config called terminate(3)`},
		{"lsyncd internal", "local q = Queue.new()", `c.lua:1: Queue is not available under gsync`},
		{"undefined global is nil", "assert(nosuchthing == nil and lsyncd == nil)\nfoo()", `c.lua:2: attempt to call a non-function object`},
		{"unknown rsync", "sync{default.rsync, source='/a', target='/b', rsync={delete=true}}", `rsync.delete: unknown rsync option`},
		{"target for rsyncssh", "sync{default.rsyncssh, source='/a', target='/b', host='h', targetdir='/d'}", `takes host and targetdir, not target`},
		{"missing targetdir", "sync{default.rsyncssh, source='/a', host='h'}", `needs host and targetdir`},
		{"ssh for rsync", "sync{default.rsync, source='/a', target='/b', ssh={port=22}}", `ssh = {...} belongs to default.rsyncssh`},
		{"bad delete", "sync{default.rsync, source='/a', target='/b', delete='yes'}", `delete = "yes"`},
		{"negative delay", "sync{default.rsync, source='/a', target='/b', delay=-1}", `delay must be a number >= 0`},
		{"no source", "sync{default.rsync, target='/b'}", `source is missing`},
		{"no sync", "settings{nodaemon=true}", `no sync{} block`},
		{"syntax", "sync{default.rsync source='/a'}", `parse config c.lua`},
		{"bad filter", "sync{default.rsync, source='/a', target='/b', filter={'x'}}", `want "+ pattern" or "- pattern"`},
		{"name", "sync{default.rsync, source='/a', target='/b', name='web'}", `unknown key "name"`},
		{"rsyncssh maxProcesses", "sync{default.rsyncssh, source='/a', host='h', targetdir='/d', maxProcesses=2}", `must have maxProcesses set to 1`},
		{"endless loop", "while true do end", `endless loop`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadText("c.lua", tt.src, time.Second)
			if err == nil {
				t.Fatalf("Load accepted %q", tt.src)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadSandboxKeepsSafeLibs(t *testing.T) {
	src := `
local home = os.getenv("HOME") or "/root"
local parts = {}
for w in string.gmatch("a,b", "[^,]+") do table.insert(parts, w) end
sync{ default.direct, source = "/src/" .. table.concat(parts, "-"), target = "/t/" .. math.floor(2.5),
      maxDelays = 10 }
settings{ maxDelays = 7 }
`
	cfg, err := Load("c.lua", src)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Syncs[0]
	if s.Source != "/src/a-b" || s.Target != "/t/2" || s.MaxDelays != 7 {
		t.Errorf("sync = %+v (settings.maxDelays must override every sync)", s)
	}
}

// TestRsyncOpts: rsync={...} after lsyncd's defaults and archive
// expansion, as gsync reads it (SetKeys, Str, Extra).
func TestRsyncOpts(t *testing.T) {
	type got struct {
		Keys  []string
		Str   map[string]string
		Extra []string
	}
	tests := []struct {
		name, rsync string
		want        got
	}{
		{"defaults", "{}", got{Keys: []string{"links", "protect_args", "times"}, Str: map[string]string{}}},
		// lsyncd 2.2.3 (default-rsync.lua: rsync.prepare, archive
		// expanded) runs rsync -lpstozgD --omit-dir-times for these.
		{"archive", "{archive=true, compress=true, _extra={'--omit-dir-times'}}", got{
			Keys: []string{"_extra", "archive", "compress", "devices", "group", "links", "owner", "perms", "protect_args", "specials", "times"},
			Str:  map[string]string{}, Extra: []string{"--omit-dir-times"}}},
		{"archive keeps explicit false", "{archive=true, perms=false, owner=false}", got{
			Keys: []string{"archive", "devices", "group", "links", "protect_args", "specials", "times"}, Str: map[string]string{}}},
		{"devices alone", "{devices=true, links=false, times=false, protect_args=false}", got{Keys: []string{"devices"}, Str: map[string]string{}}},
		{"long", "{password_file='/p', timeout=30, bwlimit=100, rsh='ssh -p 2', existing=true}", got{
			Keys: []string{"bwlimit", "existing", "links", "password_file", "protect_args", "rsh", "timeout", "times"},
			Str:  map[string]string{"password_file": "/p", "timeout": "30", "bwlimit": "100", "rsh": "ssh -p 2"}}},
		{"hard links", "{hard_links=true, checksum=true}", got{Keys: []string{"checksum", "hard_links", "links", "protect_args", "times"}, Str: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("c.lua", "sync{default.rsync, source='/a', target='/b', rsync="+tt.rsync+"}")
			if err != nil {
				t.Fatal(err)
			}
			o := cfg.Syncs[0].Rsync
			if diff := cmp.Diff(tt.want, got{Keys: o.SetKeys(), Str: o.Str, Extra: o.Extra}); diff != "" {
				t.Errorf("rsync options (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLsyncdExcludeTests ports the expected results of lsyncd's
// tests/exclude-rsync.lua and tests/filter-rsync.lua: which of the files
// the test writes end up on the target.
func TestLsyncdExcludeTests(t *testing.T) {
	type entry struct {
		path    string
		isDir   bool
		present bool
	}
	tests := []struct {
		config string
		files  []entry
	}{
		{"exclude-rsync.lua", []entry{
			{"erf", false, false}, {"eaf", false, false}, {"erd", false, true}, {"ead", false, true},
			{"d", true, true}, {"d/erf", false, false}, {"d/eaf", false, true}, {"d/erd", false, true}, {"d/ead", false, true},
			// The same names as directories (not in lsyncd's test): erd/ and
			// /ead/ now match.
			{"x/erd", true, false}, {"ead", true, false}, {"x/ead", true, true}, {"x/erf", true, false},
		}},
		{"filter-rsync.lua", []entry{
			{"abc", false, false}, {"acc", false, true}, {"baa", false, false},
			{"abx", true, false}, {"abx/a", false, false}, {"acx", true, true}, {"acx/x", false, true},
		}},
	}
	for _, tt := range tests {
		s := load(t, tt.config).Syncs[0]
		// As the engine builds its rules: filters first, then excludes.
		set, err := filter.New(s.Exclude, s.Filter)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tt.files {
			if got := !set.Excluded(e.path, e.isDir); got != e.present {
				t.Errorf("%s: %s (dir=%v) present = %v, want %v", tt.config, e.path, e.isDir, got, e.present)
			}
		}
	}
}

func TestReadFilterFile(t *testing.T) {
	fi := filepath.Join(t.TempDir(), "fi")
	os.WriteFile(fi, []byte("# comment\n\n+ keep.o\r\n- /secret\n  # indented comment\n"), 0o644)
	rules, err := ReadFilterFile(fi)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"+ keep.o", "- /secret"}, rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	set, err := filter.New([]string{"*.o"}, rules)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{"a.o": true, "keep.o": false, "secret": true, "x/secret": false} {
		if got := set.Excluded(path, false); got != want {
			t.Errorf("Excluded(%s) = %v, want %v", path, got, want)
		}
	}
	if _, err := ReadFilterFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing filterFrom accepted")
	}
	os.WriteFile(fi, []byte("keep\n"), 0o644)
	if _, err := ReadFilterFile(fi); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("bad filterFrom line: err = %v", err)
	}
}

// TestLoadEnvironment runs a config that uses what lsyncd 2.2.3 gives a
// config: log() while loading, debug.getinfo(1).source to find its own
// directory, lsyncd_version, string.starts/ends, readdir, now, os.date,
// settings("key"), settings as a call with a listed name, and settings
// booleans given as any truthy value.
func TestLoadEnvironment(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"site-a", "site-b"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts.txt"), []byte("h1\nh2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "lsyncd.conf.lua")
	src := `
local here = debug.getinfo(1).source:match("^@(.*/)")
local where = debug.getinfo(1, "S").short_src
log("Normal", "loading ", where, " on lsyncd ", lsyncd_version, " ", nil, " ", true)
assert(type(now()) == "number" and os.date("%Y") ~= nil and os.time() > 0)
settings { "insist", nodaemon = "true", statusInterval = 3 }
assert(settings("statusInterval") == 3 and settings("insist") == true)
local hosts = {}
for line in io.lines(here .. "hosts.txt") do table.insert(hosts, line) end
local f = assert(io.open(here .. "hosts.txt"))
local all = f:read("*a")
f:close()
assert(all == "h1\nh2\n")
for name, isdir in pairs(readdir(here)) do
	if isdir and string.starts(name, "site-") and not string.ends(name, ".bak") then
		sync { default.direct, source = here .. name, target = "/mnt/" .. name .. "-" .. hosts[1] }
	end
end
`
	if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, s := range cfg.Syncs {
		targets = append(targets, s.Target)
	}
	sort.Strings(targets)
	if want := []string{"/mnt/site-a-h1", "/mnt/site-b-h1"}; !slices.Equal(targets, want) {
		t.Errorf("targets = %q, want %q", targets, want)
	}
	if !cfg.Settings.NoDaemon || !cfg.Settings.Insist || cfg.Settings.StatusInterval != 3*time.Second {
		t.Errorf("settings = %+v", cfg.Settings)
	}
	want := Message{Category: "Normal", Text: "loading " + conf + " on lsyncd 2.2.3 (nil) (true)"}
	if len(cfg.Messages) != 1 || cfg.Messages[0] != want {
		t.Errorf("messages = %q, want %q", cfg.Messages, want)
	}
}

// TestLoadSettingsStyles: settings = {...} (lsyncd 2.0 style) is read
// with a warning; a boolean given as the string "false" is true, as in
// lsyncd, with a warning.
func TestLoadSettingsStyles(t *testing.T) {
	cfg, err := Load("c.lua", "settings = { logfile = '/x', nodaemon = 'false' }\nsync{default.rsync, source='/a', target='/b'}")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Settings.LogFile != "/x" || !cfg.Settings.NoDaemon {
		t.Errorf("settings = %+v", cfg.Settings)
	}
	w := strings.Join(cfg.Warnings, "\n")
	for _, s := range []string{`c.lua:1: settings = {...} is lsyncd 2.0 style`, `nodaemon = "false" is true`} {
		if !strings.Contains(w, s) {
			t.Errorf("warnings %q lack %q", w, s)
		}
	}
}

// TestLoadTruthyAndPrototypeKeys: rsync's boolean keys and init take Lua's
// truth, as lsyncd's "if crsync[k]" does; keys set on default.rsync apply
// to the syncs built on it, default.rsyncssh's included (it inherits
// default.rsync), the sync's own keys winning.
func TestLoadTruthyAndPrototypeKeys(t *testing.T) {
	cfg, err := Load("c.lua", `
default.rsync.delay = 3
default.rsync.exclude = { "*.tmp" }
default.rsyncssh.maxDelays = 7
sync { default.rsync, source = "/a", target = "/b", init = "no", rsync = { compress = "yes", perms = 0, owner = false } }
sync { default.rsync, source = "/a", target = "/c", delay = 1 }
sync { default.rsyncssh, source = "/a", host = "h", targetdir = "/d" }
`)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Syncs[0]
	if !s.Init || !s.Rsync.On("compress") || !s.Rsync.On("perms") || s.Rsync.On("owner") {
		t.Errorf("truthy keys: init %v, rsync %v", s.Init, s.Rsync.Bool)
	}
	if *s.Delay != 3*time.Second || len(s.Exclude) != 1 || s.Exclude[0] != "*.tmp" {
		t.Errorf("prototype keys not applied: delay %v, exclude %q", *s.Delay, s.Exclude)
	}
	if d := *cfg.Syncs[1].Delay; d != time.Second {
		t.Errorf("own delay = %v, want 1s", d)
	}
	if ssh := cfg.Syncs[2]; *ssh.Delay != 3*time.Second || ssh.MaxDelays != 7 {
		t.Errorf("rsyncssh: delay %v maxDelays %d, want default.rsync's 3s and 7", *ssh.Delay, ssh.MaxDelays)
	}
}
