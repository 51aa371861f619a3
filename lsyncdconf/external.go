package lsyncdconf

import (
	"path/filepath"
	"sort"
	"strings"
)

// External is a sync whose rsync.binary names a program other than a
// plain rsync (lsyncd's FAQ recipe for "run a command after each sync":
// a wrapper script that calls rsync, then something else). lsyncd runs
// that program for the sync's transfers, so gsync does too, with the
// arguments lsyncd 2.2.3 passes it (default-rsync.lua: rsync.init and
// rsync.action; default-rsyncssh.lua: rsyncssh.prepare).
type External struct {
	// Binary is the program, run directly (never through a shell).
	Binary string
	// Computed are lsyncd's rsync._computed: the short flags, _extra, the
	// valued options, and for default.rsyncssh the --rsh built from
	// ssh = {...}.
	Computed []string
	// Target is the target as lsyncd passes it: with a trailing slash,
	// HOST:TARGETDIR/ for default.rsyncssh.
	Target string
	// Kind is the sync's kind; default.direct runs the program for its
	// startup sync only (its events are cp, rm and mv in lsyncd).
	Kind string
}

// External returns the sync's external program, or nil when
// rsync.binary names a plain rsync (any path whose last element is
// "rsync"): gsync's own sender does that sync's transfers.
func (s *Sync) External() *External {
	if s.Rsync.Binary == "" || filepath.Base(s.Rsync.Binary) == "rsync" {
		return nil
	}
	return s.Lsyncd()
}

// Lsyncd returns how lsyncd 2.2.3 runs rsync.binary for the sync,
// whatever the binary: the tests run C rsync with these arguments to see
// what the sync should leave on its target.
func (s *Sync) Lsyncd() *External {
	e := &External{Binary: s.Rsync.Binary, Computed: s.Rsync.computed(), Kind: s.Kind}
	switch s.Kind {
	case KindRsyncSSH:
		if rsh := s.SSH.rsh(); rsh != "" {
			e.Computed = append(e.Computed, rsh)
		}
		e.Target = s.Host + ":" + withSlash(s.TargetDir)
	default:
		e.Target = withSlash(s.Target)
	}
	return e
}

// withSlash appends "/" unless p ends in "/" or ":" (rsync.prepare).
func withSlash(p string) string {
	if strings.HasSuffix(p, "/") || strings.HasSuffix(p, ":") {
		return p
	}
	return p + "/"
}

// computed is default-rsync.lua's rsync.prepare: "-" and the short flags
// of the true boolean keys ("D" for devices and specials together),
// then _extra verbatim, then the long options in lsyncd's fixed order.
// lsyncd orders the short flags by Lua's table walk (no defined order);
// gsync sorts them by key.
func (o RsyncOpts) computed() []string {
	var shorts []string
	keys := make([]string, 0, len(rsyncShort))
	flag := map[string]string{}
	for _, e := range rsyncShort {
		keys = append(keys, e.key)
		flag[e.key] = e.flag
	}
	sort.Strings(keys)
	for _, k := range keys {
		if o.On(k) {
			shorts = append(shorts, flag[k])
		}
	}
	var out []string
	if o.On("devices") && o.On("specials") {
		shorts = append(shorts, "D")
	}
	if len(shorts) > 0 {
		out = append(out, "-"+strings.Join(shorts, ""))
	}
	out = append(out, o.Extra...)
	if o.On("devices") != o.On("specials") {
		if o.On("devices") {
			out = append(out, "--devices")
		} else {
			out = append(out, "--specials")
		}
	}
	long := func(key, opt string) {
		if o.On(key) {
			out = append(out, opt)
		}
	}
	value := func(key, opt string) {
		if v, ok := o.Str[key]; ok {
			out = append(out, opt+"="+v)
		}
	}
	long("append", "--append")
	long("append_verify", "--append-verify")
	value("backup_dir", "--backup-dir")
	value("bwlimit", "--bwlimit")
	value("chmod", "--chmod")
	value("chown", "--chown")
	value("groupmap", "--groupmap")
	long("existing", "--existing")
	long("inplace", "--inplace")
	value("password_file", "--password-file")
	value("rsh", "--rsh")
	value("rsync_path", "--rsync-path")
	value("suffix", "--suffix")
	value("temp_dir", "--temp-dir")
	value("timeout", "--timeout")
	value("usermap", "--usermap")
	// Keys lsyncd 2.3 added; lsyncd 2.2.3 does not know them.
	long("copy_unsafe_links", "--copy-unsafe-links")
	long("delete_excluded", "--delete-excluded")
	return out
}

