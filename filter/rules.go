package filter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// side is the side of a transfer a check is made for (exclude.c: the
// elide values of send_rules; gsync is always the sender).
type side uint8

const (
	sideSender   side = iota // what is watched, listed and sent
	sideReceiver             // what a target keeps when it deletes
)

// applies reports whether r is a rule of side sd: a rule without a side
// applies to both.
func (r *rsyncRule) applies(sd side) bool {
	switch r.flags & (fSender | fReceiver) {
	case fSender:
		return sd == sideSender
	case fReceiver:
		return sd == sideReceiver
	}
	return true
}

// compileRules parses the command line's rsync filter options in order
// (options.c: the OPT_FILTER ... cases) into s.rules.
func (s *Set) compileRules(specs []Spec) error {
	p := &parser{s: s, read: readLocal}
	var err error
	fCount := 0
	for _, sp := range specs {
		origin := sp.Kind.String()
		switch sp.Kind {
		case SpecFilter:
			s.rules, err = p.parseStr(s.rules, sp.Arg, 0, 0, origin)
		case SpecInclude:
			s.rules, err = p.parseStr(s.rules, sp.Arg, fInclude, xOldPrefixes, origin)
		case SpecExclude:
			s.rules, err = p.parseStr(s.rules, sp.Arg, 0, xOldPrefixes, origin)
		case SpecIncludeFrom, SpecExcludeFrom:
			var tmpl rflags
			if sp.Kind == SpecIncludeFrom {
				tmpl = fInclude
			}
			data, rerr := os.ReadFile(sp.Arg)
			if rerr != nil {
				return fmt.Errorf("read %s file: %w", origin, rerr)
			}
			s.rules, err = p.parseFile(s.rules, data, sp.Arg, tmpl, xOldPrefixes|xFatalErrors)
		case SpecF:
			// options.c, case 'F': the first -F adds a per-directory
			// .rsync-filter, the second excludes those files.
			fCount++
			switch fCount {
			case 1:
				s.rules, err = p.parseStr(s.rules, ": /.rsync-filter", 0, 0, "-F")
			case 2:
				s.rules, err = p.parseStr(s.rules, "- .rsync-filter", 0, 0, "-FF")
			}
		default:
			return fmt.Errorf("compile filter option %v: unknown kind", sp.Kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// query is what checkRules matches: a path, or an xattr name of the
// entry at a path (exclude.c: name_flags NAME_IS_DIR, NAME_IS_XATTR).
type query struct {
	rel   string // slash-separated, relative to the source root
	isDir bool
	// xattr is the xattr name to match ("" a path): only rules with
	// the x modifier match it, and only it (exclude.c: rule_matches).
	xattr string
	sd    side
	// perishable false skips perishable rules (the p modifier), as
	// rsync's receiver skips them in a directory it deletes (delete.c:
	// ignore_perishable).
	perishable bool
}

// checkRules returns the first rule of list that matches q (exclude.c:
// check_filter), nil when none does. A per-directory merge rule stands
// for the rules of its files in the directory of q.rel and the
// directories above it, a "-C" rule for the global CVS ignore list.
func (s *Set) checkRules(list []*rsyncRule, q query) *rsyncRule {
	for _, r := range list {
		if !q.perishable && r.flags&fPerishable != 0 {
			continue
		}
		if r.flags&fPerDir != 0 {
			if q.rel == "." {
				continue // the root is listed before its own files are read (xattr queries)
			}
			if m := s.checkRules(s.dirList(r.merge, path.Dir(q.rel)), q); m != nil {
				return m
			}
			continue
		}
		if r.flags&fCVS != 0 {
			s.cvsMu.Lock()
			cvs := s.cvs
			s.cvsMu.Unlock()
			if m := s.checkRules(cvs, q); m != nil {
				return m
			}
			continue
		}
		if !r.applies(q.sd) {
			continue
		}
		if (r.flags&fXattr != 0) != (q.xattr != "") {
			continue // x rules match xattr names only, the others paths only
		}
		if q.xattr != "" {
			if r.matches(q.xattr, false, "") {
				return r
			}
			continue
		}
		if r.matches(q.rel, q.isDir, s.root) {
			return r
		}
	}
	return nil
}

// dirList returns the rules per-directory merge rule m gives the
// entries of dir: the rules of dir's own file first, then those
// inherited from the directories above it, up to the rule's base,
// unless the rule has the n modifier or the file cleared the list with
// "!" (exclude.c: push_local_filters, pop_filter_list).
func (s *Set) dirList(m int, dir string) []*rsyncRule {
	key := dirKey{m, dir}
	s.mu.Lock()
	list, ok := s.dirRules[key]
	mr := s.merges[m]
	s.mu.Unlock()
	if ok {
		return list
	}
	if dir != mr.base && !within(dir, mr.base) {
		return nil // the rule is not in force here
	}
	// The directories above first, as rsync reads them on its way
	// down: a dir-merge rule they give is known before this file's.
	var inherited []*rsyncRule
	if mr.flags&fNoInherit == 0 && dir != mr.base && dir != "." {
		inherited = s.dirList(m, path.Dir(dir))
	}
	list, cleared := s.readDirFile(mr, dir)
	if !cleared {
		list = append(list[:len(list):len(list)], inherited...)
	}
	s.mu.Lock()
	if s.dirRules == nil {
		s.dirRules = map[dirKey][]*rsyncRule{}
	}
	s.dirRules[key] = list
	s.mu.Unlock()
	return list
}

// within reports whether dir is below base ("." is the source root).
func within(dir, base string) bool {
	return base == "." && dir != "." || strings.HasPrefix(dir, base+"/")
}

// readDirFile reads and parses mr's file in dir; a missing file gives no
// rules, an unreadable or invalid one is reported to OnError and gives
// none either. cleared reports a "!" rule in the file.
func (s *Set) readDirFile(mr mergeRule, dir string) (rules []*rsyncRule, cleared bool) {
	if s.readFile == nil {
		return nil, false
	}
	name := path.Join(dir, mr.name)
	data, err := s.readFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	if err == nil {
		p := &parser{s: s, dir: dir, depth: 1, read: func(n string) ([]byte, string, error) {
			rel := path.Join(dir, n)
			if path.IsAbs(n) || rel == ".." || strings.HasPrefix(rel, "../") {
				return nil, "", fmt.Errorf("merge file %s is outside the source", n)
			}
			data, err := s.readFile(rel)
			return data, rel, err
		}}
		var list []*rsyncRule
		if list, err = p.parseFile(nil, data, name, mr.flags&^(fMerge|fPerDir|fExcludeSelf), xAnchored2Abs); err == nil {
			return list, p.cleared
		}
	}
	if s.onError != nil {
		s.onError(fmt.Errorf("read per-directory filter file %s: %w", name, err))
	}
	return nil, false
}

// addMerge registers a per-directory merge rule and returns its index.
// dup reports a rule whose file is read already where mr would be read
// (exclude.c: add_rule does not add a merge file already mentioned): a
// command-line rule's, or one given in mr's base or above it. A rule
// read again (its file re-read after Invalidate) keeps its index and
// takes the new flags.
func (s *Set) addMerge(mr mergeRule) (idx int, dup bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.merges {
		switch {
		case o.name != mr.name:
		case o.base == mr.base && mr.base != ".":
			s.merges[i] = mr
			return i, false
		case o.base == "." || within(mr.base, o.base):
			return i, true
		}
	}
	s.merges = append(s.merges, mr)
	return len(s.merges) - 1, false
}

// loadCVS parses the global CVS ignore list once (exclude.c:
// get_cvs_excludes): rsync's default list (perishable rules), the
// words of CVSHome's .cvsignore, then those of $CVSIGNORE, with the
// flags of the first "-C" rule.
func (s *Set) loadCVS(flags rflags) error {
	s.cvsMu.Lock()
	defer s.cvsMu.Unlock()
	if s.cvsLoaded {
		return nil
	}
	s.cvsLoaded = true
	p := &parser{s: s, read: readLocal}
	tmpl := flags
	list, err := p.parseStr(nil, defaultCVSIgnore, tmpl|fPerishable, 0, "rsync's default CVS ignore list, -C")
	if err != nil {
		return err
	}
	if s.cvsHome != "" {
		name := path.Join(s.cvsHome, ".cvsignore")
		data, err := os.ReadFile(name)
		switch {
		case err == nil:
			if list, err = p.parseFile(list, data, name, tmpl, 0); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("read CVS ignore file: %w", err)
		}
	}
	if list, err = p.parseStr(list, s.cvsEnv, tmpl, 0, "$CVSIGNORE"); err != nil {
		return err
	}
	s.cvs = list
	return nil
}

// IsMergeFile reports whether rel is a per-directory merge file of the
// set (its name is a dir-merge rule's, for example .rsync-filter with
// -F): a change of it changes the rules below its directory.
func (s *Set) IsMergeFile(rel string) bool {
	if s == nil {
		return false
	}
	base := path.Base(rel)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.merges {
		if m.name == base {
			return true
		}
	}
	return false
}

// MergeFilesAbove returns the absolute paths of the per-directory merge
// files that rsync would also read in the directories above the source
// root (a command-line dir-merge name with a directory part there, as
// -F's "/.rsync-filter"), whether they exist or not: gsync reads none
// outside the source, so the caller can warn about one that exists.
func (s *Set) MergeFilesAbove() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	root := filepath.Clean(s.root)
	for _, m := range s.merges {
		if m.above == "" {
			continue
		}
		// exclude.c: setup_merge_file reads the file in m.above and in
		// each directory below it down to the root's parent.
		for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
			out = append(out, filepath.Join(dir, m.name))
			if dir == m.above || dir == filepath.Dir(dir) {
				break
			}
		}
	}
	return out
}

// HasMergeRules reports whether the set has per-directory merge rules
// (dir-merge, -F, -C's .cvsignore).
func (s *Set) HasMergeRules() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.merges) > 0
}

// Invalidate forgets the per-directory merge files read for dir and
// every directory below it: they are read again when next needed.
func (s *Set) Invalidate(dir string) {
	if s == nil {
		return
	}
	dir = strings.Trim(dir, "/")
	if dir == "" {
		dir = "."
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.dirRules {
		if dir == "." || k.dir == dir || strings.HasPrefix(k.dir, dir+"/") {
			delete(s.dirRules, k)
		}
	}
}
