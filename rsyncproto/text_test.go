package rsyncproto

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"message\n", "message"},
		{"two\nlines\n", `two\#012lines`},
		{"tab\tkept", "tab\tkept"},
		{"\x1b[31mred\x1b[0m", `\#033[31mred\#033[0m`},
		{"bell\a and del\x7f", `bell\#007 and del\#177`},
		{"cr\rinside", `cr\#015inside`},
		{"nul\x00", `nul\#000`},
		{"bad \xff\xfe utf8", `bad \#377\#376 utf8`},
		{"grüße 日本", "grüße 日本"},
		{"c1 \u009b control", `c1 \#302\#233 control`},
		{"bidi \u202e override", `bidi \#342\#200\#256 override`},
		{`looks \#012 escaped`, `looks \#134#012 escaped`},
		{`lone \ backslash \#x`, `lone \ backslash \#x`},
		{"", ""},
	} {
		if got := EscapeText(tc.in); got != tc.want {
			t.Errorf("EscapeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEscapeTextLength(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("a", MaxTextLen),
		strings.Repeat("a", MaxTextLen+1),
		strings.Repeat("\x1b", 4000),
		strings.Repeat("ü", 5000),
		strings.Repeat("x", 16<<20),
	} {
		got := EscapeText(in)
		if len(got) > MaxTextLen {
			t.Errorf("len %d > %d", len(got), MaxTextLen)
		}
		if !utf8.ValidString(got) {
			t.Errorf("output of %d bytes is not valid UTF-8", len(got))
		}
		if len(in) > MaxTextLen && in[0] != 0x1b && !strings.HasSuffix(got, truncMarker) {
			t.Errorf("long input not marked as cut: ...%q", got[len(got)-10:])
		}
	}
	if got := EscapeText(strings.Repeat("a", MaxTextLen)); got != strings.Repeat("a", MaxTextLen) {
		t.Error("text of exactly MaxTextLen was cut")
	}
	if got := EscapeText(strings.Repeat("\x1b", 4000)); !strings.HasSuffix(got, `\#033`+truncMarker) {
		t.Errorf("escape sequence cut in the middle: ...%q", got[len(got)-12:])
	}
}
