package sshx

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// An ssh_config reader with OpenSSH's rules (readconf.c): the first value
// obtained for a keyword wins (-o options come first), IdentityFile and
// CertificateFile accumulate, Host and Match blocks select the lines that
// apply, Include reads more files where it stands. It is written here
// because github.com/kevinburke/ssh_config refuses every Match criterion
// but host and all, which makes a file with "Match user" unreadable.

// maxIncludeDepth bounds nested Include directives (readconf.c's
// READCONF_MAX_DEPTH is 16).
const maxIncludeDepth = 16

// accumulating keywords collect every value instead of keeping the first.
var accumulating = map[string]bool{"identityfile": true, "certificatefile": true}

// confValues are the keyword values obtained so far, keys lower-case.
type confValues struct {
	first map[string]string   // the first value of a keyword, as written after it
	all   map[string][]string // every value of an accumulating keyword
	seq   map[string]int      // the order in which keywords got their value
	// matchUser is the user name Match user compares with while nothing
	// set User (the local user, like OpenSSH).
	matchUser string
	alias     string
	home      string
	log       *slog.Logger
}

func newConfValues(alias, home string, log *slog.Logger) *confValues {
	return &confValues{first: map[string]string{}, all: map[string][]string{}, seq: map[string]int{}, alias: alias, home: home, log: log}
}

// set records a value unless the keyword has one already.
func (c *confValues) set(key, val string) {
	key = strings.ToLower(key)
	if accumulating[key] {
		c.all[key] = append(c.all[key], val)
		return
	}
	if _, ok := c.first[key]; !ok {
		c.first[key] = val
		c.seq[key] = len(c.seq)
	}
}

// order tells when key got its value (lower is earlier).
func (c *confValues) order(key string) int { return c.seq[strings.ToLower(key)] }

func (c *confValues) get(key string) string { return c.first[strings.ToLower(key)] }

func (c *confValues) getAll(key string) []string { return c.all[strings.ToLower(key)] }

