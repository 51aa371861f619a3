package filter

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode"
)

// rflags are a rule's flags, named after rsync's FILTRULE_* (exclude.c).
type rflags uint32

const (
	fInclude rflags = 1 << iota
	fDirectory
	fAbsPath // the "/" modifier: match the absolute path
	fNegate
	fPerishable
	fXattr
	fSender
	fReceiver
	fMerge
	fPerDir
	fNoPrefixes
	fNoInherit
	fWordSplit
	fExcludeSelf
	fCVS
	fClear
	fWild
	fWild2
	fWild2Prefix
	fWild3Suffix
)

// fromContainer are the flags a merge file's rules inherit from the
// merge rule (exclude.c: FILTRULES_FROM_CONTAINER).
const fromContainer = fAbsPath | fInclude | fDirectory | fNegate | fPerishable

// Parse flags (exclude.c: XFLG_*).
const (
	xOldPrefixes  = 1 << iota // --include/--exclude: only "+ " and "- " prefixes
	xAnchored2Abs             // a per-directory file: "/pat" is relative to its directory
	xFatalErrors              // an unreadable merge file is an error
)

// rsyncRule is one compiled rule in rsync's syntax.
type rsyncRule struct {
	flags    rflags
	pattern  string // without the trailing "/" of a directory rule
	slashCnt int
	text     string // the rule as given (the line of its file)
	origin   string // where it was given: "--filter", "FILE:LINE"
	merge    int    // per-directory merge rules: index into Set.merges
}

// mergeRule is a dir-merge rule: its file name (no directory part) and
// the flags its files' rules are parsed with.
type mergeRule struct {
	name  string
	flags rflags
	text  string
	// base is the highest directory (relative to the source) whose file
	// counts: "." for the command line's rules; for a dir-merge rule
	// read in a per-directory file, that file's directory, or the
	// directory its name's directory part names above it (exclude.c:
	// setup_merge_file scans from there down).
	base string
	// above is the absolute directory a command-line rule's name
	// names above the transfer root ("" none): rsync also reads the
	// file in it and in every directory down to the root's parent
	// (exclude.c: setup_merge_file, -F's "/.rsync-filter" names "/"),
	// which gsync does not: nothing outside the source is read.
	above string
}

// Spec is one filter option of the command line, in rsync's meaning and
// in the order given: rsync keeps one list for all of them
// (options.c: OPT_FILTER, OPT_EXCLUDE, OPT_INCLUDE, OPT_EXCLUDE_FROM,
// OPT_INCLUDE_FROM, -F).
type Spec struct {
	Kind SpecKind
	// Arg is the option's value: a rule, a pattern or a file name.
	Arg string
}

// SpecKind says which option a Spec is.
type SpecKind uint8

// The options a Spec can be.
const (
	SpecFilter      SpecKind = iota // --filter/-f RULE
	SpecInclude                     // --include PATTERN
	SpecExclude                     // --exclude PATTERN
	SpecIncludeFrom                 // --include-from FILE
	SpecExcludeFrom                 // --exclude-from FILE
	SpecF                           // -F (once: dir-merge /.rsync-filter; twice: also - .rsync-filter)
)

// defaultCVSIgnore is rsync's built-in list for -C and the "-C" rule:
// the DEFAULT_CVSIGNORE its build takes from rsync.1.md (usage.c:
// default_cvsignore).
const defaultCVSIgnore = "RCS SCCS CVS CVS.adm RCSLOG cvslog.* tags TAGS .make.state .nse_depinfo " +
	"*~ #* .#* ,* _$* *$ *.old *.bak *.BAK *.orig *.rej .del-* " +
	"*.a *.olb *.o *.obj *.so *.exe *.Z *.elc *.ln core " +
	".svn/ .git/ .hg/ .bzr/"

var specNames = [...]string{"--filter", "--include", "--exclude", "--include-from", "--exclude-from", "-F"}

func (k SpecKind) String() string {
	if int(k) < len(specNames) {
		return specNames[k]
	}
	return fmt.Sprintf("SpecKind(%d)", k)
}

// maxMergeDepth bounds merge files naming merge files (exclude.c:
// MAX_MERGE_DEPTH is of the same order).
const maxMergeDepth = 20

