package sshx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gsync/gsync/internal/shellwords"
)

// HostKeyCheck says how unknown host keys are treated. A key that differs
// from the one in known_hosts is refused in every mode but Off.
type HostKeyCheck uint8

// Host key checking modes.
const (
	// CheckDefault takes StrictHostKeyChecking from the -o options or
	// ssh_config ("accept-new", "no" and "off" mean AcceptNew), else
	// Strict. Only Off itself (gsync's --host-key-check=off) turns
	// checking off.
	CheckDefault HostKeyCheck = iota
	// Strict refuses hosts whose key is not in known_hosts.
	Strict
	// AcceptNew adds the key of an unknown host to known_hosts.
	AcceptNew
	// Off skips host key verification (a warning is logged).
	Off
)

// ParseHostKeyCheck parses "strict", "accept-new" or "off" (and the
// ssh_config spellings "yes", "no", "ask").
func ParseHostKeyCheck(s string) (HostKeyCheck, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "default":
		return CheckDefault, nil
	case "strict", "yes", "ask":
		return Strict, nil
	case "accept-new", "no":
		// OpenSSH's "no" also accepts changed keys; gsync never does.
		return AcceptNew, nil
	case "off", "none", "false":
		return Off, nil
	}
	return CheckDefault, fmt.Errorf("bad host key check %q: want strict, accept-new or off", s)
}

// parseStrictHostKeyChecking parses ssh_config's StrictHostKeyChecking.
// OpenSSH's "no" and "off" accept new and changed keys; gsync reads both
// as AcceptNew, so a changed key is refused unless --host-key-check=off.
func parseStrictHostKeyChecking(s string) (HostKeyCheck, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return CheckDefault, nil
	case "yes", "true", "ask":
		return Strict, nil
	case "accept-new", "no", "false", "off":
		return AcceptNew, nil
	}
	return CheckDefault, fmt.Errorf("bad StrictHostKeyChecking %q: want yes, accept-new or no", s)
}

func (c HostKeyCheck) String() string {
	switch c {
	case Strict:
		return "strict"
	case AcceptNew:
		return "accept-new"
	case Off:
		return "off"
	}
	return "default"
}

