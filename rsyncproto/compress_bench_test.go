package rsyncproto

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCompressedPush pushes an 8 MiB compressible text tree to
// rsync --server (a fresh target each time) with each codec and
// without compression. Besides the time per push it reports the
// sender's own CPU (this process, not the rsync receiver) and the bytes
// it wrote to the wire, per push.
func BenchmarkCompressedPush(b *testing.B) {
	bin, err := exec.LookPath("rsync")
	if err != nil {
		b.Skip("rsync binary not installed")
	}
	src, total := benchTextTree(b)
	for _, codec := range []string{"", CompressZstd, CompressLZ4, CompressZlibx, CompressZlib} {
		name := codec
		if name == "" {
			name = "none"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(total)
			var cpu time.Duration
			var wire int64
			n := 0
			for b.Loop() {
				dst := filepath.Join(b.TempDir(), "dst")
				req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
					Options: Options{Compress: codec}}
				before := selfCPU(b)
				res := benchPush(b, bin, req)
				cpu += selfCPU(b) - before
				wire += res.BytesWritten
				n++
			}
			b.ReportMetric(float64(cpu.Milliseconds())/float64(n), "sender-cpu-ms/op")
			b.ReportMetric(float64(wire)/float64(n), "wire-bytes/op")
		})
	}
}

// selfCPU is this process's user and system CPU time so far.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPush runs one push to rsync --server over pipes.
func benchPush(b *testing.B, bin string, req Request) *Result {
	cmd := exec.Command(bin, ServerArgs(req)...)
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := PushServer(ctx, &pipeConn{r: out, w: in}, req)
	in.Close()
	if werr := cmd.Wait(); err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		b.Fatal(err)
	}
	if res.ExitCode != 0 || len(res.Warnings) > 0 {
		b.Fatalf("exit %d warnings %v", res.ExitCode, res.Warnings)
	}
	return res
}

// benchTextTree is the tree BenchmarkCompressedPush sends and its size:
// the directory GSYNC_BENCH_TEXT names (bench/daemon.sh's 100 MB text
// tree, to profile the sender on the benchmark's data), else 8 MiB of
// generated text in 32 files.
func benchTextTree(b *testing.B) (string, int64) {
	b.Helper()
	var total int64
	if src := os.Getenv("GSYNC_BENCH_TEXT"); src != "" {
		err := filepath.WalkDir(src, func(_ string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			fi, err := d.Info()
			if err == nil {
				total += fi.Size()
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		return src, total
	}
	src := b.TempDir()
	for i := range 32 {
		p := filepath.Join(src, fmt.Sprintf("d%d", i%4), fmt.Sprintf("t%02d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		data := textWords(256<<10, uint32(i+1))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(data))
	}
	return src, total
}