// parser builds one rule list.
type parser struct {
	s     *Set
	depth int
	// dir is the directory (relative to the source) whose per-directory
	// file is being read, "" for the command line's rules.
	dir string
	// read reads a merge file named by a rule.
	read func(name string) ([]byte, string, error)
	// cleared: a "!" rule of a per-directory file cleared the list,
	// inherited rules included (exclude.c: pop_filter_list).
	cleared bool
}

// parseStr parses the rules in str (exclude.c: parse_filter_str) and
// appends them to list.
func (p *parser) parseStr(list []*rsyncRule, str string, tmpl rflags, xflags int, origin string) ([]*rsyncRule, error) {
	rest := str
	for {
		r, pat, next, ok, err := parseRuleTok(rest, tmpl, xflags)
		if err != nil {
			return list, fmt.Errorf("parse filter rule %q (%s): %w", str, origin, err)
		}
		if !ok {
			return list, nil
		}
		r.text, r.origin = strings.TrimSpace(str), origin
		if tmpl&fWordSplit != 0 {
			r.text = strings.TrimSpace(rest[:len(rest)-len(next)])
		}
		rest = next
		switch {
		case r.flags&fClear != 0:
			list = list[:0]
			p.cleared = p.dir != ""
			continue
		case r.flags&fXattr != 0:
			// Any x rule read turns off rsync's default xattr
			// namespace rule (exclude.c: parse_rule_tok sets
			// saw_xattr_filter; xattrs.c: rsync_xal_get).
			p.s.sawXattr.Store(true)
		}
		// --delete-excluded turns a rule without a side into a
		// sender-side one (exclude.c: parse_rule_tok).
		if p.s.deleteExcluded && r.flags&(fSender|fReceiver|fMerge|fPerDir) == 0 {
			r.flags |= fSender
		}
		if r.flags&fMerge != 0 {
			if pat == "" {
				pat = ".cvsignore" // the C modifier's file (exclude.c: parse_filter_str)
			}
			if r.flags&fExcludeSelf != 0 {
				self := &rsyncRule{text: r.text, origin: origin}
				addRule(self, path.Base(pat), 0, p.dir)
				list = append(list, self)
				r.flags &^= fExcludeSelf
			}
			if r.flags&fPerDir != 0 {
				if list, err = p.addDirMerge(list, r, pat); err != nil {
					return list, fmt.Errorf("parse filter rule %q (%s): %w", str, origin, err)
				}
				continue
			}
			if p.depth >= maxMergeDepth {
				return list, fmt.Errorf("parse filter rule %q (%s): merge files nested deeper than %d", str, origin, maxMergeDepth)
			}
			data, where, err := p.read(pat)
			if err != nil {
				return list, fmt.Errorf("read merge file %s (%s): %w", pat, origin, err)
			}
			p.depth++
			list, err = p.parseFile(list, data, where, r.flags, xflags&xAnchored2Abs)
			p.depth--
			if err != nil {
				return list, err
			}
			continue
		}
		addRule(r, pat, xflags, p.dir)
		list = append(list, r)
		if r.flags&fCVS != 0 {
			// "-C": the global CVS ignore list stands in its place
			// (exclude.c: get_cvs_excludes, read once).
			if err := p.s.loadCVS(r.flags); err != nil {
				return list, fmt.Errorf("parse filter rule %q (%s): %w", str, origin, err)
			}
		}
	}
}

