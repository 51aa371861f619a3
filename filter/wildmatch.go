package filter

import "strings"

// Results of dowild beyond a plain match or mismatch, as in rsync's
// lib/wildmatch.c: abortAll stops every retry (the text ran out), and
// abortToStarStar stops the retries of a single "*" (it met a "/") but
// lets an enclosing "**" go on.
const (
	wildNoMatch = iota
	wildMatch
	wildAbortAll
	wildAbortToStarStar
)

// wildmatchWhere matches pattern against text as rsync's
// wildmatch_array does with its "where" argument: 0 matches the whole
// text, n > 0 only its last n slash-separated elements, and n < 0 at the
// start or after any "/".
func wildmatchWhere(pattern, text string, where int) bool {
	if where > 0 {
		var ok bool
		if text, ok = trailingElements(text, where); !ok {
			return false
		}
	}
	m := dowild(pattern, text)
	if m == wildMatch || where >= 0 || m == wildAbortAll {
		return m == wildMatch
	}
	for i := 0; i < len(text); i++ {
		if text[i] != '/' {
			continue
		}
		if m = dowild(pattern, text[i+1:]); m != wildNoMatch && m != wildAbortToStarStar {
			return m == wildMatch
		}
	}
	return false
}

// litmatchWhere is wildmatchWhere for a pattern without wildcards
// (wildmatch.c: litmatch_array).
func litmatchWhere(pattern, text string, where int) bool {
	if where > 0 {
		var ok bool
		if text, ok = trailingElements(text, where); !ok {
			return false
		}
	}
	return pattern == text
}

// trailingElements returns the last n slash-separated elements of text
// (wildmatch.c: trailing_N_elements); ok is false when text has fewer.
func trailingElements(text string, n int) (string, bool) {
	for i := len(text) - 1; i >= 0; i-- {
		if text[i] == '/' {
			if n--; n == 0 {
				return text[i+1:], true
			}
		}
	}
	if n == 1 {
		return text, true
	}
	return "", false
}

// dowild matches p against text with rsync's wildmatch rules
// (lib/wildmatch.c: dowild, over one string): "?" and "*" stop at "/",
// "**" crosses it, "[...]" is a class ("!" or "^" negates, "a-z" ranges,
// "[:alpha:]" and the other POSIX names), and "\" makes the next
// character literal. Depth is bounded by
// the number of "*" in the pattern.
func dowild(p, text string) int {
	ti := 0
	for pi := 0; pi < len(p); pi, ti = pi+1, ti+1 {
		pc := p[pi]
		if ti >= len(text) && pc != '*' {
			return wildAbortAll
		}
		var tc byte
		if ti < len(text) {
			tc = text[ti]
		}
		switch pc {
		case '\\':
			pi++
			if pi >= len(p) || tc != p[pi] {
				return wildNoMatch
			}
		case '?':
			if tc == '/' {
				return wildNoMatch
			}
		case '*':
			special := false
			if pi+1 < len(p) && p[pi+1] == '*' {
				special = true
				for pi+1 < len(p) && p[pi+1] == '*' {
					pi++
				}
			}
			pi++
			if pi >= len(p) {
				// A trailing "**" matches everything, a trailing "*"
				// only what has no "/" left.
				if !special && strings.IndexByte(text[ti:], '/') >= 0 {
					return wildNoMatch
				}
				return wildMatch
			}
			for ; ti <= len(text); ti++ {
				if ti == len(text) {
					break
				}
				if m := dowild(p[pi:], text[ti:]); m != wildNoMatch {
					if !special || m != wildAbortToStarStar {
						return m
					}
				} else if !special && text[ti] == '/' {
					return wildAbortToStarStar
				}
			}
			return wildAbortAll
		case '[':
			n, ok, matched := matchClass(p[pi:], tc)
			if !ok {
				return wildAbortAll
			}
			pi += n - 1
			if !matched || tc == '/' {
				return wildNoMatch
			}
		default:
			if tc != pc {
				return wildNoMatch
			}
		}
	}
	if ti < len(text) {
		return wildNoMatch
	}
	return wildMatch
}

// matchClass matches c against the class that starts p ("[...]"): n is
// the length of the class in p, ok false for a malformed class (which
// aborts the whole match, as in wildmatch.c), matched whether c is in it.
func matchClass(p string, c byte) (n int, ok, matched bool) {
	i := 1
	negate := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		negate = true
		i++
	}
	var prev byte
	hasPrev := false
	for first := true; ; first = false {
		if i >= len(p) {
			return 0, false, false
		}
		pc := p[i]
		if pc == ']' && !first {
			break
		}
		switch {
		case pc == '\\':
			i++
			if i >= len(p) {
				return 0, false, false
			}
			pc = p[i]
			if c == pc {
				matched = true
			}
			prev, hasPrev = pc, true
		case pc == '-' && hasPrev && i+1 < len(p) && p[i+1] != ']':
			i++
			hi := p[i]
			if hi == '\\' {
				i++
				if i >= len(p) {
					return 0, false, false
				}
				hi = p[i]
			}
			if c >= prev && c <= hi {
				matched = true
			}
			hasPrev = false
		case pc == '[' && i+1 < len(p) && p[i+1] == ':':
			end := strings.IndexByte(p[i+2:], ']')
			if end < 0 {
				return 0, false, false
			}
			name := p[i+2 : i+2+end]
			if !strings.HasSuffix(name, ":") {
				// No ":]": a plain "[" in the set.
				if c == '[' {
					matched = true
				}
				prev, hasPrev = '[', true
				break
			}
			in, known := posixClass(strings.TrimSuffix(name, ":"), c)
			if !known {
				return 0, false, false
			}
			if in {
				matched = true
			}
			i += 2 + end
			hasPrev = false
		default:
			if c == pc {
				matched = true
			}
			prev, hasPrev = pc, true
		}
		i++
	}
	return i + 1, true, matched != negate
}

// posixClass reports whether the ASCII byte c is in the named class
// ("alpha", "digit", ...); known is false for an unknown name.
func posixClass(name string, c byte) (in, known bool) {
	lower := c >= 'a' && c <= 'z'
	upper := c >= 'A' && c <= 'Z'
	digit := c >= '0' && c <= '9'
	alpha := lower || upper
	graph := c > ' ' && c < 0x7f
	switch name {
	case "alnum":
		return alpha || digit, true
	case "alpha":
		return alpha, true
	case "blank":
		return c == ' ' || c == '\t', true
	case "cntrl":
		return c < ' ' || c == 0x7f, true
	case "digit":
		return digit, true
	case "graph":
		return graph, true
	case "lower":
		return lower, true
	case "print":
		return graph || c == ' ', true
	case "punct":
		return graph && !alpha && !digit, true
	case "space":
		return c == ' ' || (c >= '\t' && c <= '\r'), true
	case "upper":
		return upper, true
	case "xdigit":
		return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'), true
	}
	return false, false
}
