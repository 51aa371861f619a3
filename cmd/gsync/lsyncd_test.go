package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/rsyncopts"
	"github.com/gsync/gsync/transport"
)

func TestSyncConfig(t *testing.T) {
	cfg, err := lsyncdconf.Load("c.lua", `
sync{ default.rsyncssh, source = "/src", host = "u@h", targetdir = "/d", delete = "running",
      excludeFrom = "/ex", filter = { "- *.swp" }, init = false,
      rsync = { rsh = "ssh -l other", timeout = 5, compress = true, rsync_path = "sudo rsync",
                password_file = "/pw", dry_run = true },
      ssh = { port = 2222, identityFile = "/k", options = { StrictHostKeyChecking = "no" } } }
`)
	if err != nil {
		t.Fatal(err)
	}
	c, ignored, err := syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{Log: []string{"scarce"}, Insist: true}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if c.name != "Sync3" || c.source != "/src" || len(c.targets) != 1 || c.targets[0] != "u@h:/d" || c.deleteMode != transport.DeleteRunning ||
		c.delay != 15*time.Second || c.timeout != 5*time.Second || !c.noInit || !c.insist || !c.dryRun ||
		c.logLevel != "warn" || c.passwordFile != "/pw" || len(c.excludeFrom) != 1 || len(c.filters) != 1 {
		t.Errorf("config = %+v", c)
	}
	if !c.ssh.force || c.ssh.rsyncPath != "sudo rsync" ||
		c.ssh.rsh != "ssh -l other" || strings.Join(c.ssh.rshArgs, " ") != "-p 2222 -i /k -o StrictHostKeyChecking=no" {
		t.Errorf("ssh = %+v", c.ssh)
	}
	if len(ignored) > 0 {
		t.Errorf("ignored = %v, want none", ignored)
	}
	if c.compress.Codec() != "auto" {
		t.Errorf("compress = true: codec %q, want auto (-z)", c.compress.Codec())
	}
}

// TestSyncConfigCompress: lsyncd's compress key is -z, and _extra's
// compression options apply after it, as on rsync's command line that
// lsyncd builds; a bad value is an error naming it.
func TestSyncConfigCompress(t *testing.T) {
	for _, tc := range []struct {
		rsync string
		want  rsyncopts.Compress
		err   string
	}{
		{`compress = true`, rsyncopts.Compress{Z: 1}, ""},
		{`compress = false`, rsyncopts.Compress{}, ""},
		{`compress = true, _extra = { "--zc=zstd", "--zl", "5", "--skip-compress=gz/zip" }`,
			rsyncopts.Compress{Z: 1, Choice: "zstd", Level: 5, LevelSet: true, Skip: "gz/zip", SkipSet: true}, ""},
		{`compress = true, _extra = { "--no-compress" }`, rsyncopts.Compress{}, ""},
		{`_extra = { "-az" }`, rsyncopts.Compress{Z: 1}, ""},
		{`_extra = { "--zc=brotli" }`, rsyncopts.Compress{}, "--zc=brotli"},
	} {
		cfg, err := lsyncdconf.Load("c.lua", `sync{ default.rsync, source = "/src", target = "h::m", rsync = { `+tc.rsync+` } }`)
		if err != nil {
			t.Fatal(err)
		}
		c, ignored, err := syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{}, 1)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one naming %s", tc.rsync, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.rsync, err)
		}
		if c.compress != tc.want || len(ignored) > 0 {
			t.Errorf("%s: compress %+v ignored %v, want %+v", tc.rsync, c.compress, ignored, tc.want)
		}
	}
}

func TestLsyncdLogLevel(t *testing.T) {
	for want, logs := range map[string][]string{
		"info": nil, "warn": {"scarce"}, "debug": {"all"},
	} {
		if got := lsyncdLogLevel(logs); got != want {
			t.Errorf("lsyncdLogLevel(%v) = %s, want %s", logs, got, want)
		}
	}
	if got := lsyncdLogLevel([]string{"Exec"}); got != "debug" {
		t.Errorf("-log Exec = %s", got)
	}
}