// addDirMerge adds the dir-merge rule r for the file pat to list
// (exclude.c: add_rule, setup_merge_file, push_local_filters): the
// file is read in the directory the rule is given for (the source root,
// or the per-directory file's directory) and every one below it. A
// directory part of pat names where rsync starts reading it: the same
// directory or one above it (its files there count too), else only the
// last component counts. A name rsync already reads per directory is
// not added again.
func (p *parser) addDirMerge(list []*rsyncRule, r *rsyncRule, pat string) ([]*rsyncRule, error) {
	name := path.Base(pat)
	if name == "" || name == "." || name == ".." || name == "/" {
		return list, fmt.Errorf("a dir-merge rule needs a file name: %q", pat)
	}
	mr := mergeRule{name: name, flags: r.flags, text: r.text, base: "."}
	dirPart := strings.Contains(pat, "/")
	switch {
	case p.dir == "" && dirPart && p.s.root != "":
		// Relative to the working directory, as rsync's client reads it.
		abs, err := filepath.Abs(filepath.FromSlash(path.Dir(pat)))
		if err != nil {
			return list, fmt.Errorf("resolve dir-merge directory: %w", err)
		}
		root := filepath.Clean(p.s.root)
		if abs != root && (abs == "/" || strings.HasPrefix(root, abs+string(filepath.Separator))) {
			mr.above = abs
		}
	case p.dir != "":
		mr.base = p.dir
		if dirPart {
			if path.IsAbs(pat) {
				return list, fmt.Errorf("an absolute dir-merge name in a per-directory file is not implemented (rsync reads it from outside the source): %q", pat)
			}
			d := path.Join(p.dir, path.Dir(pat))
			if d == ".." || strings.HasPrefix(d, "../") {
				return list, fmt.Errorf("dir-merge name %q names a directory above the source (rsync reads it there, gsync reads nothing outside the source)", pat)
			}
			if d == "." || p.dir == d || strings.HasPrefix(p.dir, d+"/") {
				mr.base = d
			}
		}
	}
	idx, dup := p.s.addMerge(mr)
	if dup {
		return list, nil
	}
	r.pattern, r.merge = name, idx
	return append(list, r), nil
}

// parseFile parses the lines (or, with the w modifier, the words) of a
// merge or --include-from/--exclude-from file (exclude.c:
// parse_filter_file): blank lines and lines starting with ";" or "#"
// are skipped. name is the file's name for origins ("name:line").
func (p *parser) parseFile(list []*rsyncRule, data []byte, name string, tmpl rflags, xflags int) ([]*rsyncRule, error) {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	lines := strings.Split(strings.ReplaceAll(text, "\r", "\n"), "\n")
	var err error
	for i, line := range lines {
		// Words are split at any white space, comments are lines
		// (exclude.c: parse_filter_file).
		if line == "" || tmpl&fWordSplit == 0 && (line[0] == ';' || line[0] == '#') {
			continue
		}
		if list, err = p.parseStr(list, line, tmpl, xflags, fmt.Sprintf("%s:%d", name, i+1)); err != nil {
			return list, err
		}
	}
	return list, nil
}

func isSpace(r rune) bool { return r < 0x80 && unicode.IsSpace(r) }

// ruleWord matches a long rule name at the start of s (exclude.c:
// rule_strcmp): it must be followed by white space, "_", "," or the
// end. It returns the rest after the name (with a "," kept as the
// modifiers' start).
func ruleWord(s, word string) (string, bool) {
	if !strings.HasPrefix(s, word) {
		return "", false
	}
	rest := s[len(word):]
	if rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '_' || rest[0] == ',' {
		return rest, true
	}
	return "", false
}

