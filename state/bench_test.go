package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// benchTree makes dirs directories of files files each, two levels deep.
func benchTree(b *testing.B, dirs, files int) string {
	b.Helper()
	root := b.TempDir()
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d/100), fmt.Sprintf("e%03d", d%100))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range files {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%04d.txt", f)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	return root
}

// BenchmarkCompare is a restart's local work on an unchanged tree of
// 2,000 directories and 20,000 files: the walk merged with the index.
func BenchmarkCompare(b *testing.B) {
	root := benchTree(b, 2000, 10)
	file := filepath.Join(b.TempDir(), "index")
	ctx := context.Background()
	s, err := Take(ctx, file, "k", root, nil, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Commit(file, nil); err != nil {
		b.Fatal(err)
	}
	cpu := cpuTime(b)
	for b.Loop() {
		d, err := Compare(ctx, file, "k", root, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(d.Changed)+len(d.Deleted) != 0 {
			b.Fatalf("an unchanged tree differs: %d changed, %d deleted", len(d.Changed), len(d.Deleted))
		}
	}
	cpu()
}

// BenchmarkTake is the walk that writes an index of the same tree.
func BenchmarkTake(b *testing.B) {
	root := benchTree(b, 2000, 10)
	file := filepath.Join(b.TempDir(), "index")
	ctx := context.Background()
	cpu := cpuTime(b)
	for b.Loop() {
		s, err := Take(ctx, file, "k", root, nil, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		s.Abort()
	}
	cpu()
}

// cpuTime starts counting the process's CPU time; the function it
// returns reports it per op ("cpu-ns/op", user and system): on a busy
// machine it says more than the wall time does.
func cpuTime(b *testing.B) func() {
	b.Helper()
	var r0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	return func() {
		var r1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		ns := func(r syscall.Rusage) int64 { return r.Utime.Nano() + r.Stime.Nano() }
		b.ReportMetric(float64(ns(r1)-ns(r0))/float64(b.N), "cpu-ns/op")
	}
}
