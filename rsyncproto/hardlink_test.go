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

// TestHardLinksIncremental: -H with incremental recursion: the members
// of a group spread over directories (so over file lists: a member whose
// leader is in an earlier list carries its attributes in full), to C
// rsync 3.5.0 and 3.2.7 at protocols 30 to 32, one inode per group at
// the target, and a second push with a new member in a new directory.
func TestHardLinksIncremental(t *testing.T) {
	bins := map[string]string{"3.5": needRsync(t)}
	if b := os.Getenv("GSYNC_RSYNC_327"); b != "" {
		bins["3.2.7"] = b
	}
	src := t.TempDir()
	base := time.Unix(1704164645, 0)
	writeFile(t, filepath.Join(src, "a/one"), []byte("shared"), 0o644, base)
	for _, n := range []string{"b", "a/two", "z/deep/three", "m/four"} {
		testutil.Must(t, os.MkdirAll(filepath.Dir(filepath.Join(src, n)), 0o755))
		testutil.Must(t, os.Link(filepath.Join(src, "a/one"), filepath.Join(src, n)))
	}
	writeFile(t, filepath.Join(src, "z/x"), []byte("other group"), 0o600, base)
	testutil.Must(t, os.Link(filepath.Join(src, "z/x"), filepath.Join(src, "m/x2")))
	writeFile(t, filepath.Join(src, "solo"), []byte("solo"), 0o644, base)
	ageDirs(t, src)
	for name, bin := range bins {
		for _, p := range []int{32, 31, 30} {
			t.Run(fmt.Sprintf("%s/p%d", name, p), func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "dst")
				req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
					Options: Options{HardLinks: true, Owner: true, Group: true, MaxProtocol: p, IncRecurse: true}}
				res, err := pushSSHBin(t, bin, req, p)
				if err != nil || res.ExitCode != 0 || !res.IncRecurse {
					t.Fatalf("push: %v %+v", err, res)
				}
				ino := func(n string) uint64 {
					fi, err := os.Stat(filepath.Join(dst, n))
					if err != nil {
						t.Fatal(err)
					}
					return fi.Sys().(*syscall.Stat_t).Ino
				}
				for _, n := range []string{"b", "a/two", "z/deep/three", "m/four"} {
					if ino(n) != ino("a/one") {
						t.Errorf("%s is not linked to a/one", n)
					}
				}
				if ino("m/x2") != ino("z/x") || ino("z/x") == ino("a/one") || ino("solo") == ino("a/one") {
					t.Error("second group or solo file linked wrong")
				}
				compareTrees(t, src, dst, p >= 31, nil)
			})
		}
	}
}