// parseRuleTok parses the next rule of s (exclude.c: parse_rule_tok):
// its flags, its pattern, and the rest of s; ok is false when s holds
// no more rules.
func parseRuleTok(s string, tmpl rflags, xflags int) (r *rsyncRule, pat, rest string, ok bool, err error) {
	if tmpl&fWordSplit != 0 {
		s = strings.TrimLeftFunc(s, isSpace)
	}
	if s == "" {
		return nil, "", "", false, nil
	}
	r = &rsyncRule{flags: tmpl & fromContainer}
	switch {
	case tmpl&fNoPrefixes != 0:
		if s[0] == '!' && tmpl&fCVS != 0 {
			r.flags |= fClear // tentative: "!" alone clears (exclude.c)
		}
	case xflags&xOldPrefixes != 0:
		switch {
		case strings.HasPrefix(s, "- "):
			r.flags &^= fInclude
			s = s[2:]
		case strings.HasPrefix(s, "+ "):
			r.flags |= fInclude
			s = s[2:]
		case strings.HasPrefix(s, "!"):
			r.flags |= fClear
		}
	default:
		var ch byte
		long := false
		for _, w := range []struct {
			word string
			ch   byte
		}{{"clear", '!'}, {"dir-merge", ':'}, {"exclude", '-'}, {"hide", 'H'}, {"include", '+'},
			{"merge", '.'}, {"protect", 'P'}, {"risk", 'R'}, {"show", 'S'}} {
			if r, ok := ruleWord(s, w.word); ok {
				s, ch, long = r, w.ch, true
				break
			}
		}
		if !long {
			ch = s[0]
			s = s[1:]
		}
		sided := false
		switch ch {
		case ':':
			r.flags |= fPerDir | fMerge
		case '.':
			r.flags |= fMerge
		case '+':
			r.flags |= fInclude
		case '-':
		case 'S':
			r.flags |= fInclude | fSender
			sided = true
		case 'H':
			r.flags |= fSender
			sided = true
		case 'R':
			r.flags |= fInclude | fReceiver
			sided = true
		case 'P':
			r.flags |= fReceiver
			sided = true
		case '!':
			r.flags |= fClear
		default:
			return nil, "", "", false, fmt.Errorf("unknown filter rule %q", string(ch))
		}
		if ch != '!' {
			s = strings.TrimPrefix(s, ",")
			for s != "" && s[0] != ' ' && s[0] != '_' {
				c := s[0]
				if tmpl&fWordSplit != 0 && isSpace(rune(c)) {
					break
				}
				merge := r.flags&fMerge != 0
				bad := false
				switch c {
				case '-':
					bad = !merge || r.flags&fNoPrefixes != 0
					r.flags |= fNoPrefixes
				case '+':
					bad = !merge || r.flags&fNoPrefixes != 0
					r.flags |= fNoPrefixes | fInclude
				case '/':
					r.flags |= fAbsPath
				case '!':
					bad = merge
					r.flags |= fNegate
				case 'C':
					bad = r.flags&fNoPrefixes != 0 || sided
					r.flags |= fNoPrefixes | fWordSplit | fNoInherit | fCVS
				case 'e':
					bad = !merge
					r.flags |= fExcludeSelf
				case 'n':
					bad = !merge
					r.flags |= fNoInherit
				case 'p':
					r.flags |= fPerishable
				case 'r':
					bad = sided
					r.flags |= fReceiver
				case 's':
					bad = sided
					r.flags |= fSender
				case 'w':
					bad = !merge
					r.flags |= fWordSplit
				case 'x':
					r.flags |= fXattr
				default:
					bad = true
				}
				if bad {
					return nil, "", "", false, fmt.Errorf("invalid modifier %q", string(c))
				}
				s = s[1:]
			}
			if s != "" && (s[0] == ' ' || s[0] == '_') {
				s = s[1:]
			}
		}
	}
	if tmpl&(fSender|fReceiver) != 0 {
		if r.flags&(fSender|fReceiver) != 0 {
			return nil, "", "", false, errors.New("specified-side merge file contains specified-side filter")
		}
		r.flags |= tmpl & (fSender | fReceiver)
	}
	n := len(s)
	if tmpl&fWordSplit != 0 {
		if i := strings.IndexFunc(s, isSpace); i >= 0 {
			n = i
		}
	}
	pat, rest = s[:n], s[n:]
	if r.flags&fClear != 0 {
		if tmpl&fNoPrefixes == 0 && xflags&xOldPrefixes == 0 && n > 0 {
			return nil, "", "", false, errors.New("'!' rule has trailing characters")
		}
		if n > 1 {
			r.flags &^= fClear
		}
	} else if n == 0 && r.flags&fCVS == 0 {
		return nil, "", "", false, errors.New("unexpected end of filter rule")
	}
	return r, pat, rest, true, nil
}

// addRule finishes a rule with its pattern (exclude.c: add_rule): a
// trailing "/" makes it a directory rule, and the wildcard flags are
// noted. In a per-directory file (dir not "") an anchored pattern is
// anchored at that directory.
func addRule(r *rsyncRule, pat string, xflags int, dir string) {
	if len(pat) > 1 && strings.HasSuffix(pat, "/") {
		pat = pat[:len(pat)-1]
		r.flags |= fDirectory
	}
	if xflags&xAnchored2Abs != 0 && strings.HasPrefix(pat, "/") && r.flags&fAbsPath == 0 && dir != "" && dir != "." {
		pat = "/" + dir + pat
	}
	r.pattern = pat
	r.slashCnt = strings.Count(pat, "/")
	if strings.ContainsAny(pat, "*[?") {
		r.flags |= fWild
		if i := strings.Index(pat, "**"); i >= 0 {
			r.flags |= fWild2
			if i == 0 {
				r.flags |= fWild2Prefix
			}
			if strings.HasSuffix(pat, "***") {
				r.flags |= fWild3Suffix
			}
		}
	}
}

