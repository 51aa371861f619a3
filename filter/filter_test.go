package filter

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func TestExcluded(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		isDir   bool
		want    bool
	}{
		{"foo", "foo", false, true},
		{"foo", "a/foo", false, true},
		{"foo", "a/foo", true, true},
		{"foo", "a/foo/bar", false, true}, // below an excluded dir
		{"foo", "foobar", false, false},
		{"foo", "barfoo", false, false},
		{"foo/", "foo", false, false}, // dirs only
		{"foo/", "foo", true, true},
		{"foo/", "a/foo/x", false, true},
		{"/foo", "foo", false, true},
		{"/foo", "a/foo", false, false}, // anchored at the root
		{"*.log", "x.log", false, true},
		{"*.log", "d/x.log", false, true},
		{"*.log", "x.logs", false, false},
		{".log", "x.log", false, false}, // lsyncd needs the star (#445)
		{".log", ".log", false, true},
		{"a*b", "a/b", false, false}, // * stops at /
		{"a**b", "a/x/b", false, true},
		{"/a/**/z", "a/b/c/z", false, true},
		{"?.txt", "x.txt", false, true},
		{"?.txt", "xy.txt", false, false},
		{"[ab]", "[ab]", false, true}, // brackets are literal in lsyncd
		{"[ab]", "a", false, false},
		{"x]y", "x]y", false, true},
		{`back\slash`, `back\slash`, false, true},
		{"new\nline", "d/new\nline", false, true},
		{"a.b", "axb", false, false}, // dot is literal
		{"tmp", "", true, false},     // the root is never excluded
	}
	for _, tt := range tests {
		s, err := New([]string{tt.pattern}, nil)
		if err != nil {
			t.Fatalf("New(%q): %v", tt.pattern, err)
		}
		if got := s.Excluded(tt.path, tt.isDir); got != tt.want {
			t.Errorf("pattern %q, path %q (dir=%v): got %v, want %v", tt.pattern, tt.path, tt.isDir, got, tt.want)
		}
	}
}

func TestFiltersFirstMatchWins(t *testing.T) {
	s, err := New([]string{"*.tmp"}, []string{"+ keep.tmp", "- secret", "+ *"})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		"keep.tmp":     false, // + rule wins over the exclude
		"other.tmp":    false, // "+ *" matches first
		"secret":       true,
		"d/secret/x":   true,
		"plain.txt":    false,
		"d/keep.tmp":   false,
		"d/secret.txt": false,
	}
	for p, want := range cases {
		if got := s.Excluded(p, false); got != want {
			t.Errorf("%q: got %v, want %v", p, got, want)
		}
	}
	s2, _ := New([]string{"*.tmp"}, []string{"- other"})
	if !s2.Excluded("x.tmp", false) {
		t.Error("no filter matched: excludes must decide")
	}
}

func TestBadRules(t *testing.T) {
	if _, err := New(nil, []string{"keep"}); err == nil {
		t.Error("filter without +/- accepted")
	}
	if _, err := New([]string{"/"}, nil); err == nil {
		t.Error("empty pattern accepted")
	}
}

func TestNilSet(t *testing.T) {
	var s *Set
	if s.Excluded("x", false) || !s.Empty() {
		t.Error("nil set must exclude nothing")
	}
}

func TestReadExcludeFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ex")
	os.WriteFile(p, []byte("# comment\n\n*.o\n- build/\n+ keep\r\ncache\n"), 0o644)
	got, err := ReadExcludeFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"*.o", "build/", "cache"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if _, err := ReadExcludeFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestRsyncRules(t *testing.T) {
	s, err := New([]string{"*.o", "x]y", `a[1]*`, "/build/"}, []string{"+ keep.o", `- b\*`})
	if err != nil {
		t.Fatal(err)
	}
	got := s.RsyncRules()
	want := []string{"+ keep.o", `- b\\*`, "- *.o", "- x]y", `- a\[1\]*`, "- /build/"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rule %d = %q, want %q", i, got[i], want[i])
		}
	}
	var nilSet *Set
	if nilSet.RsyncRules() != nil {
		t.Error("nil set has rules")
	}
}

// TestPerDirRulesChange: per-directory files that name more of them
// (a dir-merge rule, a "-C" rule) are read concurrently, and read again
// after Invalidate: a nested dir-merge rule that a file no longer gives
// stops applying, and its flags follow the file.
func TestPerDirRulesChange(t *testing.T) {
	files := map[string]string{
		"d/.rsync-filter": ": .more\n-C\n",
		"d/.more":         "- a.x\n",
		"d/e/.more":       "- b.x\n",
	}
	var mu sync.Mutex
	read := func(rel string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		c, ok := files[rel]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(c), nil
	}
	s, err := Compile(Options{Rules: []Spec{{Kind: SpecF}}, ReadFile: read, CVSEnv: "*.junk",
		OnError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	check := func(want map[string]bool) {
		t.Helper()
		var wg sync.WaitGroup
		for rel, excl := range want {
			wg.Go(func() {
				if got := s.Excluded(rel, false); got != excl {
					t.Errorf("Excluded(%q) = %v, want %v", rel, got, excl)
				}
			})
		}
		wg.Wait()
	}
	check(map[string]bool{"d/a.x": true, "d/e/a.x": true, "d/e/b.x": true, "d/b.x": false, "b.x": false,
		"d/e/c.o": true, "d/y.junk": true, "c.o": false, "d/.more": false})
	if !s.IsMergeFile("d/e/.more") {
		t.Error("IsMergeFile(d/e/.more) = false: the nested dir-merge rule's files are not watched")
	}
	mu.Lock()
	files["d/.rsync-filter"] = ":n .more\n"
	mu.Unlock()
	s.Invalidate("d")
	check(map[string]bool{"d/a.x": true, "d/e/a.x": false, "d/e/b.x": true, "d/e/c.o": false, "d/y.junk": false})
	mu.Lock()
	files["d/.rsync-filter"] = "- nothing\n"
	mu.Unlock()
	s.Invalidate("d")
	check(map[string]bool{"d/a.x": false, "d/e/b.x": false})
}

// TestMergeFilesAbove: a command-line dir-merge name whose directory is
// above the source names the files rsync would read there, from that
// directory down to the source's parent (exclude.c: setup_merge_file);
// one at or below the source names none.
func TestMergeFilesAbove(t *testing.T) {
	root := filepath.Join(t.TempDir(), "x", "y", "src")
	top := filepath.Dir(filepath.Dir(root))
	for _, tc := range []struct {
		rule string
		want []string
	}{
		{"dir-merge " + filepath.Join(top, ".rf"), []string{filepath.Join(top, "y", ".rf"), filepath.Join(top, ".rf")}},
		{"dir-merge " + filepath.Join(root, ".rf"), nil},
		{"dir-merge " + filepath.Join(root, "sub", ".rf"), nil},
		{"dir-merge .rf", nil},
	} {
		s, err := Compile(Options{Root: root, Rules: []Spec{{Kind: SpecFilter, Arg: tc.rule}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.MergeFilesAbove(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: MergeFilesAbove() = %q, want %q", tc.rule, got, tc.want)
		}
	}
	s, err := Compile(Options{Root: root, Rules: []Spec{{Kind: SpecF}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.MergeFilesAbove(); len(got) == 0 || got[len(got)-1] != "/.rsync-filter" || got[0] != filepath.Join(filepath.Dir(root), ".rsync-filter") {
		t.Errorf("-F: MergeFilesAbove() = %q, want the source's parent's file first and /.rsync-filter last", got)
	}
}
