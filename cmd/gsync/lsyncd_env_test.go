package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/treediff"
)

// TestLsyncdOverlappingTargets: the same sync{} written twice, and a
// third sync into a subdirectory of that target, all in -onepass: the
// pushes take turns (logged), nothing races, and the target equals the
// source. The same config run a second time over the result changes
// nothing and fails nothing. With settings{ maxProcesses = 1 } too.
func TestLsyncdOverlappingTargets(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for i := range 40 {
		d := filepath.Join(src, fmt.Sprintf("d%d", i%5), fmt.Sprintf("e%d", i%3))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), bytes.Repeat([]byte{byte(i)}, 1000*i), 0o644)
	}
	// settings{} maxProcesses = 1: one push at a time over all syncs;
	// a sync waiting for another's startup sync holds none meanwhile.
	for _, settings := range []string{"", "settings { maxProcesses = 1 }"} {
		dst := filepath.Join(dir, fmt.Sprintf("dst%d", len(settings)))
		conf := filepath.Join(dir, "c.lua")
		os.WriteFile(conf, []byte(fmt.Sprintf(`%[3]s
sync { default.direct, source = %[1]q, target = %[2]q, rsync = { perms = true } }
sync { default.direct, source = %[1]q, target = %[2]q, rsync = { perms = true } }
sync { default.direct, source = %[1]q .. "/d1", target = %[2]q .. "/d1", rsync = { perms = true } }
`, src, dst, settings)), 0o644)
		for round := range 2 {
			var out, errb bytes.Buffer
			if code := runL([]string{"-onepass", "-nodaemon", conf}, &out, &errb, make(chan os.Signal)); code != 0 {
				t.Fatalf("%q round %d: exit %d: %s", settings, round, code, errb.String())
			}
			log := errb.String()
			if !strings.Contains(log, "overlapping targets; their pushes take turns") || !strings.Contains(log, "Sync1") || !strings.Contains(log, "Sync3") {
				t.Errorf("%q round %d: log does not name the overlapping syncs:\n%s", settings, round, log)
			}
			if strings.Contains(log, "level=WARN") || strings.Contains(log, "level=ERROR") {
				t.Errorf("%q round %d: warnings or errors:\n%s", settings, round, log)
			}
			if diffs, err := treediff.Compare(src, dst, treediff.Options{}); err != nil || len(diffs) > 0 {
				t.Errorf("%q round %d: target differs: %v %v", settings, round, diffs, err)
			}
		}
	}
}

// TestDestinationOverlaps covers the overlap relation of targets.
func TestDestinationOverlaps(t *testing.T) {
	dir := t.TempDir()
	c := &config{}
	ssh := &config{}
	ssh.ssh.force = true
	tests := []struct {
		a, b *config
		x, y string
		want bool
	}{
		{c, c, dir + "/t", dir + "/t/", true},
		{c, c, dir + "/t", dir + "/t/sub", true},
		{c, c, dir + "/t", dir + "/tt", false},
		{c, c, "h::m/a", "h::m", true},
		{c, c, "h::m/a", "rsync://H/m/a/b", true},
		{c, c, "h::m/a", "h::n/a", false},
		{c, c, "h::m/a", "h::m/b", false},
		{ssh, ssh, "u@h:/d", "u@h:/d/e", true},
		{ssh, ssh, "u@h:d", "u@h:/d", false},
		{ssh, ssh, "u@h:/d", "v@h:/d", false},
	}
	for _, tt := range tests {
		a, ok1 := destinationOf(tt.a, tt.x)
		b, ok2 := destinationOf(tt.b, tt.y)
		if !ok1 || !ok2 {
			t.Errorf("destinationOf(%q, %q) failed", tt.x, tt.y)
			continue
		}
		if got := a.overlaps(b); got != tt.want {
			t.Errorf("%q overlaps %q = %v, want %v (%+v %+v)", tt.x, tt.y, got, tt.want, a, b)
		}
	}
}

// TestLsyncdInitFalseOnePass: with init = false, -onepass has nothing to
// do (lsyncd skips the startup sync): gsync exits 0 at once and the
// target stays untouched; a sync without it in the same config runs.
func TestLsyncdInitFalseOnePass(t *testing.T) {
	dir := t.TempDir()
	src, dst, dst2 := filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "dst2")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	conf := filepath.Join(dir, "c.lua")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
sync { default.direct, source = %q, target = %q, init = false }
sync { default.direct, source = %q, target = %q }
`, src, dst, src, dst2)), 0o644)
	var out, errb bytes.Buffer
	if code := runL([]string{"-onepass", conf}, &out, &errb, make(chan os.Signal)); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Errorf("init = false target was written: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst2, "f")); err != nil {
		t.Errorf("the other sync did not run: %v", err)
	}
	if !strings.Contains(errb.String(), "init = false: no startup sync") {
		t.Errorf("log lacks the init = false line:\n%s", errb.String())
	}
}

// TestLsyncdConfigEnvironment: log() calls while loading reach the log
// at their category's level, settings warnings name their keys, and
// terminate(code) ends gsync with that code before any sync runs.
func TestLsyncdConfigEnvironment(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	conf := filepath.Join(dir, "c.lua")
	os.WriteFile(conf, []byte(fmt.Sprintf(`
settings { maxProcesses = 4, inotifyMode = "Modify", logident = "mirror", nodaemon = "true" }
log("Normal", "config ", debug.getinfo(1).source:match("^@(.*)/"), " loaded")
log("Error", "an error line")
sync { default.direct, source = %q, target = %q }
`, src, dst)), 0o644)
	var out, errb bytes.Buffer
	if code := runL([]string{"-onepass", conf}, &out, &errb, make(chan os.Signal)); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	log := errb.String()
	for _, key := range []string{"inotifyMode", "maxProcesses"} {
		if strings.Contains(log, key) {
			t.Errorf("%s takes effect now (one sync), but the log names it:\n%s", key, log)
		}
	}
	for _, want := range []string{
		`level=INFO msg="config ` + dir + ` loaded" category=Normal`,
		`level=ERROR msg="an error line" category=Error`,
		`logfacility and logident have no effect with nodaemon`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	os.WriteFile(conf, []byte(`log("Normal", "bye") terminate(3)`), 0o644)
	errb.Reset()
	if code := runL([]string{conf}, &out, &errb, make(chan os.Signal)); code != 3 {
		t.Errorf("terminate(3): exit %d, want 3: %s", code, errb.String())
	}
	os.WriteFile(conf, []byte(`terminate(0)`), 0o644)
	if code := runL([]string{conf}, &out, &errb, make(chan os.Signal)); code != 0 {
		t.Errorf("terminate(0): exit %d, want 0: %s", code, errb.String())
	}
	os.WriteFile(conf, []byte(`terminate(-1)`), 0o644)
	if code := runL([]string{conf}, &out, &errb, make(chan os.Signal)); code != 255 {
		t.Errorf("terminate(-1): exit %d, want 255 (lsyncd's exit(-1)): %s", code, errb.String())
	}
}
