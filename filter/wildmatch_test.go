package filter

import (
	"slices"
	"testing"
)

func TestWildmatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, text string
		where         int
		want          bool
	}{
		{"foo", "foo", 0, true},
		{"*f", "foo", 0, false},
		{"f*", "foo", 0, true},
		{"*", "a/b", 0, false},
		{"**", "a/b", 0, true},
		{"a?c", "abc", 0, true},
		{"a?c", "a/c", 0, false},
		{"a[!b]c", "abc", 0, false},
		{"a[!b]c", "axc", 0, true},
		{"a[^b]c", "axc", 0, true},
		{"a[]]c", "a]c", 0, true},
		{"a[!]]c", "a]c", 0, false},
		{"[a-c]x", "bx", 0, true},
		{"[a-c]x", "dx", 0, false},
		{"[!a-c]x", "dx", 0, true},
		{"[a-]x", "-x", 0, true},
		{`[\]]`, "]", 0, true},
		{"[[:digit:]]*", "9.md", 0, true},
		{"[[:digit:][:upper:]]", "Q", 0, true},
		{"[[:digit:][:upper:]]", "q", 0, false},
		{"[[:bogus:]]", "b", 0, false}, // a malformed class aborts
		{"[:alpha:]", "a", 0, true},    // a set of ":alph" characters
		{"[", "[", 0, false},           // unterminated class
		{`\*`, "*", 0, true},
		{`\*`, "x", 0, false},
		{`\[x\].txt`, "[x].txt", 0, true},
		{"a[/]b", "a/b", 0, false}, // a class never matches "/"
		{"src/**/*.c", "src/deep/er/f.c", 0, true},
		{"src/**/*.c", "src/f.c", 0, false},
		{"deep/er", "src/deep/er", 2, true},
		{"deep/er", "src/deep/er", 0, false},
		{"deep/er", "er", 2, false},
		{"er/*", "src/deep/er/f", -1, true},
		{"er/*", "src/deep/er/x/f", -1, false},
		{"/x", "a/x", -1, false},
	} {
		if got := wildmatchWhere(tc.pattern, tc.text, tc.where); got != tc.want {
			t.Errorf("wildmatch(%q, %q, where %d) = %v, want %v", tc.pattern, tc.text, tc.where, got, tc.want)
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, rule := range []string{
		"x foo",           // unknown rule
		"-z foo",          // unknown modifier
		"-e foo",          // e only for merge rules
		"+",               // no pattern
		"! foo",           // clear takes nothing
		"Ps foo",          // P already names a side
		"Ssx user.*",      // S already names a side
		"PC",              // C is not for a sided rule
		"-C-",             // C sets the - modifier already
		"dir-merge,! .rf", // ! is not for merge rules
		"merge /nonexistent/gsync-rules",
	} {
		if _, err := Compile(Options{Rules: []Spec{{Kind: SpecFilter, Arg: rule}}}); err == nil {
			t.Errorf("rule %q: no error", rule)
		}
	}
	for _, rule := range []string{"- foo", "-/ /x", "+! *.c", "P /keep", "exclude,s *.o", "hide x", ":n .f", "dir-merge,-we .f", "!", "clear",
		":C", "-C", "dir-merge a/.rf", "dir-merge /.rf", "-x user.*", "+xs user.a", "Px user.keep", "-xr *", "-x! user.*"} {
		if _, err := Compile(Options{Rules: []Spec{{Kind: SpecFilter, Arg: rule}}}); err != nil {
			t.Errorf("rule %q: %v", rule, err)
		}
	}
}

// TestRsyncRulesForReceiver: the receiver gets rsync's short forms, the
// receiver-side rules with their r, and no sender-only rule.
func TestRsyncRulesForReceiver(t *testing.T) {
	s, err := Compile(Options{Rules: []Spec{
		{Kind: SpecExclude, Arg: "*.o"}, {Kind: SpecFilter, Arg: "protect /keep/"}, {Kind: SpecFilter, Arg: "H *.tmp"},
		{Kind: SpecFilter, Arg: "-! */"}, {Kind: SpecF}, {Kind: SpecF}, {Kind: SpecInclude, Arg: "+ x"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := s.RsyncRules()
	want := []string{"- *.o", "-r /keep/", "-! */", ": .rsync-filter", "- .rsync-filter", "+ x"} // --include "+ x": the old prefix is read
	if len(got) != len(want) {
		t.Fatalf("RsyncRules() = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("RsyncRules()[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestRsyncRulesDeleteExcluded: with --delete-excluded the receiver gets
// only what still protects there (exclude.c:send_rules): P, R and the r
// modifier's rules, and dir-merge rules whose files may hold them; -C's
// rules, plain excludes and lsyncd's lists stay the sender's.
func TestRsyncRulesDeleteExcluded(t *testing.T) {
	s, err := Compile(Options{Rules: []Spec{
		{Kind: SpecExclude, Arg: "*.o"}, {Kind: SpecFilter, Arg: "protect /keep/"}, {Kind: SpecFilter, Arg: "-r *.bk"},
		{Kind: SpecFilter, Arg: "R /keep/x"}, {Kind: SpecF}, {Kind: SpecFilter, Arg: ":n- .ex"}, {Kind: SpecFilter, Arg: "+ x"},
	}, Excludes: []string{"*.tmp"}, Filters: []string{"- cache"}, CVSExclude: true, DeleteExcluded: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-r /keep/", "-r *.bk", "+r /keep/x", ": .rsync-filter"}
	if got := s.RsyncRules(); !slices.Equal(got, want) {
		t.Errorf("RsyncRules() = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		rel       string
		dir       bool
		protected bool
		excluded  bool
	}{
		{"a.o", false, false, true}, {"keep", true, true, false}, {"keep/x", false, false, false}, {"keep/y", false, false, false},
		{"f.bk", false, true, false}, {"f.tmp", false, false, true}, {"cache", true, false, true}, {"core", false, false, true},
	} {
		if got := s.Protected(tc.rel, tc.dir); got != tc.protected {
			t.Errorf("Protected(%q) = %v, want %v", tc.rel, got, tc.protected)
		}
		if got := s.Excluded(tc.rel, tc.dir); got != tc.excluded {
			t.Errorf("Excluded(%q) = %v, want %v", tc.rel, got, tc.excluded)
		}
	}
}
