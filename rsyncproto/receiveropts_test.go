package rsyncproto

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestAppendInplaceInterop: with --append, --append-verify and --inplace
// the C receiver asks for other data than usual (no block sums with
// --append; its own file as the basis with --inplace), and gsync's
// sender must send what rsync's would (sender.c:receive_sums,
// match.c:match_sums and hash_search): the target ends as rsync -I with
// the same option leaves it, written in place, at every protocol.
func TestAppendInplaceInterop(t *testing.T) {
	bins := []string{needRsync(t)}
	if b := os.Getenv("GSYNC_RSYNC_327"); b != "" {
		bins = append(bins, b)
	}
	base := pseudoRandom(300_000, 7)
	// A block moved back, a changed run, a grown tail: an in-place
	// receiver would corrupt the file if the sender matched a block it
	// had already overwritten.
	moved := append(append(append([]byte{}, base[200_000:260_000]...), base[:200_000]...), base[260_000:]...)
	changed := append(append([]byte{}, moved...), []byte("tail")...)
	copy(changed[100_000:], "changed in the middle")
	mtime := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name     string
		o        Options
		src, dst []byte
		want     []byte
		literal  int64 // the literal bytes sent, -1: not checked
	}{
		{"append", Options{Append: 1}, []byte("hello world\n"), []byte("hello"), []byte("hello world\n"), 7},
		{"append-longer", Options{Append: 1}, []byte("hello"), []byte("hello world"), []byte("hello world"), 0},
		{"append-differs", Options{Append: 1}, []byte("hello world\n"), []byte("HELLO"), []byte("HELLO world\n"), 7},
		{"append-verify-differs", Options{Append: 2}, []byte("hello world\n"), []byte("HELLO"), []byte("hello world\n"), -1},
		{"append-verify", Options{Append: 2}, base, base[:123_457], base, int64(len(base) - 123_457)},
		{"inplace", Options{Inplace: true}, changed, base, changed, -1},
		{"inplace-backup", Options{Inplace: true, Backup: true, BackupSuffix: "~"}, changed, base, changed, -1},
	} {
		for i, bin := range bins {
			for _, proto := range []int{29, 30, 31, 32} {
				t.Run(fmt.Sprintf("%s/%s/p%d", tc.name, []string{"rsync", "rsync327"}[i], proto), func(t *testing.T) {
					src, dst := t.TempDir(), t.TempDir()
					writeFile(t, filepath.Join(src, "f"), tc.src, 0o644, mtime)
					writeFile(t, filepath.Join(dst, "f"), tc.dst, 0o644, mtime.Add(-time.Hour))
					before := inode(t, filepath.Join(dst, "f"))
					req := Request{Root: src, Dest: dst, Paths: []Path{{Name: "f"}}, Options: tc.o}
					req.Options.IgnoreTimes, req.Options.MaxProtocol = true, proto
					res, err := pushSSHBin(t, bin, req, proto)
					if err != nil {
						t.Fatal(err)
					}
					if len(res.Failed) > 0 {
						t.Fatalf("failed: %v", res.Failed)
					}
					got, err := os.ReadFile(filepath.Join(dst, "f"))
					if err != nil {
						t.Fatal(err)
					}
					want, literal := tc.want, tc.literal
					if tc.name == "append-differs" && proto < 30 {
						// compat.c: --append is --append-verify there.
						want, literal = tc.src, -1
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("target holds %d bytes (%.20q...), want %d (%.20q...)", len(got), got, len(want), want)
					}
					if literal >= 0 && res.LiteralBytes != literal {
						t.Errorf("sent %d literal bytes, want %d", res.LiteralBytes, literal)
					}
					if tc.o.Inplace && !tc.o.Backup {
						if after := inode(t, filepath.Join(dst, "f")); after != before {
							t.Errorf("the file was replaced (inode %d, was %d), not written in place", after, before)
						}
						if res.MatchedBytes == 0 {
							t.Errorf("nothing matched: the delta was not used")
						}
					}
					if tc.o.Backup {
						bak, err := os.ReadFile(filepath.Join(dst, "f~"))
						if err != nil || !bytes.Equal(bak, tc.dst) {
							t.Errorf("backup f~: %d bytes, %v; want the old file", len(bak), err)
						}
					}
				})
			}
		}
	}
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
