package sshx

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxPeerText caps the text from the server that one message carries
// (SFTP status messages, exec stderr, disconnect reasons).
const maxPeerText = 4096

// escapeText makes text from the server safe to log and to show in
// status, like rsync's log.c (and rsyncproto.EscapeText, which sshx must
// not import: it knows nothing about rsync): every byte of a control
// character, of another non-printable rune and of invalid UTF-8 becomes
// \#ooo (the byte in octal), a backslash that would read as such an escape
// becomes \#134, tabs stay; trailing newlines are dropped and the result
// is cut at maxPeerText bytes with a note of what was cut.
func escapeText(s string) string {
	s = strings.TrimRight(s, "\r\n")
	var b strings.Builder
	for i := 0; i < len(s); {
		if b.Len() >= maxPeerText {
			b.WriteString("... [" + strconv.Itoa(len(s)-i) + " bytes cut]")
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(s[i:], r, size) {
			for _, c := range []byte(s[i : i+size]) {
				b.WriteString(`\#`)
				b.WriteString(octal3(c))
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// needsEscape reports whether the rune r (size bytes) at the start of s
// must be escaped.
func needsEscape(s string, r rune, size int) bool {
	switch {
	case r == utf8.RuneError && size <= 1:
		return true
	case r == '\\':
		return len(s) >= 5 && s[1] == '#' && isDigit(s[2]) && isDigit(s[3]) && isDigit(s[4])
	}
	return r != '\t' && !unicode.IsPrint(r)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func octal3(c byte) string {
	return string([]byte{'0' + c>>6, '0' + c>>3&7, '0' + c&7})
}

// peerError carries an error whose text comes (in part) from the server;
// its message is escaped, Unwrap still reaches the original.
type peerError struct{ err error }

func (e *peerError) Error() string { return escapeText(e.err.Error()) }
func (e *peerError) Unwrap() error { return e.err }

// escapeErr wraps err, if any, so that its text is shown escaped.
func escapeErr(err error) error {
	if err == nil {
		return nil
	}
	return &peerError{err}
}
