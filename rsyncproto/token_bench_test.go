package rsyncproto

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// benchFiles is the data of BenchmarkTokenCoder: the files of the
// directory GSYNC_BENCH_TEXT names (bench/daemon.sh's text tree, to
// compare with the zstd command line on the same bytes), else 16 files
// of 512 KiB of generated text.
func benchFiles(b *testing.B) [][]byte {
	b.Helper()
	dir := os.Getenv("GSYNC_BENCH_TEXT")
	if dir == "" {
		var files [][]byte
		for i := range 16 {
			files = append(files, textWords(512<<10, uint32(i+1)))
		}
		return files
	}
	var files [][]byte
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		files = append(files, data)
		return err
	})
	if err != nil || len(files) == 0 {
		b.Fatalf("GSYNC_BENCH_TEXT=%s: no files (%v)", dir, err)
	}
	return files
}

// BenchmarkTokenCoder is the codec alone as the sender drives it on an
// initial push: each file's data in 32 KiB literal tokens (chunkSize),
// then its end (a flush), the output framed and buffered as the session
// does and written to nowhere at flushAt. It measures the codec's cost
// per byte apart from reading, checksums and the wire. zstd-cli is C
// libzstd on the same bytes at rsync's default level (the zstd command,
// -3, one thread, its CPU time), the reference for gsync's zstd: rsync's
// sender runs the same library at that level (token.c:send_zstd_token).
// Run with -count to interleave them; cpu-ns/B is CPU time, which holds
// better than the wall time on a busy machine.
func BenchmarkTokenCoder(b *testing.B) {
	files := benchFiles(b)
	var total int64
	for _, f := range files {
		total += int64(len(f))
	}
	b.Run("zstd-cli", func(b *testing.B) {
		bin, err := exec.LookPath("zstd")
		if err != nil {
			b.Skip("the zstd command is not installed")
		}
		b.SetBytes(total)
		var cpu time.Duration
		var wire int64
		n := 0
		for b.Loop() {
			cmd := exec.Command(bin, "-3", "--single-thread", "-c")
			cmd.Stdin = io.MultiReader(readers(files)...)
			w := &countWriter{}
			cmd.Stdout = w
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			wire += w.n
			n++
		}
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(total)/float64(n), "cpu-ns/B")
		b.ReportMetric(float64(wire)/float64(n), "wire-bytes/op")
	})
	for _, codec := range []string{CompressZstd, CompressLZ4, CompressZlibx} {
		b.Run(codec, func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			var wire int64
			n := 0
			before := selfCPU(b)
			for b.Loop() {
				out := &muxWriter{w: io.Discard}
				level, _ := compressLevel(codec, 0, false)
				t, err := newTokenCoder(out, codec, level, 32, nil)
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range files {
					if err := t.begin("f.txt"); err != nil {
						b.Fatal(err)
					}
					for p := f; len(p) > 0; {
						k := min(len(p), chunkSize)
						if err := t.literal(p[:k]); err != nil {
							b.Fatal(err)
						}
						p = p[k:]
						wire += int64(len(out.buf))
						if err := out.maybeFlush(); err != nil {
							b.Fatal(err)
						}
						wire -= int64(len(out.buf))
					}
					if err := t.end(); err != nil {
						b.Fatal(err)
					}
				}
				wire += int64(len(out.buf))
				n++
			}
			b.ReportMetric(float64((selfCPU(b)-before).Nanoseconds())/float64(total)/float64(n), "cpu-ns/B")
			b.ReportMetric(float64(wire)/float64(n), "wire-bytes/op")
		})
	}
}

// readers reads each of files in turn.
func readers(files [][]byte) []io.Reader {
	var r []io.Reader
	for _, f := range files {
		r = append(r, bytes.NewReader(f))
	}
	return r
}

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
