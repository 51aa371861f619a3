package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/ops/opstest"
)

// TestStatusFileTwoSyncs runs two syncs from a Lua config with a status
// file and reads it the way monitoring would.
func TestStatusFileTwoSyncs(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	adst, bdst := filepath.Join(dir, "a-dst"), filepath.Join(dir, "b-dst")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	status := filepath.Join(dir, "status")
	conf := filepath.Join(dir, "c.lua")
	os.WriteFile(conf, []byte(`settings{ statusFile = "`+status+`", statusInterval = 0 }
sync{ default.direct, source = "`+a+`", target = "`+adst+`", delay = 600,
      exclude = { "*.tmp", "/cache/" } }
sync{ default.direct, source = "`+b+`", target = "`+bdst+`", delay = 0,
      filter = { "- *.bak", "+ /**" } }`), 0o644)

	sigs := make(chan os.Signal, 1)
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() { done <- runL([]string{conf}, &bytes.Buffer{}, &errb, sigs) }()
	stopped := false
	defer func() {
		if !stopped {
			sigs <- syscall.SIGTERM
			<-done
		}
	}()

	// waitFor polls the status file until ok accepts it.
	waitFor := func(what string, ok func(opstest.Status) bool) opstest.Status {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		var last opstest.Status
		var raw []byte
		for time.Now().Before(deadline) {
			if raw, _ = os.ReadFile(status); raw != nil {
				st, err := opstest.ParseStatus(raw)
				if err != nil {
					t.Fatal(err)
				}
				if ok(st) {
					return st
				}
				last = st
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("status file never showed %s; last:\n%s\nparsed %+v\nlog:\n%s", what, raw, last, errb.String())
		return last
	}

	// Both startup syncs done.
	waitFor("both startup syncs", func(st opstest.Status) bool {
		return len(st.Syncs) == 2 && st.Syncs[0].Pushed && st.Syncs[1].Pushed
	})
	// Sync1 holds its event for 600 s; Sync2 pushes a new directory at once.
	os.WriteFile(filepath.Join(a, "new"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(b, "sub"), 0o755)
	st := waitFor("one waiting event and three watches", func(st opstest.Status) bool {
		return len(st.Syncs) == 2 && st.Syncs[0].Delays == 1 && st.Syncs[1].Delays == 0 && st.Watches == 3
	})
	want := opstest.Status{
		Syncs: []opstest.Sync{
			{Name: "Sync1", Source: a + "/", Target: adst, Delays: 1, Lines: []string{"wait   Create /new"},
				Excludes: []string{"*.tmp", "/cache/"}, Pushed: true},
			{Name: "Sync2", Source: b + "/", Target: bdst, Filters: []string{"- *.bak", "+ /**"}, Pushed: true},
		},
		Watches: 3,
	}
	if diff := cmp.Diff(want, st); diff != "" {
		raw, _ := os.ReadFile(status)
		t.Errorf("status (-want +got):\n%s\nfile:\n%s", diff, raw)
	}
	fi, err := os.Stat(status)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("status file mode %v, want 0644", fi.Mode().Perm())
	}
	stopped = true
	stopRun(t, sigs, done, syscall.SIGTERM, exitSIGTERM, errb.String)
	// Checked once gsync is gone: while it runs, a rewrite may be under way.
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".status.*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	if strings.Contains(errb.String(), "status file not written") {
		t.Errorf("status write failed: %s", errb.String())
	}
}

// TestLsyncdHUPReloadsConfig: SIGHUP re-reads the config file; a broken
// config is logged and the running one is kept.
func TestLsyncdHUPReloadsConfig(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	os.WriteFile(filepath.Join(b, "f"), []byte("x"), 0o644)
	conf := filepath.Join(dir, "c.lua")
	syncA := `sync{ default.direct, source = "` + a + `", target = "` + a + `-dst", delay = 0 }` + "\n"
	syncB := `sync{ default.direct, source = "` + b + `", target = "` + b + `-dst", delay = 0 }` + "\n"
	os.WriteFile(conf, []byte(syncA), 0o644)

	sigs := make(chan os.Signal, 1)
	done := make(chan int, 1)
	errb := &testutil.Buffer{}
	go func() {
		code, _ := runLsyncd([]string{conf}, &bytes.Buffer{}, errb, sigs)
		done <- code
	}()
	stopped := false
	defer func() {
		if !stopped {
			sigs <- syscall.SIGTERM
			<-done
		}
	}()
	waitFile := func(p string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(p); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s never appeared; log:\n%s", p, errb.String())
	}
	waitFile(a + "-dst")

	// A broken config is refused; sync a keeps running.
	os.WriteFile(conf, []byte(syncA+"sync{ default.direct, source = 1 }\n"), 0o644)
	sigs <- syscall.SIGHUP
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(errb.String(), "config not re-read") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload error logged:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.WriteFile(filepath.Join(a, "after-bad-hup"), []byte("x"), 0o644)
	waitFile(filepath.Join(a+"-dst", "after-bad-hup"))

	// A good config with a second sync is picked up.
	os.WriteFile(conf, []byte(syncA+syncB), 0o644)
	sigs <- syscall.SIGHUP
	waitFile(filepath.Join(b+"-dst", "f"))
	os.WriteFile(filepath.Join(a, "after-hup"), []byte("x"), 0o644)
	waitFile(filepath.Join(a+"-dst", "after-hup"))

	stopped = true
	stopRun(t, sigs, done, syscall.SIGTERM, exitSIGTERM, errb.String)
}

// stopRun sends sig to a running run and checks that it returns want
// within 30 s; output, if not nil, is shown on a wrong exit code.
func stopRun(t *testing.T, sigs chan<- os.Signal, done <-chan int, sig os.Signal, want int, output func() string) {
	t.Helper()
	sigs <- sig
	select {
	case code := <-done:
		if code != want {
			msg := ""
			if output != nil {
				msg = output()
			}
			t.Errorf("exit %d, want %d: %s", code, want, msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("gsync did not stop after %v", sig)
	}
}
