package treediff

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// pair builds two identical trees and returns their roots.
func pair(t *testing.T) (string, string) {
	t.Helper()
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	for _, root := range []string{src, dst} {
		mk(t, root, "d/sub/f", "hello")
		mk(t, root, "a", "")
		testutil.Must(t, os.Symlink("../a", filepath.Join(root, "d/link")))
		setTimes(t, root)
	}
	return src, dst
}

func mk(t *testing.T, root, rel, content string) {
	t.Helper()
	testutil.WriteFile(t, filepath.Join(root, rel), content)
}

// setTimes gives every entry below root the same mtime t0, children first.
func setTimes(t *testing.T, root string) {
	t.Helper()
	var paths []string
	testutil.Must(t, filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		paths = append(paths, p)
		return err
	}))
	for i := len(paths) - 1; i >= 0; i-- {
		testutil.Must(t, lutimes(paths[i], t0))
	}
}

func lutimes(p string, mt time.Time) error {
	ts := []syscall.Timespec{syscall.NsecToTimespec(mt.UnixNano()), syscall.NsecToTimespec(mt.UnixNano())}
	return utimesNoFollow(p, ts)
}

// diffs returns Compare's differences, and fails the test unless Same
// gives the same verdict: every test of a difference is a test of Same too.
func diffs(t *testing.T, src, dst string, opt Options) []Diff {
	t.Helper()
	d, err := Compare(src, dst, opt)
	if err != nil {
		t.Fatal(err)
	}
	same, err := Same(src, dst, opt)
	if err != nil {
		t.Fatal(err)
	}
	if same != (len(d) == 0) {
		t.Errorf("Same says %v, Compare found %d differences:\n%s", same, len(d), Format(d, 30))
	}
	return d
}

func wantOne(t *testing.T, got []Diff, path string, k Kind) {
	t.Helper()
	if len(got) != 1 || got[0].Path != path || got[0].Kind != k {
		t.Fatalf("want one %s difference at %q, got:\n%s", k, path, Format(got, 30))
	}
}

func TestEqualTrees(t *testing.T) {
	src, dst := pair(t)
	if d := diffs(t, src, dst, Options{}); len(d) != 0 {
		t.Fatalf("identical trees differ:\n%s", Format(d, 30))
	}
}

func TestMissing(t *testing.T) {
	src, dst := pair(t)
	testutil.Must(t, os.Remove(filepath.Join(dst, "d/sub/f")))
	wantOne(t, diffs(t, src, dst, Options{SkipDirMtimes: true}), "d/sub/f", Missing)
}

func TestExtra(t *testing.T) {
	src, dst := pair(t)
	mk(t, dst, "d/x", "")
	wantOne(t, diffs(t, src, dst, Options{SkipDirMtimes: true}), "d/x", Extra)
}

func TestType(t *testing.T) {
	src, dst := pair(t)
	testutil.Must(t, os.Remove(filepath.Join(dst, "a")))
	testutil.Must(t, os.Mkdir(filepath.Join(dst, "a"), 0o644))
	wantOne(t, diffs(t, src, dst, Options{SkipDirMtimes: true}), "a", Type)
}

func TestContentSameSize(t *testing.T) {
	src, dst := pair(t)
	p := filepath.Join(dst, "d/sub/f")
	testutil.Must(t, os.WriteFile(p, []byte("hellO"), 0o644))
	testutil.Must(t, lutimes(p, t0))
	wantOne(t, diffs(t, src, dst, Options{SkipDirMtimes: true}), "d/sub/f", Content)
}

func TestContentBigFileLateByte(t *testing.T) {
	src, dst := pair(t)
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, root := range []string{src, dst} {
		p := filepath.Join(root, "big")
		if root == dst {
			data[len(data)-1] ^= 1
		}
		testutil.Must(t, os.WriteFile(p, data, 0o644))
		testutil.Must(t, lutimes(p, t0))
	}
	got := diffs(t, src, dst, Options{SkipDirMtimes: true})
	wantOne(t, got, "big", Content)
	if !strings.Contains(got[0].Src, fmt.Sprint(len(data)-1)) {
		t.Errorf("offset not reported: %v", got[0])
	}
}

// TestContentAfterBigFile: the read buffers are shared by the files of
// one comparison; a small file compared after a big one (which filled
// them) is compared on its own bytes only.
func TestContentAfterBigFile(t *testing.T) {
	src, dst := pair(t)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 13)
	}
	for _, root := range []string{src, dst} {
		p := filepath.Join(root, "0big")
		testutil.Must(t, os.WriteFile(p, big, 0o644))
		testutil.Must(t, lutimes(p, t0))
	}
	if d := diffs(t, src, dst, Options{SkipDirMtimes: true}); len(d) != 0 {
		t.Fatalf("identical trees differ:\n%s", Format(d, 30))
	}
	p := filepath.Join(dst, "d/sub/f")
	testutil.Must(t, os.WriteFile(p, []byte("hellO"), 0o644))
	testutil.Must(t, lutimes(p, t0))
	wantOne(t, diffs(t, src, dst, Options{SkipDirMtimes: true}), "d/sub/f", Content)
}

