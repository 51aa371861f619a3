//go:build unix

package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gsync/gsync/rsyncopts"
)

// TestLocalPartial: the data of an interrupted copy is kept (in the
// --partial-dir next to the file, or in place of the target file with
// --partial alone), nothing is kept when no data was copied or without
// either option, and the next finished copy of the file removes the
// partial file and its emptied partial dir (receiver.c, cleanup.c).
func TestLocalPartial(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		rv   rsyncopts.Receiver
		n    int64
		want string // where the partial data lands, "" nowhere
	}{
		{"partial-dir", rsyncopts.Receiver{PartialDir: ".part"}, 3, "d/.part/f"},
		{"partial-dir-absolute", rsyncopts.Receiver{PartialDir: "{abs}"}, 3, "{abs}/f"},
		{"delay-updates", rsyncopts.Receiver{DelayUpdates: true}, 3, "d/.~tmp~/f"},
		{"partial", rsyncopts.Receiver{Partial: true}, 3, "d/f"},
		{"no-data", rsyncopts.Receiver{PartialDir: ".part"}, 0, ""},
		{"none", rsyncopts.Receiver{}, 3, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src, dst, abs := t.TempDir(), t.TempDir(), t.TempDir()
			expand := func(s string) string {
				if after, ok := bytes.CutPrefix([]byte(s), []byte("{abs}")); ok {
					return abs + string(after)
				}
				return filepath.Join(dst, s)
			}
			if c.rv.PartialDir == "{abs}" {
				c.rv.PartialDir = abs
			}
			must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
			must(t, os.WriteFile(filepath.Join(src, "d", "f"), []byte("the whole file\n"), 0o644))
			must(t, os.MkdirAll(filepath.Join(dst, "d"), 0o755))
			must(t, os.WriteFile(filepath.Join(dst, "d", "f"), []byte("old\n"), 0o644))
			l, err := NewLocal(dst, Options{Source: src, Delete: DeleteAlways, Receiver: c.rv})
			must(t, err)
			r, err := l.newRun(context.Background(), true, true)
			must(t, err)
			tmp := filepath.Join(dst, "d", tmpPrefix+"x")
			must(t, os.WriteFile(tmp, []byte("the"), 0o600))
			r.keepPartial("d/f", tmp, c.n)
			r.close()
			if c.want == "" {
				if b, _ := os.ReadFile(filepath.Join(dst, "d", "f")); string(b) != "old\n" {
					t.Errorf("d/f = %q: replaced by a partial file", b)
				}
				return
			}
			if b, err := os.ReadFile(expand(c.want)); err != nil || string(b) != "the" {
				t.Fatalf("partial file %s = %q, %v; want the copied data", c.want, b, err)
			}
			if _, err := l.FullSync(context.Background()); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(dst, "d", "f")); string(b) != "the whole file\n" {
				t.Errorf("d/f = %q after the next sync", b)
			}
			if c.want != "d/f" {
				if _, err := os.Lstat(filepath.Dir(expand(c.want))); c.want[0] == 'd' && err == nil {
					t.Errorf("the partial dir %s is left after the finished copy", filepath.Dir(c.want))
				}
				if _, err := os.Lstat(expand(c.want)); err == nil {
					t.Errorf("the partial file %s is left after the finished copy", c.want)
				}
				if _, err := os.Lstat(abs); err != nil {
					t.Errorf("the absolute partial dir is gone: %v", err)
				}
			}
		})
	}
}

// TestCtxReader: a copy through ctxReader stops at the first read after
// its context is done, with what it copied so far.
func TestCtxReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	in := ctxReader{ctx, io.MultiReader(bytes.NewReader([]byte("first")), cancelReader{cancel}, bytes.NewReader([]byte("second")))}
	var out bytes.Buffer
	n, err := io.Copy(&out, in)
	if !errors.Is(err, context.Canceled) || n != 5 || out.String() != "first" {
		t.Errorf("copy = %d %q, %v; want 5 \"first\", context.Canceled", n, out.String(), err)
	}
}

// cancelReader cancels its context when read, and reads nothing.
type cancelReader struct{ cancel context.CancelFunc }

func (c cancelReader) Read([]byte) (int, error) { c.cancel(); return 0, nil }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLocalPruneEmptyDirs: with -m a live push of a directory without a
// file creates nothing, its first file brings it, and a full sync with
// deletes removes a target directory whose source has no file below it
// (with what it holds), as rsync -a --delete -m does.
func TestLocalPruneEmptyDirs(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	l, err := NewLocal(dst, Options{Source: src, Delete: DeleteAlways, Receiver: rsyncopts.Receiver{PruneEmptyDirs: true}})
	must(t, err)
	ctx := context.Background()
	must(t, os.MkdirAll(filepath.Join(src, "e", "sub"), 0o755))
	if _, err := l.Push(ctx, []Change{{Path: "e", IsDir: true, Recursive: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "e")); err == nil {
		t.Errorf("e was created without a file below it")
	}
	must(t, os.WriteFile(filepath.Join(src, "e", "sub", "f"), []byte("f"), 0o644))
	if _, err := l.Push(ctx, []Change{{Path: "e/sub/f"}}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "e", "sub", "f")); err != nil || string(b) != "f" {
		t.Errorf("e/sub/f = %q, %v after its push", b, err)
	}
	must(t, os.MkdirAll(filepath.Join(dst, "gone", "x"), 0o755))
	must(t, os.WriteFile(filepath.Join(dst, "gone", "x", "old"), nil, 0o644))
	must(t, os.MkdirAll(filepath.Join(src, "gone", "x"), 0o755))
	if _, err := l.FullSync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "gone")); err == nil {
		t.Errorf("gone (no file below it at the source) is left on the target")
	}
	if _, err := os.Lstat(filepath.Join(dst, "e", "sub", "f")); err != nil {
		t.Errorf("e/sub/f: %v after the full sync", err)
	}
}

// TestLocalMkdirExisting: a directory that appeared at the target after
// the push looked (another sync creating its own target inside this one)
// is taken as it is, as rsync's generator takes EEXIST; a file there is
// still an error.
func TestLocalMkdirExisting(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), t.TempDir()
	must(t, os.Mkdir(filepath.Join(src, "d"), 0o750))
	must(t, os.Mkdir(filepath.Join(src, "f"), 0o750))
	l, err := NewLocal(dst, Options{Source: src})
	must(t, err)
	r, err := l.newRun(context.Background(), true, true)
	must(t, err)
	defer r.close()
	sfi, err := os.Lstat(filepath.Join(src, "d"))
	must(t, err)
	must(t, os.Mkdir(filepath.Join(dst, "d"), 0o755)) // appeared meanwhile
	if err := r.mkdir("d", sfi); err != nil {
		t.Errorf("mkdir over a directory that appeared: %v", err)
	}
	must(t, os.WriteFile(filepath.Join(dst, "f"), nil, 0o644))
	if err := r.mkdir("f", sfi); err == nil {
		t.Errorf("mkdir over a file: no error")
	}
}
