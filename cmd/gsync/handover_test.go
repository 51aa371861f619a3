package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// TestReloadHandsOverQueuedChanges: changes queued when SIGHUP re-reads
// the config reach the target under the new config: with init = false
// (no startup full sync), and by default a same-size same-mtime rewrite
// (which the new startup full sync's quick check skips). Before, both
// were lost.
func TestReloadHandsOverQueuedChanges(t *testing.T) {
	for _, init := range []bool{false, true} {
		name := "init=false"
		if init {
			name = "init=true"
		}
		t.Run(name, func(t *testing.T) { testReloadHandover(t, init) })
	}
}

func testReloadHandover(t *testing.T, init bool) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	testutil.MustMkdir(t, src)
	testutil.MustMkdir(t, dst)
	stamp := time.Unix(1_600_000_000, 0)
	for _, root := range []string{src, dst} { // already in sync
		p := filepath.Join(root, "f")
		os.WriteFile(p, []byte("old!"), 0o644)
		os.Chtimes(p, stamp, stamp)
	}
	status := filepath.Join(dir, "status")
	conf := filepath.Join(dir, "c.lua")
	sync := func(delaySecs int) string {
		initOpt := ""
		if !init {
			initOpt = "init = false,"
		}
		return `settings{ statusFile = "` + status + `", statusInterval = 0 }
sync{ default.direct, source = "` + src + `", target = "` + dst + `", ` + initOpt + ` delay = ` + fmt.Sprint(delaySecs) + ` }
`
	}
	os.WriteFile(conf, []byte(sync(600)), 0o644)
	sigs := make(chan os.Signal, 1)
	done := make(chan int, 1)
	errb := &testutil.Buffer{}
	go func() {
		code, _ := runLsyncd([]string{conf}, &bytes.Buffer{}, errb, sigs)
		done <- code
	}()
	defer stopRun(t, sigs, done, syscall.SIGTERM, exitSIGTERM, errb.String)

	// The watch is in place once the status file counts it (without a
	// startup sync there is nothing else to wait for).
	testutil.Eventually(t, "the startup sync", func() bool {
		b, _ := os.ReadFile(status)
		watching := strings.Contains(string(b), "Inotify watching 1 directories")
		return watching && (strings.Contains(string(b), "Last push finished") || (!init && strings.Contains(string(b), "There are 0 delays")))
	})
	// A same-size same-mtime rewrite and a new file, queued for 600 s.
	p := filepath.Join(src, "f")
	os.WriteFile(p, []byte("new!"), 0o644)
	os.Chtimes(p, stamp, stamp)
	os.WriteFile(filepath.Join(src, "g"), []byte("g"), 0o644)
	testutil.Eventually(t, "both changes queued", func() bool {
		b, _ := os.ReadFile(status)
		return strings.Contains(string(b), "/f") && strings.Contains(string(b), "/g")
	})
	os.WriteFile(conf, []byte(sync(0)), 0o644)
	sigs <- syscall.SIGHUP
	testutil.Eventually(t, "the queued changes on the target", func() bool {
		f, _ := os.ReadFile(filepath.Join(dst, "f"))
		_, err := os.Stat(filepath.Join(dst, "g"))
		return string(f) == "new!" && err == nil
	})
}
