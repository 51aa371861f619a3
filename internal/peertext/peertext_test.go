package peertext

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text\twith tab", "plain text\twith tab"},
		{"\x1b[31mred\x1b[0m\n", `\#033[31mred\#033[0m`},
		{"bad \xff utf8", `bad \#377 utf8`},
		{`a \#123 lookalike`, `a \#134#123 lookalike`},
		{"ünïcode", "ünïcode"},
		{"line\nbreak", `line\#012break`},
	} {
		if got := Escape(tc.in, 100); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEscapeCut(t *testing.T) {
	for _, max := range []int{10, 64, 4096} {
		got := Escape(strings.Repeat("\x07é", 10*max), max)
		if len(got) > max || !strings.HasSuffix(got, Marker) {
			t.Errorf("max %d: got %d bytes %q, want at most %d ending in %q", max, len(got), got, max, Marker)
		}
	}
	if got := Escape(strings.Repeat("x", 64), 64); got != strings.Repeat("x", 64) {
		t.Errorf("text of exactly max bytes was cut: %q", got)
	}
}
