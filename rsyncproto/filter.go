package rsyncproto

import (
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
// to the listed paths (generator.c:delete_in_dir consults it): the user's
// rules first (excluded paths stay protected), then "+ /path/***" for every
// listed path that is missing at the source or recursive (and "+ /path"
// for the path itself), then "- *" which
// protects everything else. With the root listed recursively no scoping rule
// is needed. Below protocol 29 only bare (exclude) and "+ " rules exist.
func scopeRules(user []string, fl *fileList, proto int) []string {
	var rules []string
	for _, r := range user {
		if r = strings.TrimRight(r, "\n"); r == "" {
			continue
		}
		if proto < 29 {
			switch {
			case strings.HasPrefix(r, "- "):
				r = r[2:]
			case strings.HasPrefix(r, "+ "):
			default:
				continue // modifiers are too modern for the peer
			}
		}
		rules = append(rules, r)
	}
	if fl.scopeAll {
		return rules
	}
	seen := map[string]bool{}
	add := func(name string) {
		if name == "." || seen[name] {
			return
		}
		seen[name] = true
		// "dir/***" matches only a directory named dir (and its contents),
		// so a missing plain file needs its own rule.
		rules = append(rules, "+ /"+literalPattern(name), "+ /"+escapeWild(name)+"/***")
	}
	for _, m := range fl.missing {
		add(m)
	}
	for _, s := range fl.scoped {
		add(s.Name)
	}
	for _, name := range fl.replacing {
		add(name) // "/name/***": an old directory there may be emptied
	}
	if proto < 29 {
		return append(rules, "*")
	}
	return append(rules, "- *")
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
