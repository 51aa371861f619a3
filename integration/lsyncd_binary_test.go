package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/treediff"
)

// wrapperScript is lsyncd's FAQ recipe for "run a command after each
// sync": rsync.binary names a script that runs rsync, then a command.
// This one also records each call's arguments (NUL-separated) and
// standard input in rec, numbered.
const wrapperScript = `#!/bin/sh
n=$(( $(ls %[1]s | wc -l) / 2 ))
printf '%%s\0' "$@" > %[1]s/$n.args
cat > %[1]s/$n.stdin
%[2]s "$@" < %[1]s/$n.stdin
rc=$?
touch %[3]s
exit $rc
`

// call is one recorded run of the wrapper.
type call struct {
	args  []string
	stdin []string
}

// writeWrapper writes a recording wrapper around rsync into dir; its
// calls go to dir/rec, and each creates dir/post-ran.
func writeWrapper(t *testing.T, dir string) (script, rec, post string) {
	t.Helper()
	rec, post, script = filepath.Join(dir, "rec"), filepath.Join(dir, "post-ran"), filepath.Join(dir, "rsync-and-post.sh")
	if err := os.MkdirAll(rec, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(fmt.Sprintf(wrapperScript, rec, lookBinary(t, "rsync"), post)), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, rec, post
}

// readCalls reads the recorded calls in order, with the target path
// replaced by TARGET, the short flags sorted and the standard input split
// (by NUL for a batch's include list, by newline for the startup's
// excludes) and sorted.
func readCalls(t *testing.T, rec, target string) []call {
	t.Helper()
	var out []call
	for i := 0; ; i++ {
		a, err := os.ReadFile(filepath.Join(rec, fmt.Sprintf("%d.args", i)))
		if err != nil {
			break
		}
		in, _ := os.ReadFile(filepath.Join(rec, fmt.Sprintf("%d.stdin", i)))
		var c call
		for _, s := range strings.Split(strings.TrimSuffix(string(a), "\x00"), "\x00") {
			s = strings.ReplaceAll(s, target, "TARGET")
			if strings.HasPrefix(s, "-") && !strings.HasPrefix(s, "--") {
				b := []byte(s[1:])
				slices.Sort(b)
				s = "-" + string(b)
			}
			c.args = append(c.args, s)
		}
		sep := "\n"
		if slices.Contains(c.args, "--from0") {
			sep = "\x00"
		}
		if len(in) > 0 {
			c.stdin = strings.Split(string(in), sep)
			sort.Strings(c.stdin)
		}
		out = append(out, c)
	}
	return out
}

// TestLsyncdRsyncBinaryWrapper: a default.rsync sync whose rsync.binary
// is a wrapper script (lsyncd's FAQ recipe) has its startup sync and its
// batches run through the script, never a shell command line, with the
// arguments and standard input lsyncd 2.2.3 gives it: the target ends
// equal to the source and the post command ran. With lsyncd installed,
// lsyncd runs the same config with its own copy of the script and both
// record the same calls (short flags and include lists compared as sets:
// lsyncd orders them by a Lua table walk).
func TestLsyncdRsyncBinaryWrapper(t *testing.T) {
	t.Parallel()
	lookBinary(t, "rsync")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	for _, p := range []string{"a/b", "keep"} {
		if err := os.MkdirAll(filepath.Join(src, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range []string{"a/f1", "a/b/f2", "keep/f3", "x.o", "top"} {
		if err := os.WriteFile(filepath.Join(src, p), []byte(strings.Repeat("z", i*10)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type tool struct {
		name, target, rec, post string
		proc                    func() (stop func() int)
	}
	conf := func(target, script string) string {
		return writeConfig(t, fmt.Sprintf(`settings { nodaemon = true }
sync { default.rsync, source = %q, target = %q, delay = 1, exclude = { "*.o" },
       rsync = { binary = %q, archive = true, _extra = { "--omit-dir-times" } } }
`, src, target, script))
	}
	var tools []*tool
	for _, name := range []string{"gsync", "lsyncd"} {
		tl := &tool{name: name, target: filepath.Join(dir, name+"-dst")}
		var script string
		script, tl.rec, tl.post = writeWrapper(t, filepath.Join(dir, name))
		c := conf(tl.target, script)
		if name == "gsync" {
			tl.proc = func() func() int {
				g := startGsync(t, nil, c)
				return func() int { return g.stop(syscall.SIGTERM) }
			}
		} else {
			lsyncd, err := exec.LookPath("lsyncd")
			if err != nil {
				t.Log("lsyncd not installed: gsync's calls are checked alone")
				continue
			}
			tl.proc = func() func() int {
				p, _ := startLsyncdCmd(t, exec.Command(lsyncd, "-nodaemon", c))
				return func() int { p.stop(); return 0 }
			}
		}
		tools = append(tools, tl)
	}
	excludeO := treediff.Options{Exclude: func(rel string, isDir bool) bool { return strings.HasSuffix(rel, ".o") }, SkipDirMtimes: true}
	var stops []func() int
	for _, tl := range tools {
		stops = append(stops, tl.proc())
	}
	waitAll := func() {
		for _, tl := range tools {
			waitEqual(t, src, tl.target, 30*time.Second, excludeO)
		}
	}
	waitAll()
	// Batches: a new file deep in a new dir, a deleted file, a name with
	// rsync's pattern characters.
	os.MkdirAll(filepath.Join(src, "n/m"), 0o755)
	os.WriteFile(filepath.Join(src, "n/m/new"), []byte("new"), 0o644)
	os.WriteFile(filepath.Join(src, "odd [1]*?"), []byte("odd"), 0o644)
	os.Remove(filepath.Join(src, "keep/f3"))
	waitAll()
	for _, stop := range stops {
		stop()
	}
	calls := map[string][]call{}
	for _, tl := range tools {
		if _, err := os.Stat(tl.post); err != nil {
			t.Errorf("%s: the wrapper's post command did not run: %v", tl.name, err)
		}
		calls[tl.name] = readCalls(t, tl.rec, tl.target)
	}
	g := calls["gsync"]
	if len(g) < 2 {
		t.Fatalf("gsync ran the wrapper %d times, want a startup and at least one batch: %+v", len(g), g)
	}
	wantStartup := call{args: []string{"--exclude-from=-", "--delete", "--ignore-errors", "-Dglopst", "--omit-dir-times", "-r", src + "/", "TARGET/"},
		stdin: []string{"*.o"}}
	if !slices.Equal(g[0].args, wantStartup.args) || !slices.Equal(g[0].stdin, wantStartup.stdin) {
		t.Errorf("gsync startup call = %q stdin %q\nwant %q stdin %q", g[0].args, g[0].stdin, wantStartup.args, wantStartup.stdin)
	}
	wantBatch := []string{"-Dglopst", "--omit-dir-times", "-r", "--delete", "--ignore-errors", "--force", "--from0", "--include-from=-", "--exclude=*", src + "/", "TARGET/"}
	union := func(cs []call) []string {
		var all []string
		for _, c := range cs {
			all = append(all, c.stdin...)
		}
		slices.Sort(all)
		return slices.Compact(all)
	}
	for _, c := range g[1:] {
		if !slices.Equal(c.args, wantBatch) {
			t.Errorf("gsync batch call = %q, want %q", c.args, wantBatch)
		}
	}
	wantList := []string{"/", "/keep/", "/keep/f3", "/n/", "/n/m/", "/n/m/new", `/odd \[1\]\*\?`}
	if got := union(g[1:]); !isSubset(wantList, got) {
		t.Errorf("gsync include lists = %q, want at least %q", got, wantList)
	}
	if l, ok := calls["lsyncd"]; ok {
		if len(l) < 2 {
			t.Fatalf("lsyncd ran the wrapper %d times: %+v", len(l), l)
		}
		if !slices.Equal(l[0].args, g[0].args) || !slices.Equal(l[0].stdin, g[0].stdin) {
			t.Errorf("startup calls differ:\nlsyncd %q %q\ngsync  %q %q", l[0].args, l[0].stdin, g[0].args, g[0].stdin)
		}
		for _, c := range l[1:] {
			if !slices.Equal(c.args, wantBatch) {
				t.Errorf("lsyncd batch call = %q, gsync's are %q", c.args, wantBatch)
			}
		}
		if !isSubset(wantList, union(l[1:])) {
			t.Errorf("lsyncd include lists = %q, gsync's %q", union(l[1:]), union(g[1:]))
		}
	}
}

// isSubset reports whether every element of want is in got.
func isSubset(want, got []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}