func TestContentSize(t *testing.T) {
	src, dst := pair(t)
	p := filepath.Join(dst, "a")
	testutil.Must(t, os.WriteFile(p, []byte("x"), 0o644))
	testutil.Must(t, lutimes(p, t0))
	wantOne(t, diffs(t, src, dst, Options{SkipDirMtimes: true}), "a", Content)
}

func TestModeSpecialBits(t *testing.T) {
	for _, m := range []os.FileMode{os.ModeSetuid, os.ModeSetgid, os.ModeSticky, 0o600} {
		src, dst := pair(t)
		testutil.Must(t, os.Chmod(filepath.Join(src, "a"), 0o644|m))
		if m.Perm() != 0 {
			testutil.Must(t, os.Chmod(filepath.Join(src, "a"), m))
		}
		got := diffs(t, src, dst, Options{SkipDirMtimes: true})
		wantOne(t, got, "a", Mode)
	}
}

func TestRootMode(t *testing.T) {
	src, dst := pair(t)
	testutil.Must(t, os.Chmod(dst, 0o700))
	wantOne(t, diffs(t, src, dst, Options{}), ".", Mode)
	if d := diffs(t, src, dst, Options{IgnoreRootMode: true}); len(d) != 0 {
		t.Fatalf("IgnoreRootMode: %v", d)
	}
}

func TestSymlinkTarget(t *testing.T) {
	src, dst := pair(t)
	p := filepath.Join(dst, "d/link")
	testutil.Must(t, os.Remove(p))
	testutil.Must(t, os.Symlink("/a", p))
	testutil.Must(t, lutimes(p, t0))
	wantOne(t, diffs(t, src, dst, Options{SkipDirMtimes: true}), "d/link", Link)
}

func TestSymlinksNotFollowed(t *testing.T) {
	src, dst := pair(t)
	// Links to the roots: following them would recurse into the trees;
	// the oracle compares only their target text.
	for _, root := range []string{src, dst} {
		p := filepath.Join(root, "dirlink")
		testutil.Must(t, os.Symlink(root, p)) // verbatim targets differ
	}
	got := diffs(t, src, dst, Options{SkipDirMtimes: true, SkipSymlinkMtimes: true})
	wantOne(t, got, "dirlink", Link)
}

func TestMtime(t *testing.T) {
	src, dst := pair(t)
	p := filepath.Join(dst, "d/sub/f")
	testutil.Must(t, lutimes(p, t0.Add(time.Nanosecond)))
	wantOne(t, diffs(t, src, dst, Options{}), "d/sub/f", Mtime)
	if d := diffs(t, src, dst, Options{MtimeGranularity: time.Microsecond}); len(d) != 0 {
		t.Fatalf("1µs granularity: %v", d)
	}
	testutil.Must(t, lutimes(p, t0.Add(time.Second)))
	wantOne(t, diffs(t, src, dst, Options{MtimeGranularity: time.Second}), "d/sub/f", Mtime)
}

func TestDirMtime(t *testing.T) {
	src, dst := pair(t)
	testutil.Must(t, lutimes(filepath.Join(dst, "d"), t0.Add(time.Millisecond)))
	wantOne(t, diffs(t, src, dst, Options{}), "d", Mtime)
	if d := diffs(t, src, dst, Options{SkipDirMtimes: true}); len(d) != 0 {
		t.Fatalf("SkipDirMtimes: %v", d)
	}
	testutil.Must(t, lutimes(dst, t0.Add(time.Millisecond)))
	testutil.Must(t, lutimes(filepath.Join(dst, "d"), t0))
	wantOne(t, diffs(t, src, dst, Options{}), ".", Mtime)
	if d := diffs(t, src, dst, Options{IgnoreRootMtime: true}); len(d) != 0 {
		t.Fatalf("IgnoreRootMtime: %v", d)
	}
}

func TestSymlinkMtime(t *testing.T) {
	src, dst := pair(t)
	testutil.Must(t, lutimes(filepath.Join(dst, "d/link"), t0.Add(time.Second)))
	wantOne(t, diffs(t, src, dst, Options{}), "d/link", Mtime)
	if d := diffs(t, src, dst, Options{SkipSymlinkMtimes: true}); len(d) != 0 {
		t.Fatalf("SkipSymlinkMtimes: %v", d)
	}
}

func TestOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing ownership needs root")
	}
	src, dst := pair(t)
	testutil.Must(t, os.Lchown(filepath.Join(dst, "a"), 1234, 5678))
	if d := diffs(t, src, dst, Options{}); len(d) != 0 {
		t.Fatalf("owner compared without CompareOwner: %v", d)
	}
	wantOne(t, diffs(t, src, dst, Options{CompareOwner: true}), "a", Owner)
}