// readFile applies one ssh_config file; user says whether relative
// Include paths are below ~/.ssh (else /etc/ssh).
func (c *confValues) readFile(file string, user bool, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("read ssh config %s: Include nested deeper than %d", file, maxIncludeDepth)
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("read ssh config: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	active := true // lines before the first Host or Match apply to all
	for n := 1; sc.Scan(); n++ {
		key, rest, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return fmt.Errorf("parse ssh config %s line %d: %w", file, n, err)
		}
		if key == "" {
			continue
		}
		switch strings.ToLower(key) {
		case "host":
			active = c.matchHost(args)
		case "match":
			if active, err = c.matchBlock(args); err != nil {
				return fmt.Errorf("parse ssh config %s line %d: %w", file, n, err)
			}
		case "include":
			if !active {
				continue
			}
			for _, pat := range args {
				if err := c.include(pat, user, depth); err != nil {
					return fmt.Errorf("ssh config %s line %d: %w", file, n, err)
				}
			}
		default:
			if !active || len(args) == 0 {
				continue
			}
			if accumulating[strings.ToLower(key)] {
				c.set(key, args[0])
			} else {
				c.set(key, rest)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read ssh config %s: %w", file, err)
	}
	return nil
}

// include reads the files a pattern names: relative ones below ~/.ssh for
// the user's config, /etc/ssh for the system's (readconf.c, "Include").
func (c *confValues) include(pat string, user bool, depth int) error {
	pat = expandHome(pat, c.home)
	if !filepath.IsAbs(pat) {
		dir := "/etc/ssh"
		if user {
			if c.home == "" {
				return nil
			}
			dir = filepath.Join(c.home, ".ssh")
		}
		pat = filepath.Join(dir, pat)
	}
	files, err := filepath.Glob(pat)
	if err != nil {
		return fmt.Errorf("bad Include pattern %q: %w", pat, err)
	}
	for _, f := range files { // Glob sorts, as OpenSSH's glob(3) does
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := c.readFile(f, user, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// matchHost evaluates a Host line's patterns against the alias: some
// positive pattern matches and no negated one does (match.c,
// match_hostname).
func (c *confValues) matchHost(patterns []string) bool {
	return matchPatternList(strings.ToLower(c.alias), patterns)
}

// matchPatternList matches s against comma- or space-separated patterns,
// "!" negating (match.c, match_pattern_list).
func matchPatternList(s string, patterns []string) bool {
	matched := false
	for _, field := range patterns {
		for _, p := range strings.Split(field, ",") {
			if p == "" {
				continue
			}
			neg := strings.HasPrefix(p, "!")
			p = strings.TrimPrefix(p, "!")
			if ok, _ := path.Match(globQuote(strings.ToLower(p)), s); ok {
				if neg {
					return false
				}
				matched = true
			}
		}
	}
	return matched
}

// globQuote makes an ssh pattern (only * and ? are special) a path.Match
// pattern.
func globQuote(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`)
	return r.Replace(p)
}

// matchBlock evaluates a Match line (readconf.c, match_cfg_line). host
// compares with HostName as far as it is known, originalhost with the
// name given, user with the remote user as far as it is known, localuser
// with the local user. exec is never run: such a block does not apply
// and a warning says so.
func (c *confValues) matchBlock(args []string) (bool, error) {
	if len(args) == 0 {
		return false, errors.New("a Match line needs a criterion")
	}
	result := true
	for i := 0; i < len(args); i++ {
		crit := strings.ToLower(args[i])
		neg := strings.HasPrefix(crit, "!")
		crit = strings.TrimPrefix(crit, "!")
		var ok bool
		switch crit {
		case "all":
			ok = true
		case "canonical":
			ok = false // gsync does not canonicalize host names
		case "final":
			ok = true // there is one pass, and it is the final one
		default:
			if i+1 >= len(args) {
				return false, fmt.Errorf("match criterion %s needs an argument", crit)
			}
			i++
			arg := strings.Split(args[i], ",")
			switch crit {
			case "host":
				host := c.alias
				if h := c.get("hostname"); h != "" {
					host = strings.ReplaceAll(h, "%h", c.alias)
				}
				ok = matchPatternList(strings.ToLower(host), arg)
			case "originalhost":
				ok = matchPatternList(strings.ToLower(c.alias), arg)
			case "user":
				u := c.get("user")
				if u == "" {
					u = c.matchUser
				}
				ok = matchPatternList(u, arg)
			case "localuser":
				ok = matchPatternList(localUser(), arg)
			case "exec":
				c.log.Warn("ssh config: Match exec is not run by gsync; the block is skipped", "command", escapeText(args[i]))
				ok = false
			default:
				c.log.Warn("ssh config: Match criterion not supported by gsync; the block is skipped", "criterion", crit)
				ok = false
			}
		}
		if neg {
			ok = !ok
		}
		result = result && ok
	}
	return result, nil
}

// splitConfigLine splits an ssh_config line into its keyword, the rest of
// the line as written (for commands such as ProxyCommand) and the
// arguments split by argvSplit; comments and blank lines give "".
// "Keyword=value" and "Keyword = value" are accepted (misc.c, strdelim).
func splitConfigLine(line string) (key, rest string, args []string, err error) {
	line = strings.TrimRight(strings.TrimLeft(line, " \t"), " \t\r")
	if line == "" || line[0] == '#' {
		return "", "", nil, nil
	}
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		return line, "", nil, nil
	}
	key, rest = line[:end], strings.TrimLeft(line[end:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	args, err = argvSplit(rest, true)
	return key, rest, args, err
}

// argvSplit splits s into words like OpenSSH's misc.c argv_split: blanks
// separate words; single and double quotes group; \' \" \\ and (outside
// quotes) "\ " are the only escapes, any other backslash stays; with
// stopAtComment a # at the start of a word ends the line. Nothing is
// expanded.
func argvSplit(s string, stopAtComment bool) ([]string, error) {
	var out []string
	i := 0
	for i < len(s) {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		if stopAtComment && s[i] == '#' {
			break
		}
		var w strings.Builder
		var quote byte
		for ; i < len(s); i++ {
			ch := s[i]
			switch {
			case ch == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || quote == 0 && s[i+1] == ' '):
				i++
				w.WriteByte(s[i])
				continue
			case quote == 0 && (ch == ' ' || ch == '\t'):
			case quote == 0 && (ch == '"' || ch == '\''):
				quote = ch
				continue
			case quote != 0 && ch == quote:
				quote = 0
				continue
			default:
				w.WriteByte(ch)
				continue
			}
			break
		}
		if quote != 0 {
			return nil, errors.New("unterminated quote")
		}
		out = append(out, w.String())
	}
	return out, nil
}

// readConfigs applies the ssh_config files: file ("none": none; "": the
// user's ~/.ssh/config, then /etc/ssh/ssh_config).
func (c *confValues) readConfigs(file string) error {
	type src struct {
		path   string
		user   bool
		needed bool
	}
	var files []src
	switch {
	case file == "none":
	case file != "":
		files = []src{{expandHome(file, c.home), true, true}}
	default:
		if c.home != "" {
			files = append(files, src{filepath.Join(c.home, ".ssh", "config"), true, false})
		}
		files = append(files, src{"/etc/ssh/ssh_config", false, false})
	}
	for _, f := range files {
		err := c.readFile(f.path, f.user, 0)
		switch {
		case err == nil:
		case !f.needed && errors.Is(err, fs.ErrNotExist):
		case !f.user:
			// A system file we cannot parse is not the user's problem.
			c.log.Debug("system ssh config ignored", "file", f.path, "err", err)
		default:
			return err
		}
	}
	return nil
}