// rsh is the --rsh option default-rsyncssh.lua's rsyncssh.prepare adds
// for ssh = {...}: "ssh", then -i FILE, the -o KEY=VALUE options (sorted
// by key here; lsyncd walks them in no defined order) and -p PORT; ""
// when none is set. ssh._extra and ssh.binary go to lsyncd's own ssh
// calls only, not into it.
func (o SSHOpts) rsh() string {
	if o.IdentityFile == "" && len(o.Options) == 0 && o.Port == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("--rsh=ssh")
	if o.IdentityFile != "" {
		b.WriteString(" -i " + o.IdentityFile)
	}
	for _, kv := range o.Options {
		b.WriteString(" -o " + kv[0] + "=" + kv[1])
	}
	if o.Port != 0 {
		b.WriteString(" -p " + formatNumber(float64(o.Port)))
	}
	return b.String()
}

// StartupArgs are the arguments and standard input of the startup sync
// (default-rsync.lua: rsync.init): the excludes (or, with filters, the
// filter rules followed by the excludes as "- PATTERN") go on standard
// input. source is the absolute source directory.
func (e *External) StartupArgs(source string, excludes, filters []string, del bool) (args []string, stdin string) {
	var delete []string
	if del {
		delete = []string{"--delete", "--ignore-errors"}
	}
	switch {
	case len(filters) == 0 && len(excludes) == 0:
	case len(filters) == 0:
		stdin = strings.Join(excludes, "\n")
		args = append(args, "--exclude-from=-")
	default:
		rules := append([]string(nil), filters...)
		for _, x := range excludes {
			rules = append(rules, "- "+x)
		}
		stdin = strings.Join(rules, "\n")
		args = append(args, "--filter=. -")
	}
	args = append(args, delete...)
	args = append(args, e.Computed...)
	return append(args, "-r", withSlash(source), e.Target), stdin
}

// BatchArgs are the arguments and standard input of one batch
// (default-rsync.lua: rsync.action): list is the include list (see
// IncludeList), sent NUL-separated on standard input.
func (e *External) BatchArgs(source string, list []string, del bool) (args []string, stdin string) {
	args = append(args, e.Computed...)
	args = append(args, "-r")
	if del {
		args = append(args, "--delete", "--ignore-errors")
	}
	args = append(args, "--force", "--from0", "--include-from=-", "--exclude=*", withSlash(source), e.Target)
	return args, strings.Join(list, "\x00")
}

// IncludeList turns the paths of a batch into rsync.action's include
// list: each path ("/dir/file", a directory with a trailing "/", a
// deleted directory as "/dir/***") with rsync's pattern characters
// escaped, and every parent directory of it ("/dir/"), each once, in
// order of first appearance.
func IncludeList(paths []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		add(p)
		for pp := parentPattern(p); pp != ""; pp = parentPattern(pp) {
			add(pp)
		}
	}
	return out
}

// parentPattern is string.match(path, '^(.*/)[^/]+/?'): the path up to
// and including the slash before its last element, or "".
func parentPattern(p string) string {
	q := strings.TrimSuffix(p, "/")
	i := strings.LastIndexByte(q, '/')
	if i < 0 || i == len(q)-1 {
		return ""
	}
	if i == 0 {
		// "/f" → "/": lsyncd's pattern needs one character before the
		// last element; "/" itself matches (.*/) with an empty .*
		return "/"
	}
	return q[:i+1]
}

// EscapePattern replaces what rsync reads as pattern characters by
// literals (default-rsync.lua: sub).
func EscapePattern(p string) string {
	return strings.NewReplacer("?", `\?`, "*", `\*`, "[", `\[`, "]", `\]`).Replace(p)
}
