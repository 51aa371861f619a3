// Package peertext makes text that came from a peer (an rsync receiver,
// an ssh or SFTP server) safe to show in a log, a status file or a
// terminal. It is the one place of that rule; rsyncproto and sshx both
// use it.
package peertext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Marker ends text that Escape shortened (rsync's log.c:rprintf appends
// the same marker when a message overflows its buffer).
const Marker = "[...]"

// Escape returns s the way rsync prints file names
// (log.c:filtered_fwrite): every byte of a control character, of a
// non-printable rune and of invalid UTF-8 becomes \#ooo (three octal
// digits), a backslash that would read as such an escape becomes \#134,
// and tabs stay. Unlike rsync without -8, printable UTF-8 stays as it is.
// Trailing newlines are dropped (log.c:rwrite keeps a message's final
// newline out of the text). A result longer than max bytes is cut at a
// character boundary and ends in Marker, within max bytes.
func Escape(s string, max int) string {
	s = strings.TrimRight(s, "\r\n")
	var b strings.Builder
	cut := 0 // length of b at the last boundary that leaves room for the marker
	for i := 0; i < len(s) && b.Len() <= max; {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			escapeBytes(&b, s[i:i+1])
		case r == '\\' && looksEscaped(s[i:]):
			escapeBytes(&b, s[i:i+1])
		case r == '\t' || unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			escapeBytes(&b, s[i:i+size])
		}
		i += size
		if b.Len() <= max-len(Marker) {
			cut = b.Len()
		}
	}
	if b.Len() <= max {
		return b.String()
	}
	return b.String()[:cut] + Marker
}

// escapeBytes writes each byte of p as \#ooo.
func escapeBytes(b *strings.Builder, p string) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		b.Write([]byte{'\\', '#', '0' + c>>6, '0' + c>>3&7, '0' + c&7})
	}
}

// looksEscaped reports whether s starts with \#ddd, which Escape would
// otherwise be unable to tell from its own output.
func looksEscaped(s string) bool {
	return len(s) >= 5 && s[0] == '\\' && s[1] == '#' && isDigit(s[2]) && isDigit(s[3]) && isDigit(s[4])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