// Config says where and how to connect. Only Host is required; everything
// else falls back to ssh_config and OpenSSH's defaults.
type Config struct {
	// Host is the host name or ssh_config alias (IPv6 without brackets).
	Host string
	// Port overrides ssh_config's Port (0: ssh_config, else 22).
	Port int
	// User overrides ssh_config's User ("": ssh_config, else the local
	// user name).
	User string
	// IdentityFiles are tried before ssh_config's IdentityFile entries.
	IdentityFiles []string
	// Options are ssh -o options (keys case-insensitive); they override
	// ssh_config.
	Options map[string]string
	// ConfigFile is the ssh_config to read ("": ~/.ssh/config, then
	// /etc/ssh/ssh_config; "none": none).
	ConfigFile string
	// KnownHostsFiles are consulted before ssh_config's
	// UserKnownHostsFile (default ~/.ssh/known_hosts); AcceptNew writes to
	// the first of them.
	KnownHostsFiles []string
	// HostKeyCheck says how unknown host keys are treated.
	HostKeyCheck HostKeyCheck
	// Password, when set, is offered by keyboard-interactive and password
	// authentication after the keys.
	Password Secret
	// NoAgent disables the ssh-agent (SSH_AUTH_SOCK).
	NoAgent bool
	// KeepAlive is the interval of keepalive requests (0: ssh_config's
	// ServerAliveInterval, else 15 s; negative: none).
	KeepAlive time.Duration
	// ConnectTimeout bounds dialling and the handshake (0: ssh_config's
	// ConnectTimeout, else 30 s).
	ConnectTimeout time.Duration
	// Home is the local home directory ("": $HOME or the password
	// database; when neither exists, files below it are skipped).
	Home string
	// Dial opens the TCP connection to the first hop; nil uses a
	// net.Dialer. Tests wrap the connection to count bytes.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives warnings and debug messages; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Rsh is what an rsync-style "-e ssh ..." command line selects.
type Rsh struct {
	Port          int
	User          string
	IdentityFiles []string
	Options       map[string]string // -o Key=Value, keys lower-case
	ConfigFile    string            // -F
	// Ignored lists options that were accepted but have no effect.
	Ignored []string
	// Password is sshpass -p's; PasswordFile is sshpass -f's;
	// PasswordEnv is sshpass -e ($SSHPASS).
	Password     Secret
	PasswordFile string
	PasswordEnv  bool
}

// sshFlagsWithArg are the ssh(1) options that take an argument.
const sshFlagsWithArg = "BbcDEeFIiJLlmOopQRSWw"

// ParseRsh parses an rsync -e/--rsh value such as
// "ssh -p 2222 -i key -o StrictHostKeyChecking=no -l user", followed by
// extra, further ssh arguments given as words (lsyncd's ssh={...}), which
// are never joined into a command line and split again. The command is
// never executed: its -p, -i, -l, -o, -F and -J options are honoured,
// flags without effect here (-C, -q, -v, -T, -x, ...) are listed in
// Ignored.
func ParseRsh(cmdline string, extra ...string) (Rsh, error) {
	r := Rsh{Options: map[string]string{}}
	// Messages never show an sshpass password.
	shown := cmdline
	if strings.Contains(cmdline, "sshpass") {
		shown = "sshpass ..."
	}
	words, err := splitWords(cmdline)
	if err != nil {
		return r, fmt.Errorf("parse --rsh %q: %w", shown, err)
	}
	if len(words) > 0 && filepath.Base(words[0]) == "sshpass" {
		if words, err = r.sshpass(words); err != nil {
			return r, fmt.Errorf("parse --rsh %q: %w", shown, err)
		}
		shown = "sshpass ... " + QuoteArgs(words)
	}
	if len(words) == 0 {
		if len(extra) == 0 {
			return r, nil
		}
		words = []string{"ssh"}
	}
	if prog := filepath.Base(words[0]); !strings.Contains(prog, "ssh") {
		return r, fmt.Errorf("parse --rsh %q: only ssh is supported (gsync speaks ssh itself and runs no %s)", shown, prog)
	}
	if len(extra) > 0 {
		shown = strings.Join(append(strings.Fields(shown), extra...), " ") // for messages only
	}
	cmdline = shown
	args := append(words[1:], extra...)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			return r, fmt.Errorf("parse --rsh %q: unexpected argument %q (a host or command does not belong in --rsh)", cmdline, a)
		}
		if a == "--" {
			continue
		}
		// Combined flags: "-qC", "-p2222", "-oKey=val".
		for j := 1; j < len(a); j++ {
			f := a[j]
			if !strings.ContainsRune(sshFlagsWithArg, rune(f)) {
				r.Ignored = append(r.Ignored, "-"+string(f))
				continue
			}
			val := a[j+1:]
			if val == "" {
				if i+1 >= len(args) {
					return r, fmt.Errorf("parse --rsh %q: option -%c needs an argument", cmdline, f)
				}
				i++
				val = args[i]
			}
			if err := r.set(f, val); err != nil {
				return r, fmt.Errorf("parse --rsh %q: %w", cmdline, err)
			}
			break
		}
	}
	return r, nil
}

// sshpass takes the options of an sshpass(1) command in front of ssh
// (lsyncd users write rsh = "sshpass -p SECRET ssh ..." or "sshpass -f
// FILE ssh ..."), keeping the password for gsync's own password login,
// and returns the words of the ssh command after it.
func (r *Rsh) sshpass(words []string) ([]string, error) {
	for i := 1; i < len(words); i++ {
		a := words[i]
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			return words[i:], nil
		}
		if a == "--" {
			return words[i+1:], nil
		}
		f, val := a[1], a[2:]
		if strings.IndexByte("pfdP", f) >= 0 && val == "" {
			if i+1 >= len(words) {
				return nil, fmt.Errorf("sshpass option -%c needs an argument", f)
			}
			i++
			val = words[i]
		}
		switch f {
		case 'p':
			r.Password = NewSecret(val)
		case 'f':
			r.PasswordFile = val
		case 'e':
			r.PasswordEnv = true
		case 'P', 'v':
			// The prompt to wait for, verbosity: gsync answers the
			// server's prompts itself.
		case 'd':
			return nil, errors.New("sshpass -d (a password from a file descriptor) is not supported: use sshpass -f FILE or --ssh-password-file")
		default:
			return nil, fmt.Errorf("unknown sshpass option -%c", f)
		}
	}
	return nil, errors.New("sshpass without an ssh command after it")
}