func TestLsyncdOnePass(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.MkdirAll(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "d", "f"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(src, "skip.tmp"), []byte("x"), 0o644)
	pid, logf := filepath.Join(dir, "pid"), filepath.Join(dir, "log")
	conf := filepath.Join(dir, "c.lua")
	os.WriteFile(conf, []byte(`settings{ logfile = "`+logf+`" }
sync{ default.direct, source = "`+src+`", target = "`+dst+`", exclude = "*.tmp" }`), 0o644)
	var out, errb bytes.Buffer
	sigs := make(chan os.Signal)
	if code := runL([]string{"-onepass", "-pidfile", pid, conf}, &out, &errb, sigs); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dst, "d", "f")); err != nil {
		t.Errorf("file not copied: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "skip.tmp")); err == nil {
		t.Error("excluded file copied")
	}
	if _, err := os.Stat(pid); err == nil {
		t.Error("pidfile left behind")
	}
	if b, _ := os.ReadFile(logf); !strings.Contains(string(b), "full sync done") {
		t.Errorf("logfile lacks the sync: %q", b)
	}
}

func TestLsyncdErrorsAndVersion(t *testing.T) {
	var out, errb bytes.Buffer
	sigs := make(chan os.Signal)
	if code := runL([]string{"-version"}, &out, &errb, sigs); code != 0 || !strings.HasPrefix(out.String(), "Version: ") {
		t.Errorf("-version: exit %d, %q", code, out.String())
	}
	conf := filepath.Join(t.TempDir(), "c.lua")
	os.WriteFile(conf, []byte("sync{ default.rsync, source = '/', target = '/x',\n onCreate = 'cp ^source ^target' }"), 0o644)
	errb.Reset()
	if code := runL([]string{conf}, &out, &errb, sigs); code != exitLsyncdFatal || !strings.Contains(errb.String(), `onCreate is a layer-1 action, which default.rsync does not run`) {
		t.Errorf("layer 1 action on default.rsync: exit %d, %q", code, errb.String())
	}
}

