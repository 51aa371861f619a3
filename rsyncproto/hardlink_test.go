package rsyncproto

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

func TestHardLinks(t *testing.T) {
	needRsync(t)
	src := t.TempDir()
	base := time.Unix(1704164645, 0)
	writeFile(t, filepath.Join(src, "a/one"), []byte("shared"), 0o644, base)
	testutil.Must(t, os.Link(filepath.Join(src, "a/one"), filepath.Join(src, "b")))
	testutil.Must(t, os.Link(filepath.Join(src, "a/one"), filepath.Join(src, "c")))
	writeFile(t, filepath.Join(src, "solo"), []byte("solo"), 0o644, base)
	for _, p := range []int{32, 31, 30, 29} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst, Options: Options{HardLinks: true, MaxProtocol: p}}
			res, err := pushSSH(t, req, p)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("push: %v %+v", err, res)
			}
			ino := func(n string) uint64 {
				fi, err := os.Stat(filepath.Join(dst, n))
				if err != nil {
					t.Fatal(err)
				}
				return fi.Sys().(*syscall.Stat_t).Ino
			}
			if ino("a/one") != ino("b") || ino("b") != ino("c") || ino("solo") == ino("b") {
				t.Error("hard links not preserved")
			}
		})
	}
}