func (r *Rsh) set(flag byte, val string) error {
	switch flag {
	case 'p':
		p, err := parsePort(val)
		if err != nil {
			return err
		}
		r.Port = p
	case 'l':
		r.User = val
	case 'i':
		r.IdentityFiles = append(r.IdentityFiles, val)
	case 'F':
		r.ConfigFile = val
	case 'J':
		r.Options["proxyjump"] = val
	case 'c': // ssh -c cipher_spec is Ciphers, -m is MACs
		if _, seen := r.Options["ciphers"]; !seen {
			r.Options["ciphers"] = val
		}
	case 'm':
		if _, seen := r.Options["macs"]; !seen {
			r.Options["macs"] = val
		}
	case 'o':
		k, v, ok := strings.Cut(val, "=")
		if !ok {
			k, v, ok = strings.Cut(strings.TrimSpace(val), " ")
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return fmt.Errorf("option -o %q: want Key=Value", val)
		}
		k = strings.ToLower(k)
		if k == "identityfile" {
			r.IdentityFiles = append(r.IdentityFiles, v)
			break
		}
		if _, seen := r.Options[k]; !seen { // ssh: the first value wins
			r.Options[k] = v
		}
	default:
		r.Ignored = append(r.Ignored, "-"+string(flag)+" "+val)
	}
	return nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port %q: want a number from 1 to 65535", s)
	}
	return n, nil
}

// splitWords splits a command line like a POSIX shell would, without
// expansions (internal/shellwords: single quotes, double quotes with
// \" \\ \$ \` escapes, backslashes).
func splitWords(s string) ([]string, error) { return shellwords.Split(s) }

// ShellQuote quotes a word for a POSIX shell: single quotes, with each
// embedded single quote written as '\”. Plain words are left alone.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteArgs quotes every word with ShellQuote and joins them with spaces.
func QuoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// settings is a Config resolved against ssh_config for one host.
type settings struct {
	alias    string // as given
	hostname string // to connect to
	port     int
	user     string
	idFiles  []string // in order, expanded
	idGiven  int      // how many of idFiles were given explicitly
	jump     string   // ProxyJump, "" or "none" for none
	proxy    []string // ProxyCommand's words, expanded; nil for none
	certs    []string // CertificateFile entries, expanded
	// idOnly is IdentitiesOnly: the agent's keys are used only when
	// they are those of the identity files.
	idOnly bool
	// agentSock is the ssh-agent socket ("": none).
	agentSock string
	// Which methods may log in (PubkeyAuthentication,
	// KbdInteractiveAuthentication, PasswordAuthentication).
	pubkeyAuth, kbdAuth, passAuth bool
	// Algorithm lists; nil leaves golang.org/x/crypto/ssh's defaults.
	ciphers, kex, macs, hostKeyAlgos, pubkeyAlgos []string
	known                                         []string // known_hosts files to read (may not exist)
	// knownWrite is the file accepted keys are added to: the first
	// KnownHostsFiles entry, else the first UserKnownHostsFile; "" when
	// there is none, "/dev/null" when keys are accepted without storing.
	knownWrite string
	check      HostKeyCheck
	hash       bool
	alive      time.Duration
	aliveMax   int
	timeout    time.Duration
	home       string
}

// homeDir finds the local home directory without requiring one.
func homeDir(cfg string) string {
	if cfg != "" {
		return cfg
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return h
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		return u.HomeDir
	}
	return ""
}

// localUser is the user name ssh would log in as by default.
func localUser() string {
	for _, env := range []string{"USER", "LOGNAME"} {
		if u := os.Getenv(env); u != "" {
			return u
		}
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return ""
}

func expandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok && home != "" {
		return filepath.Join(home, rest)
	}
	return p
}

// expandTokens expands ssh_config's %-tokens and a leading ~.
func (s *settings) expandTokens(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' || i+1 >= len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(s.home)
		case 'h':
			b.WriteString(s.hostname)
		case 'n':
			b.WriteString(s.alias)
		case 'p':
			b.WriteString(strconv.Itoa(s.port))
		case 'r':
			b.WriteString(s.user)
		case 'u':
			b.WriteString(localUser())
		default:
			b.WriteByte('%')
			b.WriteByte(v[i])
		}
	}
	return expandHome(b.String(), s.home)
}