func TestFifoAndDevice(t *testing.T) {
	src, dst := pair(t)
	for _, root := range []string{src, dst} {
		testutil.Must(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
		testutil.Must(t, lutimes(filepath.Join(root, "fifo"), t0))
	}
	testutil.Must(t, os.Remove(filepath.Join(dst, "a")))
	testutil.Must(t, syscall.Mkfifo(filepath.Join(dst, "a"), 0o644))
	got := diffs(t, src, dst, Options{SkipDirMtimes: true, MtimeGranularity: -1})
	wantOne(t, got, "a", Type)
	if got[0].Src != "file" || got[0].Dst != "fifo" {
		t.Errorf("type names: %v", got[0])
	}
	if os.Geteuid() != 0 {
		return
	}
	testutil.Must(t, syscall.Mknod(filepath.Join(src, "null"), syscall.S_IFCHR|0o644, 0x103))
	if err := syscall.Mknod(filepath.Join(dst, "null"), syscall.S_IFCHR|0o644, 0x105); err != nil {
		t.Skipf("mknod: %v", err)
	}
	testutil.Must(t, os.Remove(filepath.Join(dst, "a")))
	mk(t, dst, "a", "")
	got = diffs(t, src, dst, Options{SkipDirMtimes: true, MtimeGranularity: -1})
	wantOne(t, got, "null", Device)
}

func TestNodeMtimeGranularity(t *testing.T) {
	src, dst := pair(t)
	for _, root := range []string{src, dst} {
		testutil.Must(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	}
	testutil.Must(t, lutimes(filepath.Join(src, "fifo"), t0))
	testutil.Must(t, lutimes(filepath.Join(dst, "fifo"), t0.Add(time.Millisecond)))
	testutil.Must(t, lutimes(filepath.Join(dst, "a"), t0.Add(time.Millisecond)))
	o := Options{SkipDirMtimes: true}
	if got := diffs(t, src, dst, o); len(got) != 2 {
		t.Fatalf("want the file and the fifo to differ, got:\n%s", Format(got, 30))
	}
	// Coarser for nodes only: the regular file is still compared exactly.
	o.NodeMtimeGranularity = time.Second
	wantOne(t, diffs(t, src, dst, o), "a", Mtime)
	testutil.Must(t, lutimes(filepath.Join(dst, "fifo"), t0.Add(time.Second)))
	got := diffs(t, src, dst, o)
	if len(got) != 2 {
		t.Fatalf("a node a second off must differ, got:\n%s", Format(got, 30))
	}
}

func TestExclude(t *testing.T) {
	src, dst := pair(t)
	mk(t, dst, "d/sub/junk.tmp", "x")
	mk(t, src, "cache/x", "x")
	testutil.Must(t, os.Remove(filepath.Join(dst, "a")))
	testutil.Must(t, os.Mkdir(filepath.Join(dst, "a"), 0o755))
	opt := Options{SkipDirMtimes: true, Exclude: func(rel string, isDir bool) bool {
		return strings.HasSuffix(rel, ".tmp") || (rel == "cache" && isDir) || (rel == "a" && isDir)
	}}
	if d := diffs(t, src, dst, opt); len(d) != 0 {
		t.Fatalf("excluded paths reported:\n%s", Format(d, 30))
	}
}

func TestOddNamesQuoted(t *testing.T) {
	src, dst := pair(t)
	names := []string{"new\nline", `back\slash`, "bad\xff\xfeutf8", "sp ace", "br]ack*?["}
	for _, n := range names {
		mk(t, src, n, "x")
	}
	got := diffs(t, src, dst, Options{SkipDirMtimes: true})
	if len(got) != len(names) {
		t.Fatalf("got %d diffs, want %d:\n%s", len(got), len(names), Format(got, 30))
	}
	out := Format(got, 30)
	for _, n := range names {
		if !strings.Contains(out, fmt.Sprintf("%q", n)) {
			t.Errorf("name %q not quoted in:\n%s", n, out)
		}
	}
	if strings.Count(out, "\n") != len(names) {
		t.Errorf("a raw newline leaked into the report:\n%s", out)
	}
}

// fakeTB records failures of Equal.
type fakeTB struct {
	testing.TB
	msgs []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}

func TestEqualReportIsBounded(t *testing.T) {
	src, dst := pair(t)
	for i := range 50 {
		mk(t, src, fmt.Sprintf("m%02d", i), "")
	}
	f := &fakeTB{TB: t}
	if Equal(f, src, dst, Options{SkipDirMtimes: true}) {
		t.Fatal("Equal reported different trees as equal")
	}
	if len(f.msgs) != 1 {
		t.Fatalf("want one failure, got %d", len(f.msgs))
	}
	lines := strings.Count(f.msgs[0], "\n")
	if lines > 32 || !strings.Contains(f.msgs[0], "and 20 more") {
		t.Fatalf("report not bounded (%d lines):\n%s", lines, f.msgs[0])
	}
	f = &fakeTB{TB: t}
	if !Equal(f, src, src, Options{}) || len(f.msgs) != 0 {
		t.Fatalf("a tree differs from itself: %v", f.msgs)
	}
}
