package filter

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// oracleTree is the source tree of the oracle tests: names that the
// rule table below tells apart. Entries ending in "/" are directories;
// ".rsync-filter" files get the content given.
var oracleTree = map[string]string{
	"a.c": "", "a.o": "", "b.txt": "", "[x].txt": "", "x.txt": "", "core": "",
	"src/": "", "src/main.c": "", "src/main.o": "", "src/core/": "", "src/core/k.c": "",
	"src/deep/": "", "src/deep/er/": "", "src/deep/er/f.c": "", "src/deep/er/g.log": "",
	"build/": "", "build/out.bin": "", "build/sub/": "", "build/sub/x.c": "",
	"docs/": "", "docs/a.md": "", "docs/B.md": "", "docs/9.md": "", "docs/tmp/": "", "docs/tmp/t.md": "",
	"keep/": "", "keep/a.o": "", "logs/": "", "logs/x.log": "", "logs/old/": "", "logs/old/y.log": "",
	"sp ace/": "", "sp ace/f": "",
	// per-directory rules (-F)
	".rsync-filter": "- *.log\n+ /docs/B.md\n", "src/.rsync-filter": "- /main.o\n# comment\n; comment\n- k.c\n",
	"logs/.rsync-filter": "+ x.log\n", "docs/.rsync-filter": "- tmp/\n",
}

// oracleRules are rule sets given to gsync and to C rsync alike.
var oracleRules = []struct {
	name string
	args []string // rsync's options; the same become Specs
}{
	{"exclude basename", []string{"--exclude", "*.o"}},
	{"include then exclude all", []string{"--include", "*/", "--include", "*.c", "--exclude", "*"}},
	{"anchored", []string{"--exclude", "/core", "--exclude", "/build/"}},
	{"dir only", []string{"--exclude", "core/"}},
	{"triple star", []string{"--filter", "+ /src/***", "--filter", "- /*"}},
	{"double star infix", []string{"--exclude", "src/**/*.c"}},
	{"double star prefix", []string{"--exclude", "**/er/*"}},
	{"slash infix", []string{"--exclude", "deep/er"}},
	{"class", []string{"--exclude", "[ab].*", "--exclude", "docs/[[:digit:]]*", "--exclude", "[!x].txt"}},
	{"escaped bracket", []string{"--exclude", `\[x\].txt`}},
	{"literal bracket no wildcard", []string{"--exclude", "[x].txt"}},
	{"negate", []string{"--filter", "-! */", "--filter", "+ *"}},
	{"long names", []string{"--filter", "include /keep/", "--filter", "exclude,! *.o", "--filter", "exclude *"}},
	{"old prefixes", []string{"--exclude", "+ a.o", "--exclude", "*.o"}},
	{"hide and show", []string{"--filter", "S /keep/a.o", "--filter", "H *.o"}},
	{"protect and risk", []string{"--filter", "R /build/sub/", "--filter", "P /build/", "--filter", "- build/"}},
	{"sides", []string{"--filter", "-s *.txt", "--filter", "-r logs/"}},
	{"clear", []string{"--exclude", "*.c", "--filter", "!", "--exclude", "*.txt"}},
	{"space", []string{"--exclude", "sp ace/"}},
	{"F", []string{"-F"}},
	{"FF", []string{"-F", "-F"}},
	{"FF with own rules", []string{"--include", "/src/main.o", "-F", "-F", "--exclude", "*.c"}},
	{"dir-merge n", []string{"--filter", "dir-merge,n .rsync-filter"}},
	{"dir-merge e", []string{"--filter", ":e .rsync-filter"}},
}

// specsOf turns rsync options into Specs.
func specsOf(t *testing.T, args []string) []Spec {
	var out []Spec
	for i := 0; i < len(args); i++ {
		kind := map[string]SpecKind{"--filter": SpecFilter, "--include": SpecInclude, "--exclude": SpecExclude,
			"--include-from": SpecIncludeFrom, "--exclude-from": SpecExcludeFrom, "-F": SpecF}[args[i]]
		if args[i] == "-F" {
			out = append(out, Spec{Kind: SpecF})
			continue
		}
		if kind == 0 && args[i] != "--filter" {
			t.Fatalf("unknown option %s", args[i])
		}
		i++
		out = append(out, Spec{Kind: kind, Arg: args[i]})
	}
	return out
}

