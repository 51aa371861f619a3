package filter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
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

// checkRules returns the first rule of list that matches rel for side
// sd (exclude.c: check_filter), nil when none does. A per-directory
// merge rule stands for the rules of its files in rel's directory and
// the directories above it.
func (s *Set) checkRules(list []*rsyncRule, rel string, isDir bool, sd side) *rsyncRule {
	for _, r := range list {
		if r.flags&fPerDir != 0 {
			if m := s.checkRules(s.dirList(r.merge, path.Dir(rel)), rel, isDir, sd); m != nil {
				return m
			}
			continue
		}
		if !r.applies(sd) {
			continue
		}
		if r.matches(rel, isDir, s.root) {
			return r
		}
	}
	return nil
}

// dirList returns the rules per-directory merge rule m gives the
// entries of dir: the rules of dir's own file first, then those
// inherited from the directories above it unless the rule has the n
// modifier (exclude.c: push_local_filters).
func (s *Set) dirList(m int, dir string) []*rsyncRule {
	key := dirKey{m, dir}
	s.mu.Lock()
	list, ok := s.dirRules[key]
	s.mu.Unlock()
	if ok {
		return list
	}
	mr := s.merges[m]
	list = s.readDirFile(mr, dir)
	if mr.flags&fNoInherit == 0 && dir != "." {
		list = append(list[:len(list):len(list)], s.dirList(m, path.Dir(dir))...)
	}
	s.mu.Lock()
	if s.dirRules == nil {
		s.dirRules = map[dirKey][]*rsyncRule{}
	}
	s.dirRules[key] = list
	s.mu.Unlock()
	return list
}

// readDirFile reads and parses mr's file in dir; a missing file gives no
// rules, an unreadable or invalid one is reported to OnError and gives
// none either.
func (s *Set) readDirFile(mr mergeRule, dir string) []*rsyncRule {
	if s.readFile == nil {
		return nil
	}
	name := path.Join(dir, mr.name)
	data, err := s.readFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
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
			return list
		}
	}
	if s.onError != nil {
		s.onError(fmt.Errorf("read per-directory filter file %s: %w", name, err))
	}
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
	for _, m := range s.merges {
		if m.name == base {
			return true
		}
	}
	return false
}

// MergeFilesAbove returns the names of the per-directory merge files
// that rsync would also read in the directories above the source root
// (a dir-merge name with a leading "/", as -F's): gsync reads none
// outside the source, so the caller can warn about one that exists.
func (s *Set) MergeFilesAbove() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, m := range s.merges {
		if m.above {
			out = append(out, m.name)
		}
	}
	return out
}

// HasMergeRules reports whether the set has per-directory merge rules
// (dir-merge, -F).
func (s *Set) HasMergeRules() bool { return s != nil && len(s.merges) > 0 }

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
