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
//
// A Set also holds rules in rsync's own syntax (Compile, Spec: the
// command line's --filter, --include, --exclude, --include-from,
// --exclude-from and -F, see rsync.go), checked before the lsyncd lists:
// rule prefixes and modifiers, merge and per-directory merge files
// (.rsync-filter), and rsync's wildmatch ("[...]" classes, "\" escapes,
// "**", "/dir/***"). Sender-side rules (H, S, the s modifier) decide what
// is watched and sent (Excluded); receiver-side rules (P, R, the r
// modifier) what a target keeps when it deletes (Protected). Rules with
// the x modifier match xattr names instead of paths: which names the
// sender leaves out (XattrExcluded) and which target names a receiver
// leaves alone (XattrProtected).
package filter

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// rule is one compiled pattern.
type rule struct {
	raw     string
	include bool // filter rules only: "+" (true) or "-" (false)
	re      *regexp.Regexp
	dirOnly bool
}

// Set is a compiled list of filters and excludes. The zero value excludes
// nothing. A Set is safe for concurrent use; its rules are fixed at
// construction, except that the per-directory merge files it read are
// read again after Invalidate.
type Set struct {
	filters  []rule
	excludes []rule

	// rules are the rsync-syntax rules, checked first.
	rules []*rsyncRule
	// tail are -C's rules (":C" and "-C"), checked last: rsync appends
	// them after all the others (exclude.c: send_filter_list).
	tail     []*rsyncRule
	root     string
	readFile func(rel string) ([]byte, error)
	onError  func(error)
	// deleteExcluded: rules without a side are the sender's
	// (--delete-excluded).
	deleteExcluded bool
	// cvs is the global CVS ignore list a "-C" rule stands for, read
	// once from cvsHome's .cvsignore and cvsEnv (a "-C" rule in a
	// per-directory file may read it while the set is in use: cvsMu).
	cvsMu           sync.Mutex
	cvs             []*rsyncRule
	cvsLoaded       bool
	cvsHome, cvsEnv string

	// sawXattr: a rule with the x modifier was read (exclude.c:
	// saw_xattr_filter), here or in a per-directory file.
	sawXattr atomic.Bool

	mu       sync.Mutex
	merges   []mergeRule             // per-directory merge rules; dir-merge rules in per-directory files add to them
	dirRules map[dirKey][]*rsyncRule // per-directory merge files read so far
}

type dirKey struct {
	merge int
	dir   string
}

// Options are what Compile builds a Set from.
type Options struct {
	// Excludes and Filters are lsyncd's exclude patterns and "+ pat" /
	// "- pat" filter rules, in lsyncd's dialect (as for New).
	Excludes, Filters []string
	// Rules are rsync filter options in rsync's meaning, in the order
	// given; they are checked before Filters and Excludes.
	Rules []Spec
	// Root is the source root's absolute path: the "/" modifier matches
	// it joined with the path.
	Root string
	// ReadFile reads a per-directory merge file (dir-merge, -F) at rel,
	// relative to Root and beneath it; a missing file is an error that
	// satisfies errors.Is(err, fs.ErrNotExist). Nil reads nothing: every
	// per-directory file is missing.
	ReadFile func(rel string) ([]byte, error)
	// OnError, if set, is told about a per-directory merge file that
	// could not be read or parsed (its rules are then left out, as
	// rsync leaves out an unreadable one).
	OnError func(error)
	// DeleteExcluded is rsync's --delete-excluded: rules without a side
	// (and lsyncd's lists) become the sender's, so excluded paths are
	// deleted on the target, while P, R and the r modifier's rules
	// still protect (Protected) and still go to the receiver
	// (RsyncRules) (exclude.c: parse_rule_tok, send_rules).
	DeleteExcluded bool
	// CVSExclude is rsync's -C: ":C" (a .cvsignore in each directory,
	// its words excluded there) and "-C" (the global CVS ignore list)
	// after every other rule (exclude.c: send_filter_list).
	CVSExclude bool
	// CVSHome is the directory whose .cvsignore adds to the global CVS
	// ignore list of -C and of a "-C" rule ($HOME; "" none), CVSEnv
	// the words of $CVSIGNORE (exclude.c: get_cvs_excludes).
	CVSHome, CVSEnv string
}

