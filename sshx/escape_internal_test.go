package sshx

import (
	"strings"
	"testing"
)

func TestEscapeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, tab\there", "plain text, tab\there"},
		{"\x1b]0;owned\x07\x1b[2J", `\#033]0;owned\#007\#033[2J`},
		{"line\nbreak\rcr", `line\#012break\#015cr`},
		{"del\x7f c1\u009b utf8 é", `del\#177 c1\#302\#233 utf8 é`},
		{"bad \xff byte", `bad \#377 byte`},
		{"bidi \u202eevil", `bidi \#342\#200\#256evil`},
		{"trailing newline\r\n", "trailing newline"},
		{`fake \#033 escape, real \# and \1`, `fake \#134#033 escape, real \# and \1`},
	} {
		if got := escapeText(tc.in); got != tc.want {
			t.Errorf("escapeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := escapeText(strings.Repeat("\x1b", 10*maxPeerText))
	if len(long) > maxPeerText+64 || !strings.HasSuffix(long, "[...]") {
		t.Errorf("escapeText of %d control bytes: %d bytes, want at most ~%d with a cut marker", 10*maxPeerText, len(long), maxPeerText)
	}
}
