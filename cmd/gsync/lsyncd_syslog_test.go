//go:build unix

package main

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/ops"
)

// TestLsyncdSyslog: logfacility and logident send the log to syslog as
// lsyncd does (no logfile, no nodaemon), with the facility and ident
// given; with nodaemon nothing goes there; a bad facility is refused.
func TestLsyncdSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	out := &ops.Tee{Writers: []io.Writer{&stderr}}
	closeFn, err := openLsyncdSyslog(lsyncdconf.Settings{LogFacility: "daemon", LogIdent: "webmirror"}, sock, out, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	log, err := newLogger(out, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("hello syslog")
	closeFn()
	buf := make([]byte, 4096)
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := ln.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	// daemon (3) * 8 + warning (4) = 28.
	if got := string(buf[:n]); !strings.HasPrefix(got, "<28>") || !strings.Contains(got, "webmirror[") || !strings.Contains(got, "hello syslog") {
		t.Errorf("syslog got %q", got)
	}
	if !strings.Contains(stderr.String(), "hello syslog") {
		t.Errorf("stderr lost the line: %q", stderr.String())
	}

	out = &ops.Tee{Writers: []io.Writer{&stderr}}
	closeFn, err = openLsyncdSyslog(lsyncdconf.Settings{LogIdent: "x", NoDaemon: true}, sock, out, &stderr)
	if err != nil || len(out.Writers) != 1 {
		t.Errorf("nodaemon: %v, %d writers, want no syslog", err, len(out.Writers))
	}
	closeFn()
	if _, err := openLsyncdSyslog(lsyncdconf.Settings{LogFacility: "local9"}, sock, out, &stderr); err == nil || !strings.Contains(err.Error(), "local9") {
		t.Errorf("bad facility: %v", err)
	}
}
