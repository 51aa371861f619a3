package filter

import "strings"

// Decision is the rule that decides whether a path is excluded (gsync
// explain).
type Decision struct {
	Excluded bool
	// Path is where the rule matched: the path itself or one of its
	// parent directories (which excludes everything below it).
	Path string
	// Rule is the rule as given: a filter rule with its "+ " or "- ",
	// or an exclude pattern; Filter tells which list it is in and Index
	// its position there (the order given to New).
	Rule   string
	Filter bool
	Index  int
	// Origin is where an rsync-syntax rule was given: its option
	// ("--filter", "-F") or "FILE:LINE" (also a per-directory file's
	// path relative to the source); "" for the lsyncd lists.
	Origin string
}

// Decide returns the rule that decides rel as Excluded does; ok is false
// when no rule matches rel or a parent (rel is mirrored). A "+" filter
// rule matching a parent directory does not decide for what is below it.
func (s *Set) Decide(rel string, isDir bool) (d Decision, ok bool) {
	if s == nil {
		return d, false
	}
	rel = strings.Trim(rel, "/")
	if rel == "" || rel == "." {
		return d, false
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' {
			if d, ok := s.decideSelf(rel[:i], true); ok && d.Excluded {
				return d, true
			}
		}
	}
	return s.decideSelf(rel, isDir)
}

func (s *Set) decideSelf(rel string, isDir bool) (Decision, bool) {
	if r := s.checkRules(s.rules, query{rel: rel, isDir: isDir, sd: sideSender, perishable: true}); r != nil {
		return rsyncDecision(r, rel), true
	}
	for i, f := range s.filters {
		if f.matchOne(rel, isDir) {
			sign := "- "
			if f.include {
				sign = "+ "
			}
			return Decision{Excluded: !f.include, Path: rel, Rule: sign + f.raw, Filter: true, Index: i}, true
		}
	}
	for i, e := range s.excludes {
		if e.matchOne(rel, isDir) {
			return Decision{Excluded: true, Path: rel, Rule: e.raw, Index: i}, true
		}
	}
	if r := s.checkRules(s.tail, query{rel: rel, isDir: isDir, sd: sideSender, perishable: true}); r != nil {
		return rsyncDecision(r, rel), true
	}
	return Decision{}, false
}

func rsyncDecision(r *rsyncRule, rel string) Decision {
	return Decision{Excluded: r.flags&fInclude == 0, Path: rel, Rule: r.text, Filter: true, Origin: r.origin}
}
