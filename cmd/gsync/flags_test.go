package main

import (
	"testing"
	"time"
)

func TestParseDelay(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "15": 15 * time.Second, "0.5": 500 * time.Millisecond,
		"500ms": 500 * time.Millisecond, "2m": 2 * time.Minute, " 3 ": 3 * time.Second,
	} {
		got, err := parseDelay(in)
		if err != nil || got != want {
			t.Errorf("parseDelay(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "-1", "-5s"} {
		if _, err := parseDelay(bad); err == nil {
			t.Errorf("parseDelay(%q) accepted", bad)
		}
	}
}