// resolve merges cfg, the -o options and ssh_config for cfg.Host.
func resolve(cfg Config) (*settings, error) {
	if cfg.Host == "" {
		return nil, errors.New("no host name")
	}
	s := &settings{alias: cfg.Host, home: homeDir(cfg.Home)}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	// Like ssh, the command line first: its values win, and they are what
	// Match user and Match host see while the files are read.
	confs := newConfValues(cfg.Host, s.home, log)
	confs.matchUser = localUser()
	if cfg.User != "" {
		confs.set("user", cfg.User)
	}
	for _, k := range sortedKeys(cfg.Options) {
		confs.set(k, cfg.Options[k])
	}
	if err := confs.readConfigs(cfg.ConfigFile); err != nil {
		return nil, err
	}
	opt := confs.get
	var err error
	s.hostname = cfg.Host
	if h := opt("HostName"); h != "" {
		s.hostname = strings.ReplaceAll(h, "%h", cfg.Host)
	}
	s.port = 22
	if cfg.Port != 0 {
		s.port = cfg.Port
	} else if p := opt("Port"); p != "" {
		if s.port, err = parsePort(p); err != nil {
			return nil, fmt.Errorf("ssh config for %s: %w", cfg.Host, err)
		}
	}
	s.user = cfg.User
	if s.user == "" {
		s.user = opt("User")
	}
	if s.user == "" {
		s.user = localUser()
	}
	if s.user == "" {
		return nil, fmt.Errorf("no user name for %s: write user@%s or set User in the ssh config", cfg.Host, cfg.Host)
	}
	for _, f := range cfg.IdentityFiles {
		s.idFiles = append(s.idFiles, s.expandTokens(f))
	}
	s.idGiven = len(s.idFiles)
	for _, f := range confs.getAll("IdentityFile") {
		s.idFiles = append(s.idFiles, s.expandTokens(f))
	}
	if len(s.idFiles) == 0 && s.home != "" {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			s.idFiles = append(s.idFiles, filepath.Join(s.home, ".ssh", n))
		}
	}
	if err := s.resolveProxy(confs); err != nil {
		return nil, fmt.Errorf("ssh config for %s: %w", cfg.Host, err)
	}
	for _, f := range confs.getAll("CertificateFile") {
		s.certs = append(s.certs, s.expandTokens(f))
	}
	if s.idOnly, err = parseYesNo("IdentitiesOnly", opt("IdentitiesOnly")); err != nil {
		return nil, fmt.Errorf("ssh config for %s: %w", cfg.Host, err)
	}
	s.agentSock = s.agentSocket(opt("IdentityAgent"), cfg.NoAgent)
	for _, m := range []struct {
		key string
		dst *bool
	}{{"PubkeyAuthentication", &s.pubkeyAuth}, {"KbdInteractiveAuthentication", &s.kbdAuth}, {"PasswordAuthentication", &s.passAuth}} {
		v := strings.ToLower(opt(m.key))
		if v == "" || v == "unbound" || v == "host-bound" { // the last two: PubkeyAuthentication
			*m.dst = true
			continue
		}
		if *m.dst, err = parseYesNo(m.key, v); err != nil {
			return nil, fmt.Errorf("ssh config for %s: %w", cfg.Host, err)
		}
	}
	if err := s.resolveAlgorithms(opt); err != nil {
		return nil, fmt.Errorf("ssh config for %s: %w", cfg.Host, err)
	}
	for _, f := range cfg.KnownHostsFiles {
		s.known = append(s.known, s.expandTokens(f))
	}
	user := opt("UserKnownHostsFile")
	if user == "" && s.home != "" {
		user = "~/.ssh/known_hosts ~/.ssh/known_hosts2"
	}
	global := opt("GlobalKnownHostsFile")
	if global == "" {
		global = "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"
	}
	if len(s.known) > 0 {
		s.knownWrite = s.known[0]
	}
	for i, f := range append(strings.Fields(user), strings.Fields(global)...) {
		if f == "/dev/null" || f == "none" {
			if i == 0 && s.knownWrite == "" {
				s.knownWrite = "/dev/null"
			}
			continue
		}
		f = s.expandTokens(f)
		if i < len(strings.Fields(user)) && s.knownWrite == "" {
			s.knownWrite = f
		}
		s.known = append(s.known, f)
	}
	s.check = cfg.HostKeyCheck
	if s.check == CheckDefault {
		if s.check, err = parseStrictHostKeyChecking(opt("StrictHostKeyChecking")); err != nil {
			return nil, fmt.Errorf("ssh config for %s: %w", cfg.Host, err)
		}
	}
	if s.check == CheckDefault {
		s.check = Strict
	}
	s.hash = strings.EqualFold(opt("HashKnownHosts"), "yes")
	s.alive = cfg.KeepAlive
	if s.alive == 0 {
		s.alive = 15 * time.Second
		if v := opt("ServerAliveInterval"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("ssh config for %s: bad ServerAliveInterval %q", cfg.Host, v)
			}
			s.alive = time.Duration(n) * time.Second
			if n == 0 {
				s.alive = -1
			}
		}
	}
	s.aliveMax = 3
	if v := opt("ServerAliveCountMax"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			s.aliveMax = n
		}
	}
	s.timeout = cfg.ConnectTimeout
	if s.timeout == 0 {
		s.timeout = 30 * time.Second
		if v := opt("ConnectTimeout"); v != "" && !strings.EqualFold(v, "none") {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("ssh config for %s: bad ConnectTimeout %q: want seconds", cfg.Host, v)
			}
			if n > 0 {
				s.timeout = time.Duration(n) * time.Second
			}
		}
	}
	return s, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func parseYesNo(key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "no", "false":
		return false, nil
	case "yes", "true":
		return true, nil
	}
	return false, fmt.Errorf("bad %s %q: want yes or no", key, v)
}

