//go:build unix

package ops

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSyslog: lines go to the syslog socket with lsyncd's facility and
// ident and the severity of their level; unknown facilities are refused.
func TestSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := OpenSyslog(sock, "local3", "mirror")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, line := range []string{"level=INFO msg=hello\n", "level=ERROR msg=bad\n"} {
		if _, err := s.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	// <PRI> = facility*8 + severity: local3 (19) info (6) = 158, err (3) = 155.
	for _, want := range []string{"<158>", "<155>"} {
		buf := make([]byte, 4096)
		ln.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := ln.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got := string(buf[:n])
		if !strings.HasPrefix(got, want) || !strings.Contains(got, "mirror[") {
			t.Errorf("syslog got %q, want priority %s and ident mirror", got, want)
		}
	}
	for _, f := range []string{"LOCAL3", "152", "daemon", ""} {
		if _, err := ParseFacility(f); err != nil {
			t.Errorf("ParseFacility(%q): %v", f, err)
		}
	}
	for _, f := range []string{"local9", "153", "x"} {
		if _, err := ParseFacility(f); err == nil {
			t.Errorf("ParseFacility(%q) accepted", f)
		}
	}
}
