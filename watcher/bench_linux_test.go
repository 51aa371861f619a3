package watcher

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// benchTree creates dirs directories below root, 100 per parent, two
// levels deep like a source tree (top/dNNN/sNN), with one file in each.
func benchTree(b *testing.B, root string, dirs int) {
	b.Helper()
	for i := range dirs {
		d := filepath.Join(root, fmt.Sprintf("top%03d", i/10_000), fmt.Sprintf("dir%03d", (i/100)%100), fmt.Sprintf("sub%02d", i%100))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWatchTree measures New on a tree of 20,000 directories (one op
// = watching the whole tree) and reports the setup time per 100,000
// directories and the heap the running watcher holds per watched directory
// (runtime.MemStats after a GC, channel buffers included).
func BenchmarkWatchTree(b *testing.B) {
	const dirs = 20_000
	root := b.TempDir()
	benchTree(b, root, dirs)
	var perDir float64
	var watches int
	b.ResetTimer()
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		w, err := New(context.Background(), Options{Root: root, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		watches = w.Watches()
		perDir = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(watches)
		w.Close()
		b.StartTimer()
	}
	if watches < dirs {
		b.Fatalf("Watches = %d, want >= %d", watches, dirs)
	}
	b.ReportMetric(perDir, "heap-bytes/dir")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*100_000/float64(watches), "s/100k-dirs")
}
