package transport

import (
	"errors"
	"testing"
)

// TestPeerRejected: the refusals of getopt (openrsync), popt (C rsync:
// --fsync before 3.2.4) and gokrazy/rsync name the option, in its long
// spelling, and the program when its words name it; other failures are
// left as they are.
func TestPeerRejected(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err, stderr     string
		opt, sent, prog string
	}{
		{"closed", "/usr/bin/openrsync: unrecognized option '--inplace'\nusage: openrsync [-DFP]", "--inplace", "--inplace", "openrsync"},
		{"closed", "openrsync: invalid option -- 'm'\nusage", "--prune-empty-dirs", "-m", "openrsync"},
		{"closed", "rsync: --fsync: unknown option\nrsync error: syntax or usage error (code 1)", "--fsync", "--fsync", ""},
		{"gokr-rsync [sender]: parsing server args: -b: unknown option", "", "--backup", "-b", "gokrazy/rsync"},
		{"gokr-rsync [sender]: parsing server args: --partial-dir=.p: unknown option", "", "--partial-dir", "--partial-dir", "gokrazy/rsync"},
	} {
		err := peerRejected(errors.New(c.err), "host:/dir", []byte(c.stderr))
		var pe *PeerOptionError
		if !errors.As(err, &pe) {
			t.Errorf("%q / %q: %v, want a PeerOptionError", c.err, c.stderr, err)
			continue
		}
		if pe.Option != c.opt || pe.Sent != c.sent || pe.Program != c.prog || pe.Peer != "host:/dir" {
			t.Errorf("%q / %q: %+v, want option %s sent as %s by %q", c.err, c.stderr, pe, c.opt, c.sent, c.prog)
		}
	}
	plain := errors.New("connection reset by peer")
	if err := peerRejected(plain, "host:/dir", []byte("rsync: write failed on \"/d/f\": No space left on device (28)")); err != plain {
		t.Errorf("an unrelated failure became %v", err)
	}
}
