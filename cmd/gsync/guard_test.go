package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/transport"
)

// guardEnv is a mirror with one local target, built without the loop.
type guardEnv struct {
	src, dst string
	m        *mirror
	t        *targetRun
	log      *syncBuffer
}

// newGuardEnv returns a mirror of a fresh source to a fresh local
// target, with cfg's guards (source and targets filled in).
func newGuardEnv(t *testing.T, cfg *config) *guardEnv {
	t.Helper()
	base := t.TempDir()
	e := &guardEnv{src: filepath.Join(base, "src"), dst: filepath.Join(base, "dst"), log: &syncBuffer{}}
	mustMkdir(t, e.src)
	mustMkdir(t, e.dst)
	src, err := checkSource(e.src)
	if err != nil {
		t.Fatal(err)
	}
	e.src = src
	dev, err := deviceOf(src)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filter.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.source, cfg.targets = src, []string{e.dst}
	log := slog.New(slog.NewTextHandler(e.log, nil))
	e.m = &mirror{cfg: cfg, log: log, src: src, srcDev: dev, rules: rules}
	opts := transport.Options{Source: src, Delete: cfg.deleteMode, Exclude: rules.Excluded, Logger: log}
	tgt, dir, err := openTarget(cfg, e.dst, rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.t = &targetRun{tgt: tgt, log: log, paths: newPathBackoff(backoffMin, backoffMax)}
	if err := e.m.guardDeletes(e.t, cfg, e.dst, dir, opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.m.close)
	return e
}

// write creates the file rel (and its parents) below root.
func write(t *testing.T, root, rel string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	mustMkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(rel), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fill creates n files in the directory rel below root.
func fill(t *testing.T, root, rel string, n int) {
	t.Helper()
	for i := range n {
		write(t, root, fmt.Sprintf("%s/f%04d", rel, i))
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestMaxDeleteCountsEntriesBelowDeletedDir: rm -rf of a directory of
// 200 files is 201 deletions, more than --max-delete 100: the batch is
// pushed without its deletions. Before, it counted 1 and deleted all.
func TestMaxDeleteCountsEntriesBelowDeletedDir(t *testing.T) {
	e := newGuardEnv(t, &config{maxDelete: 100})
	fill(t, e.dst, "big", 200)
	write(t, e.src, "new")
	st, err := e.m.pushBatch(context.Background(), e.t, []transport.Change{
		{Kind: transport.Delete, Path: "big", IsDir: true, Recursive: true},
		{Kind: transport.Sync, Path: "new"},
	})
	if !isRefusal(err) || !strings.Contains(err.Error(), "--max-delete 100") {
		t.Fatalf("pushBatch = %+v, %v; want a --max-delete refusal", st, err)
	}
	if n, _ := os.ReadDir(filepath.Join(e.dst, "big")); len(n) != 200 {
		t.Errorf("target big/ holds %d files after the refused batch, want 200", len(n))
	}
	if !exists(filepath.Join(e.dst, "new")) {
		t.Error("the batch's transfer was held back too")
	}
	// 201 entries are within --max-delete 201.
	e.m.cfg.maxDelete = 201
	if _, err := e.m.pushBatch(context.Background(), e.t, []transport.Change{{Kind: transport.Delete, Path: "big", IsDir: true, Recursive: true}}); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(e.dst, "big")) {
		t.Error("a batch within --max-delete did not delete")
	}
}

// TestDeleteCounter counts what batches and full syncs delete.
func TestDeleteCounter(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	write(t, src, "keep/a")
	write(t, src, "d/x")
	write(t, src, "typechange") // a file at the source, a directory of 3 on the target
	write(t, dst, "keep/a")
	fill(t, dst, "gone", 5) // 6
	write(t, dst, "d/x")
	write(t, dst, "d/extra")      // 1, only in a recursive push of d
	fill(t, dst, "typechange", 2) // 3
	write(t, dst, "skip.tmp")     // excluded: never deleted
	c := &localDeletes{src: src, dst: dst, excluded: func(rel string, _ bool) bool { return strings.HasSuffix(rel, ".tmp") }}
	cases := []struct {
		name    string
		changes []transport.Change
		want    int
	}{
		{"deleted dir", []transport.Change{{Kind: transport.Delete, Path: "gone", IsDir: true}}, 6},
		{"existing path", []transport.Change{{Kind: transport.Delete, Path: "keep/a"}}, 0},
		{"missing on target", []transport.Change{{Kind: transport.Delete, Path: "never"}}, 0},
		{"plain dir sync", []transport.Change{{Kind: transport.Sync, Path: "d", IsDir: true}}, 0},
		{"recursive dir sync", []transport.Change{{Kind: transport.Sync, Path: "d", IsDir: true, Recursive: true}}, 1},
		{"type change", []transport.Change{{Kind: transport.Sync, Path: "typechange"}}, 3},
		{"root", []transport.Change{{Kind: transport.Sync, Path: ".", IsDir: true, Recursive: true}}, 10},
	}
	for _, tc := range cases {
		if n, err := c.batch(context.Background(), tc.changes, 1000); err != nil || n != tc.want {
			t.Errorf("%s: batch = %d, %v; want %d", tc.name, n, err, tc.want)
		}
	}
	if n, err := c.full(context.Background(), 1000); err != nil || n != 10 {
		t.Errorf("full = %d, %v; want 10", n, err)
	}
	if n, _ := c.full(context.Background(), 3); n > 5 {
		t.Errorf("full(limit 3) counted %d: counting does not stop past the limit", n)
	}
}

// TestBatchDeletesWithEmptySource: deletions the kernel reported one by
// one reach the target even when they empty the source (lsyncd: rm -rf
// src/* empties the mirror). Before, the empty-source guard held them
// back.
func TestBatchDeletesWithEmptySource(t *testing.T) {
	e := newGuardEnv(t, &config{})
	write(t, e.dst, "a")
	write(t, e.dst, "d/b")
	_, err := e.m.pushBatch(context.Background(), e.t, []transport.Change{
		{Kind: transport.Delete, Path: "a"},
		{Kind: transport.Delete, Path: "d", IsDir: true, Recursive: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(e.dst, "a")) || exists(filepath.Join(e.dst, "d")) {
		t.Errorf("deletions held back with an empty source; log:\n%s", e.log.String())
	}
}

// TestFullSyncGuards: a full sync of an empty source, or one that would
// delete more than --max-delete entries, is refused (the latter still
// transfers); a full sync is no longer silently "ok".
func TestFullSyncGuards(t *testing.T) {
	t.Run("empty source", func(t *testing.T) {
		e := newGuardEnv(t, &config{})
		write(t, e.dst, "a")
		if _, err := e.m.fullSync(context.Background(), e.t); !isRefusal(err) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("fullSync = %v, want an empty-source refusal", err)
		}
		if !exists(filepath.Join(e.dst, "a")) {
			t.Error("the target was wiped")
		}
	})
	t.Run("max-delete", func(t *testing.T) {
		e := newGuardEnv(t, &config{maxDelete: 3})
		write(t, e.src, "new")
		fill(t, e.dst, "old", 3) // 4 deletions
		if _, err := e.m.fullSync(context.Background(), e.t); !isRefusal(err) || !strings.Contains(err.Error(), "--max-delete 3") {
			t.Errorf("fullSync = %v, want a --max-delete refusal", err)
		}
		if !exists(filepath.Join(e.dst, "old", "f0000")) || !exists(filepath.Join(e.dst, "new")) {
			t.Error("want the old files kept and the new one sent")
		}
	})
}

// TestOnceRefusedExits1: gsync --once whose full sync a guard refused
// exits 1 with the reason on stderr (before: exit 0).
func TestOnceRefusedExits1(t *testing.T) {
	cases := map[string]func(src, dst string) []string{
		"empty source": func(src, dst string) []string {
			write(t, dst, "a")
			return []string{"--once", "--control-socket", "none", src, dst}
		},
		"max-delete": func(src, dst string) []string {
			write(t, src, "b")
			fill(t, dst, "old", 5)
			return []string{"--once", "--max-delete", "2", "--control-socket", "none", src, dst}
		},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
			mustMkdir(t, src)
			mustMkdir(t, dst)
			var out, errb bytes.Buffer
			if code := run(args(src, dst), &out, &errb); code != exitFailure {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFailure, errb.String())
			}
			if !strings.Contains(errb.String(), "gsync: sync ") {
				t.Errorf("no reason on stderr:\n%s", errb.String())
			}
		})
	}
}
