package rsyncproto

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchTree builds 20 directories of 250 small files each.
func benchTree(b *testing.B) string {
	b.Helper()
	root := b.TempDir()
	for d := 0; d < 20; d++ {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d), "sub")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < 250; f++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	return root
}

// BenchmarkBuildFileList lists a tree of 5,000 small files recursively.
func BenchmarkBuildFileList(b *testing.B) {
	root := benchTree(b)
	req := &Request{Root: root, Paths: []Path{{Name: ".", Recursive: true}}}
	b.ReportAllocs()
	for b.Loop() {
		fl, err := buildFileList(context.Background(), req, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(fl.list) != 5041 {
			b.Fatalf("listed %d entries", len(fl.list))
		}
		fl.close()
	}
}

// BenchmarkBuildFileListPaths lists 500 paths named one by one, as an
// event batch does.
func BenchmarkBuildFileListPaths(b *testing.B) {
	root := benchTree(b)
	req := &Request{Root: root}
	for i := 0; i < 500; i++ {
		req.Paths = append(req.Paths, Path{Name: fmt.Sprintf("d%02d/sub/f%03d", i%20, i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		fl, err := buildFileList(context.Background(), req, nil)
		if err != nil {
			b.Fatal(err)
		}
		fl.close()
	}
}
