package rsyncproto

import (
	"path"
	"strings"
)

// literalPattern returns a pattern that matches exactly s. Patterns without
// "*?[" are compared literally (exclude.c:add_rule sets FILTRULE_WILD only
// then), so they must not be escaped (lsyncd's "]" bug); others go through
// wildmatch and need every special character escaped.
func literalPattern(s string) string {
	if !strings.ContainsAny(s, "*?[") {
		return s
	}
	return escapeWild(s)
}

// escapeWild escapes s for rsync's wildmatch (used where the whole pattern
// contains a wildcard anyway).
func escapeWild(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// scopeRules returns the filter list that confines the receiver's --delete
// to the listed paths (generator.c:delete_in_dir asks is_excluded for every
// target entry it considers): rsync takes the first matching rule, so the
// scope comes first and the user's rules decide only inside it.
//
//   - "+ /p" for every scope root p (a listed path that is missing at the
//     source, recursive, or replaces a directory) and for each of its
//     ancestors; then "- /d/*" for every directory d of the file list
//     outside the scope roots, and "- /*" for the root: whatever directory
//     the receiver scans outside the scope, its entries are protected. A
//     scope root below another one is covered by it.
//   - the user's rules: excluded paths below a scope root stay protected,
//     and an include rule can no longer reach outside the scope.
//   - no final rule: the rest of the scope is deletable.
//
// With the root listed recursively only the user's rules remain. Below
// protocol 29 only bare (exclude) and "+ " rules exist.
func scopeRules(user []string, fl *fileList, proto int) []string {
	var userRules []string
	for _, r := range user {
		if r = strings.TrimRight(r, "\n"); r == "" {
			continue
		}
		if proto < 29 {
			switch {
			case strings.HasPrefix(r, "- "):
				r = r[2:]
			case strings.HasPrefix(r, "-p "):
				// A perishable exclude (-C's list) is a plain one to a
				// peer without modifiers: rsync makes none below
				// protocol 30 (exclude.c: get_cvs_excludes).
				r = r[3:]
			case strings.HasPrefix(r, "+ "):
			default:
				continue // modifiers are too modern for the peer
			}
		}
		userRules = append(userRules, r)
	}
	if fl.scopeAll {
		return userRules
	}
	root := map[string]bool{}
	var roots []string
	for _, list := range [][]string{fl.missing, scopedNames(fl.scoped), fl.replacing} {
		for _, name := range list {
			if name != "." && !root[name] {
				root[name] = true
				roots = append(roots, name)
			}
		}
	}
	// inScope reports whether name is a scope root or below one.
	inScope := func(name string) bool {
		for d := name; d != "."; d = path.Dir(d) {
			if root[d] {
				return true
			}
		}
		return false
	}
	exclude := "- "
	if proto < 29 {
		exclude = ""
	}
	var includes, protects []string
	seen := map[string]bool{}
	protect := func(d string) {
		if seen["/"+d] {
			return
		}
		seen["/"+d] = true
		if d == "." {
			protects = append(protects, exclude+"/*")
		} else {
			protects = append(protects, exclude+"/"+escapeWild(d)+"/*")
		}
	}
	protect(".")
	for _, name := range roots {
		if inScope(path.Dir(name)) {
			continue // covered by a root above it
		}
		for p := name; p != "."; p = path.Dir(p) {
			if !seen[p] {
				seen[p] = true
				includes = append(includes, "+ /"+literalPattern(p))
			}
			protect(path.Dir(p))
		}
	}
	for _, e := range fl.list {
		if e.isDir() && !inScope(e.name) {
			protect(e.name)
		}
	}
	return append(append(includes, protects...), userRules...)
}

func scopedNames(ps []Path) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// appendFilterList encodes rules (exclude.c:send_rules): int length + text,
// terminated by int 0.
func appendFilterList(b []byte, rules []string) []byte {
	for _, r := range rules {
		b = appendInt(b, int32(len(r)))
		b = append(b, r...)
	}
	return appendInt(b, 0)
}
