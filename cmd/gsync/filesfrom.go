package main

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/gsync/gsync/filter"
)

// readFilesFrom reads rsync's --files-from FILE: one path per line (NUL
// with --from0), blank lines and lines starting with "#" or ";" skipped
// (io.c:read_line, RL_DUMP_COMMENTS), a leading "/" and "./" dropped
// and the path cleaned (flist.c: sanitize_path). A path that climbs out
// of SRC is an error, and so is one holding "*" or "?", which gsync's
// rule dialect cannot match literally. It returns nil when "." (the
// whole tree) is listed.
func readFilesFrom(file string, from0 bool) ([]string, error) {
	if file == "-" || strings.Contains(file, ":") {
		return nil, fmt.Errorf("--files-from %s: want a local file (standard input and remote files are not supported)", file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read --files-from: %w", err)
	}
	sep := []byte{'\n'}
	if from0 {
		sep = []byte{0}
	}
	var out []string
	for _, line := range bytes.Split(b, sep) {
		s := strings.TrimRight(string(line), "\r")
		if !from0 {
			s = strings.TrimRight(s, "\n")
		}
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		p := path.Clean("/" + s)[1:]
		if p == "" {
			return nil, nil // "." or "/": the whole tree
		}
		if strings.ContainsAny(p, "*?") {
			return nil, fmt.Errorf("--files-from %s: %q holds a wildcard character, which gsync's rules cannot match literally", file, s)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--files-from %s lists no path", file)
	}
	return out, nil
}

// filesFromRules turns the listed paths into filter rules that limit a
// sync to them, each listed directory with everything below it (rsync
// -r --files-from), their parent directories without their other
// entries: the user's filters first, then the excludes and exclude
// files (as "- " rules, so that they still apply inside the listed
// paths), then "+ " rules for the paths and their parents, then "- *".
func filesFromRules(paths, filters, excludes, excludeFrom []string) ([]string, error) {
	rules := append([]string(nil), filters...)
	for _, f := range excludeFrom {
		pats, err := filter.ReadExcludeFile(f)
		if err != nil {
			return nil, err
		}
		excludes = append(append([]string(nil), excludes...), pats...)
	}
	for _, e := range excludes {
		if e != "" {
			rules = append(rules, "- "+e)
		}
	}
	seen := map[string]bool{}
	for _, p := range paths {
		var parents []string
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			parents = append(parents, d)
		}
		for i := len(parents) - 1; i >= 0; i-- {
			if r := "+ /" + parents[i] + "/"; !seen[r] {
				seen[r] = true
				rules = append(rules, r)
			}
		}
		if r := "+ /" + p; !seen[r] {
			seen[r] = true
			rules = append(rules, r, "+ /"+p+"/**")
		}
	}
	return append(rules, "- *"), nil
}
