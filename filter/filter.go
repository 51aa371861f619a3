// Package filter matches paths against exclude and filter rules in lsyncd's
// dialect, so that watching, event filtering and transfers agree on what is
// excluded.
//
// Patterns (lsyncd.lua: Excludes.toLuaPattern, Excludes.test):
//
//   - "?" matches one character other than "/", "*" any run of characters
//     other than "/", "**" any run of characters including "/".
//   - Every other character is literal (also "[", "]" and "\").
//   - A leading "/" anchors the pattern at the source root; otherwise it may
//     match starting at any path component.
//   - A trailing "/" makes the pattern match directories only.
//   - A match must end at a component boundary: "foo" matches "foo" and
//     "a/foo" but not "foobar".
//
// Unlike lsyncd, a path is also excluded when one of its parent directories
// is: lsyncd relies on never watching excluded directories, which leaves
// moves into an excluded directory unfiltered.
//
// Filter rules ("+ pattern" / "- pattern") are checked first, in order, and
// the first match wins; when none matches, the excludes decide.
package filter

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// rule is one compiled pattern.
type rule struct {
	raw     string
	include bool // filter rules only: "+" (true) or "-" (false)
	re      *regexp.Regexp
	dirOnly bool
}

// Set is a compiled list of filters and excludes. The zero value excludes
// nothing. A Set is immutable after construction and safe for concurrent use.
type Set struct {
	filters  []rule
	excludes []rule
}

// New compiles exclude patterns and filter rules ("+ pat" or "- pat").
func New(excludes, filters []string) (*Set, error) {
	s := &Set{}
	for _, p := range excludes {
		if p == "" {
			continue
		}
		r, err := compile(p)
		if err != nil {
			return nil, err
		}
		s.excludes = append(s.excludes, r)
	}
	for _, f := range filters {
		var include bool
		switch {
		case strings.HasPrefix(f, "+ "):
			include = true
		case strings.HasPrefix(f, "- "):
		default:
			return nil, fmt.Errorf("parse filter rule %q: want \"+ pattern\" or \"- pattern\"", f)
		}
		r, err := compile(strings.TrimLeft(f[2:], " "))
		if err != nil {
			return nil, err
		}
		r.include = include
		s.filters = append(s.filters, r)
	}
	return s, nil
}

// compile translates one lsyncd pattern into a regular expression on paths
// of the form "/rel/path" (directories followed by "/").
func compile(p string) (rule, error) {
	r := rule{raw: p}
	body := p
	anchored := strings.HasPrefix(body, "/")
	if anchored {
		body = body[1:]
	}
	if strings.HasSuffix(body, "/") {
		r.dirOnly = true
		body = strings.TrimRight(body, "/")
	}
	if body == "" {
		return r, fmt.Errorf("parse pattern %q: empty pattern", p)
	}
	var b strings.Builder
	if anchored {
		b.WriteString("^/")
	} else {
		b.WriteString("/")
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '*' && i+1 < len(body) && body[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile("(?s)" + b.String())
	if err != nil {
		return r, fmt.Errorf("compile pattern %q: %w", p, err)
	}
	r.re = re
	return r, nil
}

// matchOne reports whether r matches the path /rel itself (not its parents).
func (r rule) matchOne(rel string, isDir bool) bool {
	if r.dirOnly && !isDir {
		return false
	}
	return r.re.MatchString("/" + rel)
}

// Excluded reports whether rel (slash-separated, relative to the source root)
// is excluded, either itself or through one of its parent directories.
func (s *Set) Excluded(rel string, isDir bool) bool {
	if s == nil || (len(s.excludes) == 0 && len(s.filters) == 0) {
		return false
	}
	rel = strings.Trim(rel, "/")
	if rel == "" || rel == "." {
		return false // the root is never excluded
	}
	// Parents first: an excluded directory excludes everything below it.
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && s.excludedSelf(rel[:i], true) {
			return true
		}
	}
	return s.excludedSelf(rel, isDir)
}

func (s *Set) excludedSelf(rel string, isDir bool) bool {
	for _, f := range s.filters {
		if f.matchOne(rel, isDir) {
			return !f.include
		}
	}
	for _, e := range s.excludes {
		if e.matchOne(rel, isDir) {
			return true
		}
	}
	return false
}

// Empty reports whether the set has no rules.
func (s *Set) Empty() bool { return s == nil || len(s.excludes)+len(s.filters) == 0 }

// Patterns returns the exclude patterns and filter rules as given, for status
// reports.
func (s *Set) Patterns() (excludes, filters []string) {
	if s == nil {
		return nil, nil
	}
	for _, e := range s.excludes {
		excludes = append(excludes, e.raw)
	}
	for _, f := range s.filters {
		sign := "- "
		if f.include {
			sign = "+ "
		}
		filters = append(filters, sign+f.raw)
	}
	return excludes, filters
}

// ReadExcludeFile reads an lsyncd excludeFrom file: one pattern per line;
// blank lines, "#" comments and "+" lines are skipped and a leading "- " is
// stripped (lsyncd.lua: Excludes.loadFile).
func ReadExcludeFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read exclude file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "", strings.HasPrefix(line, "#"), strings.HasPrefix(line, "+"):
			continue
		case strings.HasPrefix(line, "- "):
			line = line[2:]
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read exclude file %s: %w", path, err)
	}
	return out, nil
}

// RsyncRules returns the set as rsync filter rules ("+ PATTERN",
// "- PATTERN"), filters first, so that an rsync receiver leaves excluded
// paths alone when it deletes. lsyncd's dialect is rsync's except that "[",
// "]" and "\" are literal: they are escaped when the pattern holds a
// wildcard (rsync compares a pattern without "*?[" literally anyway).
func (s *Set) RsyncRules() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, f := range s.filters {
		sign := "- "
		if f.include {
			sign = "+ "
		}
		out = append(out, sign+rsyncPattern(f.raw))
	}
	for _, e := range s.excludes {
		out = append(out, "- "+rsyncPattern(e.raw))
	}
	return out
}

// rsyncPattern quotes an lsyncd pattern for rsync's wildmatch.
func rsyncPattern(p string) string {
	if !strings.ContainsAny(p, "*?[") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