func TestLsyncdSignalStopsAll(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for _, n := range []string{"a", "b"} {
		src := filepath.Join(dir, n)
		os.Mkdir(src, 0o755)
		args = append(args, "-direct", src, filepath.Join(dir, n+"-dst"))
	}
	sigs := make(chan os.Signal, 1)
	done := make(chan int)
	var errb bytes.Buffer
	go func() { done <- runL(args, &bytes.Buffer{}, &errb, sigs) }()
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range []string{"a", "b"} {
		for {
			if _, err := os.Stat(filepath.Join(dir, n+"-dst")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sync %s did not start", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stopRun(t, sigs, done, syscall.SIGINT, exitSIGINT, nil)
}

// runL runs an lsyncd command line as run does, with the given signals.
func runL(args []string, stdout, stderr *bytes.Buffer, sigs <-chan os.Signal) int {
	code, handled := runLsyncd(args, stdout, stderr, sigs)
	if !handled {
		return -1
	}
	return code
}

// TestLsyncdReloadFallsBack: a config re-read on SIGHUP that loads but
// cannot start (its source is missing) gives way to the config that ran
// before, which keeps mirroring.
func TestLsyncdReloadFallsBack(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "first"), []byte("1"), 0o644)
	conf := filepath.Join(dir, "lsyncd.conf.lua")
	write := func(source string) {
		text := fmt.Sprintf("settings { nodaemon = true }\nsync { default.direct, source = %q, target = %q, delay = 0 }\n", source, dst)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(src)
	sigs := make(chan os.Signal, 1)
	done := make(chan int)
	errb := &testutil.Buffer{}
	go func() { done <- runLsyncdTo([]string{conf}, errb, sigs) }()
	waitFile := func(name string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(dst, name)); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never arrived:\n%s", name, errb.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFile("first")
	write(filepath.Join(dir, "missing"))
	sigs <- syscall.SIGHUP
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errb.String(), "going back to the previous one") {
		if time.Now().After(deadline) {
			t.Fatalf("no fallback after the failed reload:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.WriteFile(filepath.Join(src, "second"), []byte("2"), 0o644)
	waitFile("second")
	stopRun(t, sigs, done, syscall.SIGTERM, exitSIGTERM, errb.String)
}

// runLsyncdTo runs an lsyncd command line with stderr going to w.
func runLsyncdTo(args []string, w io.Writer, sigs <-chan os.Signal) int {
	code, handled := runLsyncd(args, io.Discard, w, sigs)
	if !handled {
		return -1
	}
	return code
}

func TestGroupSyncsSharesWatcher(t *testing.T) {
	mk := func(name, src, tgt string, excl ...string) *config {
		return &config{name: name, targets: []string{tgt}, sourceOptions: sourceOptions{source: src, excludes: excl, delay: time.Second, maxDelays: 10}}
	}
	got := groupSyncs([]*config{mk("Sync1", "/a", "h::m"), mk("Sync2", "/b", "/x"), mk("Sync3", "/a/", "u@h:/d"), mk("Sync4", "/a", "/y", "*.o")})
	if len(got) != 3 {
		t.Fatalf("%d mirrors, want 3 (Sync1 and Sync3 share /a)", len(got))
	}
	g := got[0]
	if strings.Join(g.targets, " ") != "h::m u@h:/d" || strings.Join(g.targetNames, " ") != "Sync1 Sync3" ||
		len(g.targetCfgs) != 2 || g.targetCfgs[1].targets[0] != "u@h:/d" || g.name != "" {
		t.Errorf("group = targets %q names %q cfgs %d name %q", g.targets, g.targetNames, len(g.targetCfgs), g.name)
	}
	if got[1].name != "Sync2" || got[2].name != "Sync4" || got[2].targetCfgs != nil {
		t.Errorf("ungrouped syncs changed: %+v %+v", got[1], got[2])
	}
}

// TestLsyncdSameSourceTwoTargets runs two -direct syncs of one source:
// both targets get the changes, from one watcher.
func TestLsyncdSameSourceTwoTargets(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	sigs := make(chan os.Signal, 1)
	done := make(chan int)
	errb := &testutil.Buffer{}
	go func() { done <- runLsyncdTo([]string{"-delay", "0", "-direct", src, a, "-direct", src, b}, errb, sigs) }()
	deadline := time.Now().Add(20 * time.Second)
	for _, d := range []string{a, b} {
		for {
			if _, err := os.Stat(filepath.Join(d, "f")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not get f:\n%s", d, errb.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if n := strings.Count(errb.String(), "msg=watching"); n != 1 {
		t.Errorf("%d watchers for one source, want 1:\n%s", n, errb.String())
	}
	stopRun(t, sigs, done, syscall.SIGTERM, exitSIGTERM, errb.String)
}

// TestGroupSyncsComparesEverySourceOption: two syncs of one source that
// differ in any field of sourceOptions are not merged (a new field
// takes part without being listed anywhere).
func TestGroupSyncsComparesEverySourceOption(t *testing.T) {
	base := sourceOptions{source: "/a", delay: time.Second, maxDelays: 10}
	typ := reflect.TypeOf(base)
	for i := range typ.NumField() {
		o := base
		f := reflect.ValueOf(&o).Elem().Field(i)
		f = reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem() // unexported field
		switch f.Kind() {
		case reflect.String:
			f.SetString("/other")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(f.Int() + 1)
		case reflect.Uint8:
			f.SetUint(f.Uint() + 1)
		case reflect.Slice:
			// One element of the slice's type, its zero value.
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		default:
			t.Fatalf("field %s: kind %v not covered by this test", typ.Field(i).Name, f.Kind())
		}
		got := groupSyncs([]*config{{name: "S1", targets: []string{"/x"}, sourceOptions: base}, {name: "S2", targets: []string{"/y"}, sourceOptions: o}})
		if len(got) != 2 {
			t.Errorf("syncs differing in %s were merged", typ.Field(i).Name)
		}
	}
	same := base
	same.source, same.excludes = "/a/", []string{}
	if got := groupSyncs([]*config{{name: "S1", targets: []string{"/x"}, sourceOptions: base}, {name: "S2", targets: []string{"/y"}, sourceOptions: same}}); len(got) != 1 {
		t.Errorf("equal source options (/a and /a/, no excludes) not merged: %d mirrors", len(got))
	}
}

// TestSyncConfigMaxProcesses: a sync's maxProcesses is its target's
// --max-processes; settings{} maxProcesses overrides every sync's (as
// lsyncd's Syncs.add does), rsyncssh syncs included; unset is 1.
func TestSyncConfigMaxProcesses(t *testing.T) {
	cfg, err := lsyncdconf.Load("c.lua", `
sync{ default.rsync, source = "/src", target = "h::m", maxProcesses = 3 }
sync{ default.rsync, source = "/src2", target = "h::m2" }
sync{ default.rsyncssh, source = "/src3", host = "h", targetdir = "/d" }
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		settings int
		want     []int
	}{{0, []int{3, 1, 1}}, {5, []int{5, 5, 5}}} {
		for i := range cfg.Syncs {
			c, _, err := syncConfig(&cfg.Syncs[i], lsyncdconf.Settings{MaxProcesses: tt.settings}, i+1)
			if err != nil {
				t.Fatal(err)
			}
			if c.maxProcesses != tt.want[i] {
				t.Errorf("settings maxProcesses %d: sync %d: max processes %d, want %d", tt.settings, i+1, c.maxProcesses, tt.want[i])
			}
			if err := c.targetOptions.validate(); err != nil {
				t.Errorf("sync %d: %v", i+1, err)
			}
		}
	}
}