// resolveProxy picks ProxyJump or ProxyCommand: whichever was obtained
// first, as in OpenSSH (ssh_config(5): "whichever is specified first will
// prevent later instances of the other option from taking effect").
func (s *settings) resolveProxy(c *confValues) error {
	jump, cmd := c.get("ProxyJump"), c.get("ProxyCommand")
	if cmd != "" && jump != "" {
		if c.order("ProxyJump") < c.order("ProxyCommand") {
			cmd = ""
		} else {
			jump = ""
		}
	}
	s.jump = jump
	if cmd == "" {
		return nil
	}
	var err error
	s.proxy, err = s.proxyArgv(cmd)
	return err
}

// agentSocket resolves IdentityAgent: "none" for no agent, "SSH_AUTH_SOCK"
// or "" for $SSH_AUTH_SOCK, "$NAME" for another variable, else a path
// (%-tokens and ~ expanded).
func (s *settings) agentSocket(v string, noAgent bool) string {
	switch {
	case noAgent || strings.EqualFold(v, "none"):
		return ""
	case v == "" || v == "SSH_AUTH_SOCK":
		return os.Getenv("SSH_AUTH_SOCK")
	case strings.HasPrefix(v, "$"):
		return os.Getenv(strings.Trim(v[1:], "{}"))
	}
	return s.expandTokens(v)
}

// resolveAlgorithms applies Ciphers, KexAlgorithms, MACs,
// HostKeyAlgorithms and PubkeyAcceptedAlgorithms (formerly
// PubkeyAcceptedKeyTypes) to golang.org/x/crypto/ssh's lists.
func (s *settings) resolveAlgorithms(opt func(string) string) error {
	ciphers, kex, macs, hostKeys, pubkeys := algoSets()
	pub := opt("PubkeyAcceptedAlgorithms")
	if pub == "" {
		pub = opt("PubkeyAcceptedKeyTypes")
	}
	for _, e := range []struct {
		set  algoSet
		spec string
		dst  *[]string
	}{
		{ciphers, opt("Ciphers"), &s.ciphers},
		{kex, opt("KexAlgorithms"), &s.kex},
		{macs, opt("MACs"), &s.macs},
		{hostKeys, opt("HostKeyAlgorithms"), &s.hostKeyAlgos},
		{pubkeys, pub, &s.pubkeyAlgos},
	} {
		l, err := e.set.edit(e.spec)
		if err != nil {
			return err
		}
		*e.dst = l
	}
	return nil
}

// usedOptions are the ssh_config keywords gsync acts on (lower case).
var usedOptions = map[string]bool{
	"hostname": true, "port": true, "user": true, "identityfile": true, "identitiesonly": true,
	"identityagent": true, "certificatefile": true, "proxyjump": true, "proxycommand": true,
	"userknownhostsfile": true, "globalknownhostsfile": true, "stricthostkeychecking": true,
	"hashknownhosts": true, "serveraliveinterval": true, "serveralivecountmax": true,
	"connecttimeout": true, "ciphers": true, "kexalgorithms": true, "macs": true,
	"hostkeyalgorithms": true, "pubkeyacceptedalgorithms": true, "pubkeyacceptedkeytypes": true,
	"pubkeyauthentication": true, "kbdinteractiveauthentication": true, "passwordauthentication": true,
	// gsync never prompts: BatchMode yes is what it always does.
	"batchmode": true,
}

// UnusedOptions returns the keys of opts (ssh -o options) that gsync does
// not act on, sorted, for a startup warning.
func UnusedOptions(opts map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(opts) {
		if !usedOptions[strings.ToLower(k)] {
			out = append(out, k)
		}
	}
	return out
}

// addr is host:port for dialling and for known_hosts.
func (s *settings) addr() string { return net.JoinHostPort(s.hostname, strconv.Itoa(s.port)) }
