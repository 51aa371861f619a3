package ops

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/filter"
)

func TestProgressLine(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a"), make([]byte, 3000), 0o644)
	os.WriteFile(filepath.Join(src, "b.tmp"), make([]byte, 5000), 0o644) // excluded
	os.Mkdir(filepath.Join(src, "d"), 0o755)
	os.WriteFile(filepath.Join(src, "d", "c"), make([]byte, 1000), 0o644)
	rules, err := filter.New([]string{"*.tmp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	p, stop := startProgress(context.Background(), &buf, src, rules)
	p.add("a", 3000)
	for i := 0; p.totalFiles.Load() < 0; i++ { // let the scan finish
		if i > 500 {
			t.Fatal("source scan did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	last := strings.TrimSuffix(buf.String(), "\x1b[K\n")
	last = last[strings.LastIndexByte(last, '\r')+1:]
	if !strings.HasPrefix(last, "1/2 files, 2.9 KiB/3.9 KiB, ") {
		t.Errorf("progress line %q, want 1 of 2 files and 3000 of 4000 bytes", last)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
