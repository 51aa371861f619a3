package main

import (
	"testing"
	"time"

	"github.com/gsync/gsync/delay"
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

func TestToChanges(t *testing.T) {
	items := []delay.Item{
		{Op: delay.Move, From: "a", Path: "b", IsDir: true},
		{Op: delay.Delete, Path: "c"},
		{Op: delay.Create, Path: "d", IsDir: true, Recursive: true},
		{Op: delay.Attrib, Path: "e"},
	}
	got := toChanges(items, transport.DeleteAlways)
	want := []transport.Change{
		{Kind: transport.Rename, From: "a", Path: "b", IsDir: true},
		{Kind: transport.Delete, Path: "c"},
		{Kind: transport.Sync, Path: "d", IsDir: true, Recursive: true},
		{Kind: transport.Sync, Path: "e"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Without runtime deletes a move becomes a recursive copy of its destination.
	got = toChanges(items[:1], transport.DeleteStartup)
	if got[0].Kind != transport.Sync || got[0].Path != "b" || !got[0].Recursive {
		t.Errorf("move without deletes = %+v, want a recursive sync of b", got[0])
	}
}
