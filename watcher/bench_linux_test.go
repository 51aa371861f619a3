package watcher

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// dropTreeEvents builds the tables of a watched tree "gone/dNNN/sNN" of
// n directories (plus as many kept ones beside it) and returns the
// events of its rm -rf: bottom up, each directory's IN_DELETE on its
// parent followed by its IN_IGNORED.
func dropTreeEvents(tb testing.TB, n int) (w *inotifyWatcher, buf []byte, kept int) {
	dirs := []string{"", "gone", "kept"}
	for i := range n - 1 {
		sub := fmt.Sprintf("d%03d/s%02d", i/100, i%100)
		if i%100 == 0 {
			dirs = append(dirs, "gone/"+sub[:4], "kept/"+sub[:4])
		}
		dirs = append(dirs, "gone/"+sub, "kept/"+sub)
	}
	w = tableWatcher(tb, dirs...)
	w.events = make(chan Event, 4*len(dirs))
	for i := len(dirs) - 1; i >= 1; i-- {
		d := dirs[i]
		if !inTree(d, "gone") {
			kept++
			continue
		}
		parent, name := "", d
		if j := strings.LastIndexByte(d, '/'); j >= 0 {
			parent, name = d[:j], d[j+1:]
		}
		buf = append(buf, rawEvent(wdAt(w, parent), unix.IN_DELETE|unix.IN_ISDIR, 0, name)...)
		buf = append(buf, rawEvent(wdAt(w, d), unix.IN_IGNORED, 0, "")...)
	}
	return w, buf, kept + 1
}

// BenchmarkDropTree measures the watcher's bookkeeping for an rm -rf of
// a watched subtree of 10k, 20k and 40k directories (no kernel: the
// events are fed to process directly). ns/dir stays flat when the drop is
// linear in the subtree's size.
func BenchmarkDropTree(b *testing.B) {
	for _, n := range []int{2_500, 5_000, 10_000, 20_000, 40_000} {
		b.Run(fmt.Sprintf("dirs=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				w, buf, kept := dropTreeEvents(b, n)
				b.StartTimer()
				w.process(buf, time.Now())
				b.StopTimer()
				if got := w.index.n; got != kept {
					b.Fatalf("%d watches left, want %d", got, kept)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/dir")
		})
	}
}
