package transport

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/treediff"
	"github.com/gsync/gsync/rsyncopts"
)

// rsyncItemized is C rsync's view of a local copy of src to dst with
// the drift tree's exclude: rsync -ani --delete, sorted.
func rsyncItemized(t *testing.T, src, dst string, checksum bool) []string {
	t.Helper()
	bin, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync not installed: it is the oracle")
	}
	args := []string{"-ani", "--delete", "--exclude", treediff.DriftExclude}
	if checksum {
		args = append(args, "-c")
	}
	out, err := exec.Command(bin, append(args, src+"/", dst+"/")...).Output()
	if err != nil {
		t.Fatalf("rsync -ani: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

func verifyLines(t *testing.T, v Verifier, checksum bool) []string {
	t.Helper()
	res, err := v.Verify(context.Background(), VerifyOptions{Checksum: checksum})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{}
	for _, it := range res.Items {
		lines = append(lines, it.Line(res.Sending))
	}
	slices.Sort(lines)
	return lines
}

// TestLocalVerifyMatchesRsync: the local target's Verify itemizes every
// planted difference as C rsync -ani does for the same trees (content
// with equal size and mtime only with checksums; excluded entries
// neither missing nor extra), changes nothing, and after a full sync
// finds nothing, as rsync does.
func TestLocalVerifyMatchesRsync(t *testing.T) {
	for _, checksum := range []bool{false, true} {
		src, dst := t.TempDir(), t.TempDir()
		if _, err := treediff.PlantDrift(src, dst); err != nil {
			t.Fatal(err)
		}
		rules, err := filter.New([]string{treediff.DriftExclude}, nil)
		if err != nil {
			t.Fatal(err)
		}
		l, err := NewLocal(dst, Options{Source: src, Exclude: rules.Excluded})
		if err != nil {
			t.Fatal(err)
		}
		want := rsyncItemized(t, src, dst, checksum)
		got := verifyLines(t, l, checksum)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("checksum %v: itemized (-rsync -ani +Verify):\n%s", checksum, diff)
		}
		if again := rsyncItemized(t, src, dst, checksum); !slices.Equal(again, want) {
			t.Errorf("Verify changed the target: rsync now itemizes %q", again)
		}
		if _, err := l.FullSync(context.Background()); err != nil {
			t.Fatal(err)
		}
		// A full sync trusts size and mtime; a push of a path resends it.
		if _, err := l.Push(context.Background(), []Change{{Op: change.Modify, Path: "content"}}); err != nil {
			t.Fatal(err)
		}
		if got := verifyLines(t, l, checksum); len(got) != 0 {
			t.Errorf("checksum %v: after a full sync Verify found %q", checksum, got)
		}
		if got := rsyncItemized(t, src, dst, true); len(got) != 0 {
			t.Errorf("after a full sync rsync -anic finds %q", got)
		}
		if _, err := os.Lstat(filepath.Join(dst, "keep.tmp")); err != nil {
			t.Errorf("the excluded target entry was deleted")
		}
	}
}

// TestLocalVerifyHardLinks: with -H, a further name of a multiply-linked
// source file that is a separate file on the target, or missing there,
// is itemized as C rsync -aH -ani does ("hf          b => a").
func TestLocalVerifyHardLinks(t *testing.T) {
	bin, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync not installed: it is the oracle")
	}
	src, dst := t.TempDir(), t.TempDir()
	for _, n := range []string{"a", "x"} {
		if err := os.WriteFile(filepath.Join(src, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range [][2]string{{"a", "b"}, {"x", "y"}, {"x", "z"}} {
		if err := os.Link(filepath.Join(src, l[0]), filepath.Join(src, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(bin, "-aH", src+"/", dst+"/").CombinedOutput(); err != nil {
		t.Fatalf("rsync -aH: %v\n%s", err, out)
	}
	// b becomes a copy of its own, z disappears.
	if err := os.Remove(filepath.Join(dst, "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "b"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(src, "a"))
	os.Chtimes(filepath.Join(dst, "b"), fi.ModTime(), fi.ModTime())
	if err := os.Remove(filepath.Join(dst, "z")); err != nil {
		t.Fatal(err)
	}
	sfi, _ := os.Stat(src)
	os.Chtimes(dst, sfi.ModTime(), sfi.ModTime())
	out, err := exec.Command(bin, "-aH", "-ani", src+"/", dst+"/").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(out)), "\n")
	l, err := NewLocal(dst, Options{Source: src, Attrs: rsyncopts.Attrs{HardLinks: true}})
	if err != nil {
		t.Fatal(err)
	}
	got := verifyLines(t, l, false)
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" || len(got) == 0 {
		t.Errorf("(-rsync -aH -ani +Verify):\n%s", diff)
	}
	if _, err := l.FullSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := verifyLines(t, l, false); len(got) != 0 {
		t.Errorf("after a full sync: %q", got)
	}
}
