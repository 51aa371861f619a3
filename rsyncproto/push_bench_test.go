package rsyncproto

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkPushSmallFiles pushes 5,000 files of 1-16 KiB in 50
// directories to a fresh directory through a C rsync --server over
// pipes: the sender's cost per small file, with the file list whole or
// incremental. ns/op includes the receiver (run it with -cpuprofile to
// see the sender alone).
func BenchmarkPushSmallFiles(b *testing.B) {
	if !hasRsync() {
		b.Skip("rsync not installed")
	}
	src := b.TempDir()
	for i := range 5000 {
		p := filepath.Join(src, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%04d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, pseudoRandom(1024+(i*977)%(15*1024), uint32(i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, inc := range []bool{false, true} {
		b.Run(fmt.Sprintf("incremental=%v", inc), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dst := filepath.Join(b.TempDir(), "dst")
				b.StartTimer()
				req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
					Options: Options{Owner: true, Group: true, IncRecurse: inc}}
				res, err := pushSSHBin(b, needRsync(b), req, 0)
				if err != nil || res.ExitCode != 0 {
					b.Fatalf("push: %v %+v", err, res)
				}
			}
		})
	}
}
