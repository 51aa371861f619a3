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

// benchFiles is the data of BenchmarkTokenCoder and BenchmarkZstdAgainstC: the files of the
// directory GSYNC_BENCH_TEXT names (a copy of bench/daemon.sh's text
// tree, or any real tree), else 16 files of 512 KiB of generated text.
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
// per byte apart from reading, checksums and the wire; cpu-ns/B is CPU
// time, which holds better than the wall time on a busy machine.
func BenchmarkTokenCoder(b *testing.B) {
	files := benchFiles(b)
	total := filesSize(files)
	for _, codec := range []string{CompressZstd, CompressLZ4, CompressZlibx} {
		b.Run(codec, func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			var wire int64
			n := 0
			before := selfCPU(b)
			for b.Loop() {
				wire += encodeFiles(b, codec, files)
				n++
			}
			b.ReportMetric(float64((selfCPU(b)-before).Nanoseconds())/float64(total)/float64(n), "cpu-ns/B")
			b.ReportMetric(float64(wire)/float64(n), "wire-bytes/op")
		})
	}
}

// BenchmarkZstdAgainstC compares gsync's zstd with C libzstd at rsync's
// default level on the same bytes: each iteration runs the zstd command
// (-3, one thread; rsync's sender runs the same library at that level,
// token.c:send_zstd_token) and then gsync's codec as BenchmarkTokenCoder
// drives it, so that both meet the same load. It reports the CPU time
// per byte of each, their ratio (gsync's over C's), and the bytes each
// put out.
func BenchmarkZstdAgainstC(b *testing.B) {
	bin, err := exec.LookPath("zstd")
	if err != nil {
		b.Skip("the zstd command is not installed")
	}
	files := benchFiles(b)
	total := filesSize(files)
	b.SetBytes(total)
	var cCPU, goCPU time.Duration
	var cWire, goWire int64
	n := 0
	for b.Loop() {
		cmd := exec.Command(bin, "-3", "--single-thread", "-c")
		cmd.Stdin = io.MultiReader(readers(files)...)
		w := &countWriter{}
		cmd.Stdout = w
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		cCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		cWire += w.n
		before := selfCPU(b)
		goWire += encodeFiles(b, CompressZstd, files)
		goCPU += selfCPU(b) - before
		n++
	}
	b.ReportMetric(float64(cCPU.Nanoseconds())/float64(total)/float64(n), "c-cpu-ns/B")
	b.ReportMetric(float64(goCPU.Nanoseconds())/float64(total)/float64(n), "gsync-cpu-ns/B")
	b.ReportMetric(float64(goCPU)/float64(cCPU), "cpu-ratio")
	b.ReportMetric(float64(cWire)/float64(n), "c-bytes/op")
	b.ReportMetric(float64(goWire)/float64(n), "gsync-bytes/op")
}

// encodeFiles sends files through a fresh tokenCoder for codec at its
// default level as an initial push does and returns the bytes it put
// out.
func encodeFiles(b *testing.B, codec string, files [][]byte) int64 {
	out := &muxWriter{w: io.Discard}
	level, _ := compressLevel(codec, 0, false)
	t, err := newTokenCoder(out, codec, level, 32, nil)
	if err != nil {
		b.Fatal(err)
	}
	var wire int64
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
			if len(out.buf) >= flushAt {
				wire += int64(len(out.buf))
				if err := out.flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := t.end(); err != nil {
			b.Fatal(err)
		}
	}
	return wire + int64(len(out.buf))
}

// filesSize is the sum of the files' sizes.
func filesSize(files [][]byte) int64 {
	var n int64
	for _, f := range files {
		n += int64(len(f))
	}
	return n
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
