package transport_test

import (
	"testing"

	"github.com/gsync/gsync/transport"
)

func TestDeleteModeText(t *testing.T) {
	for in, want := range map[string]transport.DeleteMode{
		"true": transport.DeleteAlways, "false": transport.DeleteNever,
		"startup": transport.DeleteStartup, "running": transport.DeleteRunning,
	} {
		var m transport.DeleteMode
		if err := m.UnmarshalText([]byte(in)); err != nil || m != want {
			t.Errorf("UnmarshalText(%q) = %v, mode %v; want %v", in, err, m, want)
		}
		if m.String() != in {
			t.Errorf("String() = %q, want %q", m.String(), in)
		}
	}
	var m transport.DeleteMode
	if m.UnmarshalText([]byte("maybe")) == nil {
		t.Error("UnmarshalText(maybe) accepted")
	}
}
