package rsyncproto

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/testutil"
)

// longTree makes SRC with a chain of 200-byte directory names about 5,000
// bytes deep (past PATH_MAX, 4096) holding a file, next to ordinary files.
// It returns the leaf's relative name. The chain is made with relative
// mkdirs: absolute paths that long are refused by the kernel.
func longTree(t *testing.T, src string) string {
	t.Helper()
	writeFile(t, filepath.Join(src, "a"), []byte("a"), 0o644, time.Unix(1704164645, 0))
	writeFile(t, filepath.Join(src, "z/b"), []byte("b"), 0o644, time.Unix(1704164645, 0))
	comp := strings.Repeat("L", 200)
	wd, err := os.Getwd()
	testutil.Must(t, err)
	defer os.Chdir(wd)
	testutil.Must(t, os.Chdir(src))
	rel := ""
	for len(rel) < 5000 {
		testutil.Must(t, os.Mkdir(comp, 0o755))
		testutil.Must(t, os.Chdir(comp))
		rel += comp + "/"
	}
	testutil.Must(t, os.WriteFile("leaf", []byte("deep"), 0o644))
	return rel + "leaf"
}

// TestFileListPastPathMax: the walk lists paths whose absolute names pass
// PATH_MAX (it works relative to open directories), leaves out the first
// name of 4096 bytes or more (a receiver aborts on it) with one
// ErrNameTooLong, and sets no I/O error: the receiver's deletions go on.
// The old walk failed with ENAMETOOLONG and an I/O error that stopped
// every deletion of the session.
func TestFileListPastPathMax(t *testing.T) {
	// A long root, so that absolute names of listed entries pass PATH_MAX.
	src := filepath.Join(t.TempDir(), strings.Repeat("R", 250))
	testutil.Must(t, os.Mkdir(src, 0o755))
	leaf := longTree(t, src)
	fl, err := buildFileList(context.Background(), &Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}}, nil)
	testutil.Must(t, err)
	defer fl.close()
	longest := 0
	for _, e := range fl.list {
		longest = max(longest, len(e.name))
		if len(e.name) >= maxPathLen {
			t.Errorf("listed a %d-byte name", len(e.name))
		}
	}
	if longest < maxPathLen-250 || len(src)+longest < 4096 {
		t.Errorf("longest listed name %d bytes (root %d): the walk stopped short", longest, len(src))
	}
	if len(fl.failed) != 1 || !errors.Is(fl.failed[0].Err, ErrNameTooLong) || !strings.HasPrefix(leaf, fl.failed[0].Path) {
		t.Errorf("failed = %v, want one ErrNameTooLong on the chain", fl.failed)
	}
	if fl.ioError != 0 {
		t.Errorf("io_error %#x: it would stop the receiver's deletions", fl.ioError)
	}
	// A listed path beyond the limit is reported, not listed.
	fl2, err := buildFileList(context.Background(), &Request{Root: src, Paths: []Path{{Name: leaf}}}, nil)
	testutil.Must(t, err)
	defer fl2.close()
	if len(fl2.failed) != 1 || !errors.Is(fl2.failed[0].Err, ErrNameTooLong) || fl2.ioError != 0 {
		t.Errorf("listed leaf: failed %v io_error %#x", fl2.failed, fl2.ioError)
	}
}

// TestPushPastPathMax: a full push with --delete of a tree holding a path
// past PATH_MAX delivers the rest, deletes what the source lacks, and
// reports the long path once (exit 23).
func TestPushPastPathMax(t *testing.T) {
	src := t.TempDir()
	longTree(t, src)
	_, dir, push := gokrazyPeer().target(t)
	writeFile(t, filepath.Join(dir, "stray"), []byte("stray"), 0o644, time.Unix(1704164645, 0))
	res, err := push(Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "w/", Options: Options{Delete: true}})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "stray")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stray not deleted: %v (warnings %q)", err, res.Warnings)
	}
	for _, n := range []string{"a", "z/b"} {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s did not arrive: %v", n, err)
		}
	}
	tooLong := 0
	for _, f := range res.Failed {
		if errors.Is(f.Err, ErrNameTooLong) {
			tooLong++
		}
	}
	if tooLong != 1 || res.ExitCode != ExitPartial {
		t.Errorf("exit %d, failed %v: want the long path reported once, exit 23", res.ExitCode, res.Failed)
	}
}

// TestOneFileSystem: with OneFileSystem a directory on another device than
// the root is listed without contents, as a mount point (rsync -x), and a
// listed path below it is left alone. The device numbers are faked: the
// root is taken to be on another device than everything below it.
func TestOneFileSystem(t *testing.T) {
	src := t.TempDir()
	for _, n := range []string{"top", "mnt/inner", "mnt/sub/deep"} {
		writeFile(t, filepath.Join(src, n), []byte(n), 0o644, time.Unix(1704164645, 0))
	}
	for _, one := range []bool{false, true} {
		r, err := beneath.Open(src)
		testutil.Must(t, err)
		b := newListBuilder(context.Background(), r, &Options{OneFileSystem: one}, nil)
		testutil.Must(t, b.add("."))
		b.rootDev = b.byName["."].dev + 1
		testutil.Must(t, b.addPath(".", true))
		testutil.Must(t, b.addPath("mnt/sub/deep", false))
		b.finish()
		b.closeParents()
		r.Close()
		names := map[string]*entry{}
		for _, e := range b.fl.list {
			names[e.name] = e
		}
		if names["top"] == nil || names["mnt"] == nil {
			t.Fatalf("one=%v: top or mnt not listed: %v", one, names)
		}
		if got := names["mnt/inner"] != nil; got == one {
			t.Errorf("one=%v: mnt/inner listed %v", one, got)
		}
		if got := names["mnt/sub/deep"] != nil; got == one {
			t.Errorf("one=%v: listed path below the mount point listed %v", one, got)
		}
		if names["mnt"].noContent != one {
			t.Errorf("one=%v: mnt noContent %v", one, names["mnt"].noContent)
		}
	}
}
