package filter

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestXattrRules: rules with the x modifier match xattr names only, the
// first match wins, the side decides whether the sender leaves a name
// out (XattrExcluded) or the receiver keeps it (XattrProtected), and
// merge files and per-directory files give them too (exclude.c:
// rule_matches, name_is_excluded with NAME_IS_XATTR).
func TestXattrRules(t *testing.T) {
	t.Parallel()
	merge := filepath.Join(t.TempDir(), "x.rules")
	if err := os.WriteFile(merge, []byte("# xattr rules\n-x user.merged\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func(rel string) ([]byte, error) {
		switch rel {
		case "d/.rsync-filter":
			return []byte("-x user.perdir\n"), nil
		case ".rsync-filter":
			return []byte("-x user.rootdir\n"), nil
		}
		return nil, fs.ErrNotExist
	}
	s, err := Compile(Options{Rules: []Spec{
		{Kind: SpecFilter, Arg: "+x user.secret.ok"},
		{Kind: SpecFilter, Arg: "-x user.secret*"},
		{Kind: SpecFilter, Arg: "-xr user.keep"},
		{Kind: SpecFilter, Arg: "Px user.prot*"},
		{Kind: SpecFilter, Arg: "-xs user.gone"},
		{Kind: SpecFilter, Arg: "merge " + merge},
		{Kind: SpecF},
		{Kind: SpecFilter, Arg: "- *.tmp"},
	}, ReadFile: read, OnError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rel, name      string
		excluded, prot bool
	}{
		{"f", "user.plain", false, false},
		{"f", "user.secret", true, true},
		{"f", "user.secret.key", true, true},
		{"f", "user.secret.ok", false, false}, // included before the exclude
		{"f", "user.keep", false, true},       // receiver only: sent, and kept on the target
		{"f", "user.protected", false, true},
		{"f", "user.gone", true, false}, // sender only: not sent, removed on the target
		{"f", "user.merged", true, true},
		{"f", "user.perdir", false, false},
		{"d/f", "user.perdir", true, true}, // d's .rsync-filter
		{"d", "user.perdir", false, false}, // d itself is listed by its parent's rules
		{".", "user.perdir", false, false},
		{".", "user.secret", true, true},
		{"f", "security.selinux", false, false},
		{"f", "user.rootdir", true, true},   // the root's .rsync-filter
		{".", "user.rootdir", false, false}, // not for the root itself
		{"d/f", "user.rootdir", true, true}, // inherited
		{"f", "x.tmp", false, false},        // a path rule never matches an xattr name
	} {
		_ = s.Excluded(tc.rel, false) // the walk reads the per-directory files first
		ex, ruled := s.XattrExcluded(tc.rel, tc.name)
		if ex != tc.excluded || !ruled {
			t.Errorf("XattrExcluded(%q, %q) = %v, %v; want %v, true", tc.rel, tc.name, ex, ruled, tc.excluded)
		}
		pr, ruled := s.XattrProtected(tc.rel, tc.name)
		if pr != tc.prot || !ruled {
			t.Errorf("XattrProtected(%q, %q) = %v, %v; want %v, true", tc.rel, tc.name, pr, ruled, tc.prot)
		}
	}
	// An x rule never matches a path.
	for _, rel := range []string{"user.secret", "d/user.gone", "user.keep"} {
		if s.Excluded(rel, false) || s.Protected(rel, false) {
			t.Errorf("path %q excluded or protected by an xattr rule", rel)
		}
	}
	if !s.Excluded("a.tmp", false) {
		t.Error("a.tmp not excluded")
	}
	got := s.RsyncRules()
	want := []string{"+x user.secret.ok", "-x user.secret*", "-xr user.keep", "-xr user.prot*", "-x user.merged", ": .rsync-filter", "- *.tmp"}
	if !slices.Equal(got, want) {
		t.Errorf("RsyncRules() = %q, want %q", got, want)
	}
}

// TestXattrRulesAbsent: without any x rule the rules do not decide
// (exclude.c: saw_xattr_filter), so the default namespace rule applies;
// a negated rule decides for every name it does not match.
func TestXattrRulesAbsent(t *testing.T) {
	t.Parallel()
	var nilSet *Set
	for _, s := range []*Set{nilSet, mustCompile(t, "- user.*", "+ *")} {
		if ex, ruled := s.XattrExcluded("f", "user.a"); ex || ruled {
			t.Errorf("XattrExcluded without x rules = %v, %v", ex, ruled)
		}
		if pr, ruled := s.XattrProtected("f", "system.posix_acl_access"); pr || ruled {
			t.Errorf("XattrProtected without x rules = %v, %v", pr, ruled)
		}
	}
	s := mustCompile(t, "-x! user.*")
	for name, want := range map[string]bool{"user.a": false, "trusted.b": true, "system.posix_acl_access": true} {
		if ex, _ := s.XattrExcluded("f", name); ex != want {
			t.Errorf("-x! user.*: XattrExcluded(%q) = %v, want %v", name, ex, want)
		}
	}
}

func mustCompile(t *testing.T, rules ...string) *Set {
	t.Helper()
	var specs []Spec
	for _, r := range rules {
		specs = append(specs, Spec{Kind: SpecFilter, Arg: r})
	}
	s, err := Compile(Options{Rules: specs})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
