package main

import (
	"testing"
	"time"

	"github.com/gsync/gsync/transport"
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

func TestDeleteValue(t *testing.T) {
	var m transport.DeleteMode
	v := deleteValue{&m}
	for in, want := range map[string]transport.DeleteMode{
		"true": transport.DeleteAlways, "false": transport.DeleteNever,
		"startup": transport.DeleteStartup, "running": transport.DeleteRunning,
	} {
		if err := v.Set(in); err != nil || m != want {
			t.Errorf("Set(%q) = %v, mode %v; want %v", in, err, m, want)
		}
		if v.String() != in {
			t.Errorf("String() = %q, want %q", v.String(), in)
		}
	}
	if v.Set("maybe") == nil {
		t.Error("Set(maybe) accepted")
	}
}
