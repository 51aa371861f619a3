package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// TestExplain runs gsync explain on a table of paths and rules: each
// names the rule that decides the path and where it was given (flag,
// exclude file line, lsyncd config line), whether it is watched, and
// what a change does on the target.
func TestExplain(t *testing.T) {
	t.Parallel()
	src, work := t.TempDir(), t.TempDir()
	for _, f := range []string{"index.html", "keep.tmp", "x.tmp", "build/obj/a.o", "cache/c", "build/obj/x.gen", "gen/out.c"} {
		testutil.WriteRel(t, src, f)
	}
	testutil.WriteFile(t, filepath.Join(src, "build/.rsync-filter"), "# per-directory rules\n- *.o\n: .more\n")
	testutil.WriteFile(t, filepath.Join(src, "build/obj/.more"), "- *.gen\n")
	testutil.WriteFile(t, filepath.Join(src, "gen/.cvsignore"), "in.c\n  out.c\n")
	excl := filepath.Join(work, "excludes")
	testutil.WriteFile(t, excl, "# generated files\n*.o\n\n- cache/\n")
	conf := filepath.Join(work, "lsyncd.conf.lua")
	testutil.WriteFile(t, conf, "settings { nodaemon = true }\n\nsync { default.direct, source = \""+src+"\", target = \""+filepath.Join(work, "dst")+"\",\n  exclude = { \"*.html\" }, delete = 'running' }\n")
	dst := filepath.Join(work, "dst")
	// rsync's order: the first matching rule wins, whichever option gave it.
	rules := []string{"--filter", "+ keep.tmp", "--exclude", "*.tmp", "--exclude-from", excl, "--filter", "- /build/", "--delete", "startup"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"mirrored", append(append([]string{}, rules...), "index.html", src, dst), 0,
			[]string{"index.html in " + src + " (file)", "mirrored: no exclude or filter rule matches it", "watched: yes", "on " + dst + ":",
				"when it is deleted at the source, it stays on the target (--delete startup)"}},
		{"exclude flag", append(append([]string{}, rules...), filepath.Join(src, "x.tmp"), src, dst), 0,
			[]string{`excluded: matches "*.tmp" (--exclude)`, "never deleted on the target"}},
		{"filter includes", append(append([]string{}, rules...), "keep.tmp", src, dst), 0,
			[]string{`mirrored: matches "+ keep.tmp" (--filter), which includes it`}},
		{"parent excluded", append(append([]string{}, rules...), "build/obj/a.o", src, dst), 0,
			[]string{`excluded: its directory build matches "- /build/" (--filter)`, "watched: no"}},
		{"exclude file line", append(append([]string{}, rules...), "cache/new", src, dst), 0,
			[]string{"(does not exist at the source)", `excluded: its directory cache matches "- cache/" (` + excl + `:4)`}},
		{"per-directory file", []string{"-F", "build/obj/a.o", src, dst}, 0,
			[]string{`excluded: matches "- *.o" (build/.rsync-filter:2)`, "never deleted on the target"}},
		{"dir-merge in a per-directory file", []string{"-F", "build/obj/x.gen", src, dst}, 0,
			[]string{`excluded: matches "- *.gen" (build/obj/.more:1)`}},
		{"per-directory .cvsignore", []string{"-C", "gen/out.c", src, dst}, 0,
			[]string{`excluded: matches "out.c" (gen/.cvsignore:2)`}},
		{"CVS default list", []string{"-C", "build/obj/a.o", src, dst}, 0,
			[]string{`excluded: matches "*.o" (rsync's default CVS ignore list, -C)`}},
		{"delete-excluded", []string{"--delete-excluded", "--exclude", "*.tmp", "x.tmp", src, dst}, 0,
			[]string{`excluded: matches "*.tmp" (--exclude)`, "deleted on the target (--delete-excluded"}},
		{"hidden", []string{"--filter", "H *.html", "--filter", "P /keep.tmp", "index.html", src, dst}, 0,
			[]string{`excluded: matches "H *.html" (--filter)`, "hidden (a sender-side rule"}},
		{"protected", []string{"--filter", "P /keep.tmp", "keep.tmp", src, dst}, 0,
			[]string{"mirrored: no exclude or filter rule matches it", "protected (a receiver-side rule"}},
		{"config line", []string{"--config", conf, "index.html"}, 0,
			[]string{`excluded: matches "*.html" (` + conf + `:3)`}},
		{"config delete running", []string{"--config", conf, "keep.tmp"}, 0,
			[]string{"when it is deleted at the source, it is deleted on the target (--delete running)", "deletes nothing"}},
		{"outside the source", append(append([]string{}, rules...), "/etc/passwd", src, dst), 2, []string{"not inside the source"}},
		{"too few arguments", []string{"index.html", src}, 2, []string{"want PATH SRC TARGET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runGsync(t, append([]string{"explain"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
