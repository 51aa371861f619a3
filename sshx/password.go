package sshx

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Secret is a password. It is shown as "[redacted]" by fmt, %v, %q and
// log/slog, so that logging a Config or an Rsh never reveals it.
type Secret struct{ s string }

// NewSecret wraps a password.
func NewSecret(s string) Secret { return Secret{s} }

// IsZero reports whether there is no password.
func (s Secret) IsZero() bool { return s.s == "" }

// String returns "[redacted]" (or "" for no password).
func (s Secret) String() string {
	if s.s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString is String: %#v does not reveal the password either.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps the password out of logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// ReadPasswordFile reads an ssh password: the first line of file (sshpass
// -f reads the same), which only its owner may read: a file group or
// others may access (any of mode 077) is refused.
func ReadPasswordFile(file string) (Secret, error) {
	f, err := os.Open(file)
	if err != nil {
		return Secret{}, fmt.Errorf("read ssh password file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Secret{}, fmt.Errorf("read ssh password file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Secret{}, fmt.Errorf("ssh password file %s is not a regular file", file)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return Secret{}, fmt.Errorf("ssh password file %s has mode %04o: only its owner may read it (chmod 600 %s)", file, uint32(perm), ShellQuote(file))
	}
	line, err := bufio.NewReader(io.LimitReader(f, 64<<10)).ReadString('\n')
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			return Secret{}, fmt.Errorf("ssh password file %s is empty", file)
		}
		return Secret{}, fmt.Errorf("read ssh password file %s: %w", file, err)
	}
	return Secret{strings.TrimRight(line, "\r\n")}, nil
}

// passwordMethods are the keyboard-interactive and password logins with
// pw, in OpenSSH's default order (after publickey); each is tried once.
// Keyboard-interactive answers every prompt that does not echo with the
// password (what sshpass does with a "password:" prompt); a prompt that
// echoes (a user name, a one-time code) cannot be answered and ends that
// method with an error naming it.
func passwordMethods(s *settings, pw Secret) []ssh.AuthMethod {
	var out []ssh.AuthMethod
	if pw.IsZero() {
		return nil
	}
	if s.kbdAuth {
		out = append(out, ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i, q := range questions {
				if echos[i] {
					return nil, fmt.Errorf("keyboard-interactive login asks %q, which gsync cannot answer (only passwords)", escapeText(q))
				}
				answers[i] = pw.s
			}
			return answers, nil
		}))
	}
	if s.passAuth {
		out = append(out, ssh.Password(pw.s))
	}
	return out
}
