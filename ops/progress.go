package ops

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/gsync/gsync/filter"
)

// progress is the --once progress line on a terminal: files and bytes
// sent so far, of the totals a scan of the source found, the rate and an
// estimate of the time left. Files a target already has are not sent, so
// the totals are an upper bound and the estimate a pessimistic one.
type progress struct {
	out   io.Writer
	start time.Time
	files atomic.Int64
	bytes atomic.Int64
	// totals, from a scan running beside the sync; -1 until it finished
	totalFiles atomic.Int64
	totalBytes atomic.Int64
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// StartProgress starts the --once progress line on out for the source
// src with its rules: add counts one file sent (safe from several pushes
// at once); stop prints the final line and ends the scan and the printer.
func StartProgress(ctx context.Context, out io.Writer, src string, rules *filter.Set) (add func(string, int64), stop func()) {
	p, stop := startProgress(ctx, out, src, rules)
	return p.add, stop
}

// startProgress starts the scan and the line printer; stop prints the
// final line and ends both.
func startProgress(ctx context.Context, out io.Writer, src string, rules *filter.Set) (p *progress, stop func()) {
	p = &progress{out: out, start: time.Now()}
	p.totalFiles.Store(-1)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.scan(ctx, src, rules)
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				fmt.Fprintf(p.out, "\r%s\x1b[K", p.line(time.Now()))
			}
		}
	}()
	return p, func() {
		cancel()
		wg.Wait()
		fmt.Fprintf(p.out, "\r%s\x1b[K\n", p.line(time.Now()))
	}
}

// add counts one file sent; safe from several pushes at once.
func (p *progress) add(_ string, size int64) {
	p.files.Add(1)
	p.bytes.Add(size)
}

// scan totals the regular files of the source that are not excluded.
func (p *progress) scan(ctx context.Context, src string, rules *filter.Set) {
	var files, bytes int64
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil || path == src {
			return nil // unreadable parts are reported by the sync itself
		}
		rel, _ := filepath.Rel(src, path)
		if rules.Excluded(filepath.ToSlash(rel), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				files++
				bytes += fi.Size()
			}
		}
		return nil
	})
	if err == nil {
		p.totalBytes.Store(bytes)
		p.totalFiles.Store(files)
	}
}

// line renders the progress line at now.
func (p *progress) line(now time.Time) string {
	files, bytes := p.files.Load(), p.bytes.Load()
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(bytes) / el
	}
	s := fmt.Sprintf("%d files, %s", files, humanBytes(bytes))
	tf, tb := p.totalFiles.Load(), p.totalBytes.Load()
	if tf >= 0 {
		s = fmt.Sprintf("%d/%d files, %s/%s", files, tf, humanBytes(bytes), humanBytes(tb))
	}
	s += fmt.Sprintf(", %s/s", humanBytes(int64(rate)))
	if tf >= 0 && rate > 0 && tb > bytes {
		eta := time.Duration(float64(tb-bytes) / rate * float64(time.Second))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	return s
}

// humanBytes prints n with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
