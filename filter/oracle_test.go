package filter

import (
	"io/fs"
	"os"
	"os/exec"
	"path"
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
	"logs/old/zz": "", "src/deep/er/h.c": "", "build/sub/keep.gone": "",
	// per-directory rules (-F), a dir-merge rule in them (src's, and
	// logs/old's, whose directory part names logs), a "!" that clears
	// the inherited rules (logs/old)
	".rsync-filter": "- *.log\n+ /docs/B.md\n", "src/.rsync-filter": "- /main.o\n# comment\n; comment\n- k.c\n: .more\n",
	"src/deep/.more": "- h.c\n", "src/.more": "- /main.c\n",
	"logs/.rsync-filter": "+ x.log\n", "docs/.rsync-filter": "- tmp/\nP *.gone\n",
	"logs/old/.rsync-filter": "!\n: ../.lm\n", "logs/.lm": "- zz\n",
	// per-directory CVS ignore files (-C, ":C"): words, not inherited
	"src/.cvsignore": "main.c  k.c\n", "docs/.cvsignore": "9.md !\na.md\tnone\n",
}

// oracleTargetOnly are entries only the targets of the delete check
// have: a directory whose names -C's default list (perishable rules)
// keeps only outside a deleted directory.
var oracleTargetOnly = []string{"extra-gone/", "extra-gone/core", "extra-gone/a.o", "src/x.o", "x.junk"}

// oracleHome is the HOME of the -C rows: its .cvsignore adds to the
// global CVS list, as does $CVSIGNORE (oracleCVSEnv).
var oracleHome = map[string]string{".cvsignore": "B.md\n"}

const oracleCVSEnv = "*.junk out.bin"

// isMergeName reports whether name is a per-directory file of the
// oracle rules: the receiver reads its own copy.
func isMergeName(name string) bool {
	switch path.Base(name) {
	case ".rsync-filter", ".more", ".lm", ".cvsignore":
		return true
	}
	return false
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
	{"dir-merge root dir part", []string{"--filter", "dir-merge $SRC/.rsync-filter"}},
	{"dir-merge inner dir part", []string{"--filter", "dir-merge $SRC/src/.more"}},
	{"C dir-merge", []string{"--filter", ":C"}},
	{"C rule", []string{"--filter", "-C", "--exclude", "*.c"}},
	{"C merge", []string{"--filter", "merge,C $SRC/src/.cvsignore"}},
	{"cvs-exclude", []string{"-C"}},
	{"cvs-exclude after own rules", []string{"-C", "--include", "core", "--include", "*.o", "--filter", "P *.junk"}},
	{"cvs-exclude with F", []string{"-F", "-C"}},
	{"delete-excluded", []string{"--delete-excluded", "--exclude", "*.o", "--filter", "P /build/", "--filter", "-r *.log",
		"--filter", "R /build/sub/keep.gone", "--exclude", "build/"}},
	{"delete-excluded F", []string{"--delete-excluded", "-F"}},
	{"delete-excluded cvs", []string{"--delete-excluded", "-C", "--filter", "P extra-gone/"}},
	// xattr name rules never match a path (exclude.c:rule_matches).
	{"xattr rules", []string{"--filter", "-x *.o", "--filter", "-x! *.c", "--filter", "Px core", "--exclude", "*.log", "--filter", "-xr *"}},
}

// optionsOf turns rsync options into Options: Specs, -C and
// --delete-excluded.
func optionsOf(t *testing.T, args []string) Options {
	var o Options
	for i := 0; i < len(args); i++ {
		kind := map[string]SpecKind{"--filter": SpecFilter, "--include": SpecInclude, "--exclude": SpecExclude,
			"--include-from": SpecIncludeFrom, "--exclude-from": SpecExcludeFrom, "-F": SpecF}[args[i]]
		switch args[i] {
		case "-F":
			o.Rules = append(o.Rules, Spec{Kind: SpecF})
			continue
		case "-C":
			o.CVSExclude = true
			continue
		case "--delete-excluded":
			o.DeleteExcluded = true
			continue
		}
		if kind == 0 && args[i] != "--filter" {
			t.Fatalf("unknown option %s", args[i])
		}
		i++
		o.Rules = append(o.Rules, Spec{Kind: kind, Arg: args[i]})
	}
	return o
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
func rsyncNames(t *testing.T, env []string, rsync string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(rsync, args...)
	cmd.Env = append(os.Environ(), env...)
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
	home := t.TempDir()
	writeTree(t, home, oracleHome)
	env := []string{"HOME=" + home, "CVSIGNORE=" + oracleCVSEnv}
	// The target of the delete check: the same tree with every name
	// doubled ("x.gone"), so that each is target-only.
	dst := t.TempDir()
	gone := map[string]string{}
	for _, name := range oracleTargetOnly {
		gone[name] = ""
	}
	for name, c := range oracleTree {
		if isMergeName(name) {
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
			var rargs []string
			for _, a := range tc.args {
				rargs = append(rargs, strings.ReplaceAll(a, "$SRC", src))
			}
			o := optionsOf(t, rargs)
			o.Root, o.ReadFile, o.OnError = src, read, func(err error) { t.Error(err) }
			o.CVSHome, o.CVSEnv = home, oracleCVSEnv
			s, err := Compile(o)
			if err != nil {
				t.Fatal(err)
			}
			args := append([]string{"-a", "--dry-run", "--out-format=%n"}, rargs...)
			want := rsyncNames(t, env, rsync, append(args, src+"/", filepath.Join(t.TempDir(), "empty")+"/")...)
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
				t.Errorf("sent:\n got  %q\n want %q (rsync %q)", got, want, rargs)
			}

			// Deletes: rsync lists "deleting NAME" for what it removes.
			args = append([]string{"-a", "--dry-run", "--delete", "--out-format=%o %n"}, rargs...)
			var wantDel []string
			for _, n := range rsyncNames(t, env, rsync, append(args, src+"/", dst+"/")...) {
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
				if !deletes(s, dst, rel, d.IsDir(), false, &gotDel) {
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
				t.Errorf("deleted:\n got  %q\n want %q (rsync %q)", gotDel, wantDel, rargs)
			}
		})
	}
}

// deletes models rsync's receiver deleting rel, which the source does
// not send (delete.c: delete_item, delete_dir_contents): a protected
// entry stays (inside a deleted directory, perishable rules do not
// protect), a directory stays when anything in it does. It appends
// what goes to del and reports whether rel went.
func deletes(s *Set, dst, rel string, isDir, inside bool, del *[]string) bool {
	if !inside && s.Protected(rel, isDir) || inside && s.ProtectedInside(rel, isDir) {
		return false
	}
	gone := true
	if isDir {
		ents, _ := os.ReadDir(filepath.Join(dst, filepath.FromSlash(rel)))
		for _, e := range ents {
			if !deletes(s, dst, rel+"/"+e.Name(), e.IsDir(), true, del) {
				gone = false
			}
		}
	}
	if gone {
		*del = append(*del, rel)
	}
	return gone
}