// New compiles exclude patterns and filter rules ("+ pat" or "- pat").
func New(excludes, filters []string) (*Set, error) {
	return Compile(Options{Excludes: excludes, Filters: filters})
}

// Compile compiles o into a Set.
func Compile(o Options) (*Set, error) {
	excludes, filters := o.Excludes, o.Filters
	s := &Set{root: o.Root, readFile: o.ReadFile, onError: o.OnError, deleteExcluded: o.DeleteExcluded,
		cvsHome: o.CVSHome, cvsEnv: o.CVSEnv}
	if err := s.compileRules(o.Rules); err != nil {
		return nil, err
	}
	if o.CVSExclude {
		p := &parser{s: s, read: readLocal}
		var err error
		if s.tail, err = p.parseStr(nil, ":C", 0, 0, "-C"); err != nil {
			return nil, err
		}
		if s.tail, err = p.parseStr(s.tail, "-C", 0, 0, "-C"); err != nil {
			return nil, err
		}
	}
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
// Rules of the sender's side (H, S, the s modifier, and every rule
// without a side) decide; rsync's receiver-side rules (P, R, r) do not.
func (s *Set) Excluded(rel string, isDir bool) bool {
	return s.excluded(rel, isDir, sideSender)
}

// Protected reports whether a target entry at rel, which the source
// lacks or does not send, is kept when a target deletes: the rules of
// the receiver's side (P, R, the r modifier, and every rule without a
// side) decide; H and S do not (a hidden path is not sent, and deleted
// on the target, as rsync's receiver does). As in rsync (generator.c:
// delete_in_dir checks the entries of directories in the file list), a
// parent directory's rule protects rel only when that parent is not
// sent either; a target deleting a directory asks for the directory
// first and keeps it, and what is protected in it, when Protected says
// so for anything in it.
func (s *Set) Protected(rel string, isDir bool) bool { return s.protected(rel, isDir, true) }

// ProtectedInside is Protected for an entry inside a target directory
// that is being deleted: perishable rules (the p modifier, -C's default
// list) do not keep it there (delete.c: delete_item sets
// ignore_perishable for the directory's contents).
func (s *Set) ProtectedInside(rel string, isDir bool) bool { return s.protected(rel, isDir, false) }

func (s *Set) protected(rel string, isDir, perishable bool) bool {
	if s.Empty() {
		return false
	}
	rel = strings.Trim(rel, "/")
	if rel == "" || rel == "." {
		return false
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && s.excludedSelf(rel[:i], true, sideReceiver, perishable) && s.Excluded(rel[:i], true) {
			return true
		}
	}
	return s.excludedSelf(rel, isDir, sideReceiver, perishable)
}

func (s *Set) excluded(rel string, isDir bool, sd side) bool {
	if s.Empty() {
		return false
	}
	rel = strings.Trim(rel, "/")
	if rel == "" || rel == "." {
		return false // the root is never excluded
	}
	// Parents first: an excluded directory excludes everything below it.
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && s.excludedSelf(rel[:i], true, sd, true) {
			return true
		}
	}
	return s.excludedSelf(rel, isDir, sd, true)
}

func (s *Set) excludedSelf(rel string, isDir bool, sd side, perishable bool) bool {
	if r := s.checkRules(s.rules, query{rel: rel, isDir: isDir, sd: sd, perishable: perishable}); r != nil {
		return r.flags&fInclude == 0
	}
	if !s.deleteExcluded || sd == sideSender {
		// lsyncd's lists have no side: the sender's with
		// --delete-excluded.
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
	}
	if r := s.checkRules(s.tail, query{rel: rel, isDir: isDir, sd: sd, perishable: perishable}); r != nil {
		return r.flags&fInclude == 0
	}
	return false
}