func writeTree(t *testing.T, dir string, tree map[string]string) {
	t.Helper()
	for name, content := range tree {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rsyncNames runs C rsync with args and returns the names it prints
// (--out-format=%n: directories with a trailing "/"), sorted.
func rsyncNames(t *testing.T, rsync string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(rsync, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", rsync, args, err, out)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && l != "./" {
			names = append(names, strings.TrimSuffix(l, "/"))
		}
	}
	slices.Sort(names)
	return names
}

// TestRulesAgainstRsync checks, for every rule set of oracleRules, that
// the paths gsync would send (Excluded) are the ones C rsync sends with
// the same options, and that the target-only paths gsync keeps when it
// deletes (Protected) are the ones rsync --delete keeps.
func TestRulesAgainstRsync(t *testing.T) {
	t.Parallel()
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync not installed")
	}
	src := t.TempDir()
	writeTree(t, src, oracleTree)
	// The target of the delete check: the same tree with every name
	// doubled ("x.gone"), so that each is target-only.
	dst := t.TempDir()
	gone := map[string]string{}
	for name, c := range oracleTree {
		if name == ".rsync-filter" || strings.HasSuffix(name, "/.rsync-filter") {
			gone[name] = c // the receiver reads its own per-directory files
			continue
		}
		if strings.HasSuffix(name, "/") {
			gone[name] = ""
			continue
		}
		gone[name+".gone"] = ""
		gone[name] = ""
	}
	for name := range oracleTree {
		if strings.HasSuffix(name, "/") {
			gone[strings.TrimSuffix(name, "/")+"-gone/"] = ""
			gone[strings.TrimSuffix(name, "/")+"-gone/f"] = ""
		}
	}
	writeTree(t, dst, gone)
	read := func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(src, rel)) }
	for _, tc := range oracleRules {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compile(Options{Rules: specsOf(t, tc.args), Root: src, ReadFile: read,
				OnError: func(err error) { t.Error(err) }})
			if err != nil {
				t.Fatal(err)
			}
			args := append([]string{"-a", "--dry-run", "--out-format=%n"}, tc.args...)
			want := rsyncNames(t, rsync, append(args, src+"/", filepath.Join(t.TempDir(), "empty")+"/")...)
			var got []string
			err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
				if err != nil || p == src {
					return err
				}
				rel, _ := filepath.Rel(src, p)
				rel = filepath.ToSlash(rel)
				if s.Excluded(rel, d.IsDir()) {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				got = append(got, rel)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("sent:\n got  %q\n want %q (rsync %q)", got, want, tc.args)
			}

			// Deletes: rsync lists "deleting NAME" for what it removes.
			args = append([]string{"-a", "--dry-run", "--delete", "--out-format=%o %n"}, tc.args...)
			var wantDel []string
			for _, n := range rsyncNames(t, rsync, append(args, src+"/", dst+"/")...) {
				if rest, ok := strings.CutPrefix(n, "del. "); ok {
					wantDel = append(wantDel, strings.TrimSuffix(rest, "/"))
				}
			}
			slices.Sort(wantDel)
			var gotDel []string
			err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
				if err != nil || p == dst {
					return err
				}
				rel, _ := filepath.Rel(dst, p)
				rel = filepath.ToSlash(rel)
				_, inSrc := oracleTree[rel]
				if _, dirInSrc := oracleTree[rel+"/"]; (inSrc || dirInSrc && d.IsDir()) && !s.Excluded(rel, d.IsDir()) {
					return nil // sent
				}
				if !deletes(s, dst, rel, d.IsDir(), &gotDel) {
					t.Logf("kept %s", rel)
				}
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(gotDel)
			if !slices.Equal(gotDel, wantDel) {
				t.Errorf("deleted:\n got  %q\n want %q (rsync %q)", gotDel, wantDel, tc.args)
			}
		})
	}
}

// deletes models rsync's receiver deleting rel, which the source does
// not send (delete.c: delete_item, delete_dir_contents): a protected
// entry stays, a directory stays when anything in it does. It appends
// what goes to del and reports whether rel went.
func deletes(s *Set, dst, rel string, isDir bool, del *[]string) bool {
	if s.Protected(rel, isDir) {
		return false
	}
	gone := true
	if isDir {
		ents, _ := os.ReadDir(filepath.Join(dst, filepath.FromSlash(rel)))
		for _, e := range ents {
			if !deletes(s, dst, rel+"/"+e.Name(), e.IsDir(), del) {
				gone = false
			}
		}
	}
	if gone {
		*del = append(*del, rel)
	}
	return gone
}
