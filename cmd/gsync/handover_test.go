package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/delay"
)

func TestHandoverTake(t *testing.T) {
	h := newHandover()
	h.put("/s", false, []delay.Item{{Op: delay.Modify, Path: "a"}, {Op: delay.Modify, Path: "sub/b"}})
	h.put("/s", true, []delay.Item{{Op: delay.Move, From: "sub/x", Path: "y"}})
	h.put("/other/inner", true, []delay.Item{{Op: delay.Create, Path: "c"}})

	// A new root inside the old one takes what lies below it.
	full, items := h.take("/s/sub")
	want := []delay.Item{{Op: delay.Modify, Path: "b"}, {Op: delay.Delete, Path: "x", Recursive: true}}
	// The rest stays for the old root: the move's destination among it.
	if !full || !reflect.DeepEqual(items, want) {
		t.Errorf("take(/s/sub) = %t, %+v; want true, %+v", full, items, want)
	}
	// The same root takes the rest.
	full, items = h.take("/s")
	want = []delay.Item{{Op: delay.Modify, Path: "a"}, {Op: delay.Create, Path: "y"}}
	if full || !reflect.DeepEqual(items, want) {
		t.Errorf("take(/s) = %t, %+v; want false, %+v", full, items, want)
	}
	// A root above an old one: its full sync becomes a recursive sync.
	full, items = h.take("/other")
	want = []delay.Item{{Op: delay.Modify, Path: "inner", IsDir: true, Recursive: true}, {Op: delay.Create, Path: "inner/c"}}
	if full || !reflect.DeepEqual(items, want) {
		t.Errorf("take(/other) = %t, %+v; want false, %+v", full, items, want)
	}
	if full, items := h.take("/s"); full || len(items) != 0 {
		t.Errorf("taken twice: %t, %+v", full, items)
	}
	var none *handover
	none.put("/s", true, nil)
	if full, items := none.take("/s"); full || items != nil {
		t.Error("a nil handover carried something")
	}
}

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
	mustMkdir(t, src)
	mustMkdir(t, dst)
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
	errb := &syncBuffer{}
	go func() {
		code, _ := runLsyncd([]string{conf}, &bytes.Buffer{}, errb, sigs)
		done <- code
	}()
	defer stopRun(t, sigs, done, syscall.SIGTERM, exitSIGTERM, errb.String)

	eventually(t, "the startup sync", func() bool {
		b, _ := os.ReadFile(status)
		return strings.Contains(string(b), "Last push finished") || (!init && strings.Contains(string(b), "There are 0 delays"))
	})
	// A same-size same-mtime rewrite and a new file, queued for 600 s.
	p := filepath.Join(src, "f")
	os.WriteFile(p, []byte("new!"), 0o644)
	os.Chtimes(p, stamp, stamp)
	os.WriteFile(filepath.Join(src, "g"), []byte("g"), 0o644)
	eventually(t, "both changes queued", func() bool {
		b, _ := os.ReadFile(status)
		return strings.Contains(string(b), "/f") && strings.Contains(string(b), "/g")
	})
	os.WriteFile(conf, []byte(sync(0)), 0o644)
	sigs <- syscall.SIGHUP
	eventually(t, "the queued changes on the target", func() bool {
		f, _ := os.ReadFile(filepath.Join(dst, "f"))
		_, err := os.Stat(filepath.Join(dst, "g"))
		return string(f) == "new!" && err == nil
	})
}