// XattrExcluded reports whether rsync's xattr name rules (the x
// modifier) leave the xattr name of the entry rel out on the sender's
// side (xattrs.c: rsync_xal_get asks name_is_excluded with
// NAME_IS_XATTR): the first x rule of the sender's side that matches
// name decides, per-directory files of rel's directory included; no
// match keeps it. ruled is false when no x rule was read (exclude.c:
// saw_xattr_filter): then rsync's default namespace rule applies
// instead (system.* left out), which is the caller's.
func (s *Set) XattrExcluded(rel, name string) (excluded, ruled bool) {
	return s.xattrExcluded(rel, name, sideSender)
}

// XattrProtected reports whether a target keeps the xattr name of its
// entry rel as it is, neither set from the source nor removed, because
// an x rule of the receiver's side (the r modifier, P, and every x rule
// without a side) excludes it (xattrs.c: receive_xattr and
// rsync_xal_set ask name_is_excluded with NAME_IS_XATTR). ruled is as
// for XattrExcluded.
func (s *Set) XattrProtected(rel, name string) (protected, ruled bool) {
	return s.xattrExcluded(rel, name, sideReceiver)
}

func (s *Set) xattrExcluded(rel, name string, sd side) (excluded, ruled bool) {
	if s == nil || !s.sawXattr.Load() {
		return false, false
	}
	rel = strings.Trim(rel, "/")
	if rel == "" {
		rel = "."
	}
	q := query{rel: rel, xattr: name, sd: sd, perishable: true}
	r := s.checkRules(s.rules, q)
	if r == nil {
		r = s.checkRules(s.tail, q)
	}
	return r != nil && r.flags&fInclude == 0, true
}

// Empty reports whether the set has no rules.
func (s *Set) Empty() bool {
	return s == nil || len(s.excludes)+len(s.filters)+len(s.rules)+len(s.tail) == 0
}

// Patterns returns the exclude patterns and filter rules as given, for status
// reports; the rsync-syntax rules come first among the filters, each in
// rsync's short form ("- *.o", "+ keep/", ": .rsync-filter").
func (s *Set) Patterns() (excludes, filters []string) {
	if s == nil {
		return nil, nil
	}
	for _, e := range s.excludes {
		excludes = append(excludes, e.raw)
	}
	for _, r := range s.rules {
		filters = append(filters, r.render())
	}
	for _, f := range s.filters {
		sign := "- "
		if f.include {
			sign = "+ "
		}
		filters = append(filters, sign+f.raw)
	}
	for _, r := range s.tail {
		filters = append(filters, r.render())
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
// "- PATTERN"): the rsync-syntax rules the receiver needs as rsync's
// sender sends them (sender-only rules left out, dir-merge rules as ":"
// rules for the receiver to read its own per-directory files), then the
// lsyncd filters, so that an rsync receiver leaves excluded
// paths alone when it deletes, then -C's ":C" and its CVS ignore list.
// lsyncd's dialect is rsync's except that "[",
// "]" and "\" are literal: they are escaped when the pattern holds a
// wildcard (rsync compares a pattern without "*?[" literally anyway).
// With DeleteExcluded only the receiver's rules go (P, R, the r
// modifier, dir-merge rules whose files may hold them), as
// exclude.c:send_rules elides the others.
func (s *Set) RsyncRules() []string {
	if s == nil {
		return nil
	}
	var out []string
	out = s.sendRules(out, s.rules)
	if !s.deleteExcluded {
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
	}
	return s.sendRules(out, s.tail)
}

// sendRules appends the rules of list the receiver gets to out
// (exclude.c: send_rules): a "-C" rule as the CVS ignore list it
// stands for.
func (s *Set) sendRules(out []string, list []*rsyncRule) []string {
	for _, r := range list {
		switch {
		case r.flags&(fSender|fReceiver) == fSender:
			continue // only for the sender
		case s.deleteExcluded && r.flags&fReceiver == 0 && (r.flags&fPerDir == 0 || r.flags&fNoPrefixes != 0):
			continue // --delete-excluded: the sender's
		case r.flags&fCVS != 0 && r.flags&fMerge == 0:
			s.cvsMu.Lock()
			cvs := s.cvs
			s.cvsMu.Unlock()
			out = s.sendRules(out, cvs)
			continue
		}
		out = append(out, r.render())
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