// matches reports whether r matches rel (slash-separated, relative to
// the source root, never the root itself, or an xattr name) as
// exclude.c:rule_matches does; abs is the source root's absolute path,
// for the "/" modifier. Whether r is for paths or for xattr names (the
// x modifier) is checkRules' business.
func (r *rsyncRule) matches(rel string, isDir bool, abs string) bool {
	ret := r.flags&fNegate == 0
	name := rel
	prefix, suffix := "", ""
	switch {
	case r.slashCnt == 0 && r.flags&fWild2 == 0:
		name = path.Base(rel)
	case r.flags&fAbsPath != 0:
		prefix = strings.TrimSuffix(abs, "/") + "/"
		if prefix == "/" {
			prefix = ""
		}
		prefix = strings.TrimPrefix(prefix, "/")
	case r.flags&fWild2Prefix != 0:
		prefix = "/"
	}
	if isDir {
		if r.flags&fWild3Suffix != 0 {
			suffix = "/"
		}
	} else if r.flags&fDirectory != 0 {
		return !ret
	}
	pattern := r.pattern
	anchored := strings.HasPrefix(pattern, "/")
	if anchored {
		pattern = pattern[1:]
	}
	where := 0
	switch {
	case !anchored && r.slashCnt > 0 && r.flags&fWild2 == 0:
		where = r.slashCnt + 1
	case !anchored && r.flags&fWild2Prefix == 0 && r.flags&fWild2 != 0:
		where = -1
	}
	text := prefix + name + suffix
	var m bool
	switch {
	case r.flags&fWild != 0:
		m = wildmatchWhere(pattern, text, where)
	case prefix != "" || suffix != "":
		m = litmatchWhere(pattern, text, where)
	case anchored:
		m = name == pattern
	default:
		m = name == pattern || strings.HasSuffix(name, "/"+pattern)
	}
	if m {
		return ret
	}
	return !ret
}

// render returns the rule as rsync writes it to the receiver
// (exclude.c: get_rule_prefix and send_rules): the short prefix with
// its modifiers, a space, the pattern and "/" for a directory rule.
func (r *rsyncRule) render() string {
	var b strings.Builder
	switch {
	case r.flags&fPerDir != 0:
		b.WriteByte(':')
	case r.flags&fInclude != 0:
		b.WriteByte('+')
	default:
		b.WriteByte('-')
	}
	if r.flags&fAbsPath != 0 {
		b.WriteByte('/')
	}
	if r.flags&fNegate != 0 {
		b.WriteByte('!')
	}
	switch {
	case r.flags&fCVS != 0:
		b.WriteByte('C')
	default:
		if r.flags&fNoInherit != 0 {
			b.WriteByte('n')
		}
		if r.flags&fWordSplit != 0 {
			b.WriteByte('w')
		}
		if r.flags&fNoPrefixes != 0 {
			if r.flags&fInclude != 0 {
				b.WriteByte('+')
			} else {
				b.WriteByte('-')
			}
		}
	}
	if r.flags&fExcludeSelf != 0 {
		b.WriteByte('e')
	}
	if r.flags&fXattr != 0 {
		b.WriteByte('x')
	}
	if r.flags&fSender != 0 {
		b.WriteByte('s')
	}
	if r.flags&fReceiver != 0 {
		b.WriteByte('r')
	}
	if r.flags&fPerishable != 0 {
		b.WriteByte('p')
	}
	if r.pattern == "" {
		return b.String() // "-C"
	}
	b.WriteByte(' ')
	b.WriteString(r.pattern)
	if r.flags&fDirectory != 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// readLocal reads a merge file named on the command line (or in a file
// named there), relative to the working directory like rsync.
func readLocal(name string) ([]byte, string, error) {
	data, err := os.ReadFile(name)
	return data, name, err
}
