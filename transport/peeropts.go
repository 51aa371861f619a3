package transport

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/gsync/gsync/rsyncopts"
	"github.com/gsync/gsync/rsyncproto"
)

// PeerOptionError is a failure caused by a remote rsync that does not
// take an option gsync sent it (openrsync without --inplace, --append,
// --partial-dir, --delay-updates, -m or --fsync; gokrazy/rsync's short
// list; --fsync before rsync 3.2.4). It is fatal: no retry makes the
// peer take it.
type PeerOptionError struct {
	// Peer names the target whose rsync refused the option, Program
	// that rsync when its words name it ("openrsync", "gokrazy/rsync").
	Peer, Program string
	// Option is the option in its long spelling ("--prune-empty-dirs"),
	// Sent the word it went as when that differs ("-m").
	Option, Sent string
	// Err is the failure, with the peer's own words.
	Err error
}

func (e *PeerOptionError) Error() string {
	sent := ""
	if e.Sent != "" && e.Sent != e.Option {
		sent = " (sent as " + e.Sent + ")"
	}
	prog := ""
	if e.Program != "" {
		prog = " (" + e.Program + ")"
	}
	return fmt.Sprintf("the rsync at %s%s does not take option %s%s: drop the option for this target or use a receiver that has it (%v)",
		e.Peer, prog, e.Option, sent, e.Err)
}

func (e *PeerOptionError) Unwrap() error { return e.Err }

// refusedOptionRe find the option in what rsync implementations say of
// an option they do not know: getopt_long ("unrecognized option
// '--inplace'", "invalid option -- 'm'"), popt in C rsync ("--fsync:
// unknown option"), gokrazy/rsync ("parsing server args: -b: unknown
// option").
var refusedOptionRe = []*regexp.Regexp{
	regexp.MustCompile(`unrecognized option [\x60']?(--[A-Za-z0-9][A-Za-z0-9-]*)`),
	regexp.MustCompile(`(?:invalid|unknown|illegal) option -- [\x60']?([A-Za-z0-9])`),
	regexp.MustCompile(`(?:^|[\s:])(--?[A-Za-z0-9][A-Za-z0-9-]*)(?:=\S*)?: unknown option`),
}

// peerRejected returns err as a *PeerOptionError when err's text or the
// peer's further output (its stderr) says that the peer refused an
// option; otherwise err.
func peerRejected(err error, peer string, stderr []byte) error {
	var pe *PeerOptionError
	if err == nil || errors.As(err, &pe) {
		return err
	}
	text := err.Error() + "\n" + rsyncproto.EscapeText(string(stderr))
	for _, re := range refusedOptionRe {
		m := re.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		opt := m[1]
		if !strings.HasPrefix(opt, "-") {
			opt = "-" + opt
		}
		long := opt
		if len(opt) == 2 {
			if l := rsyncopts.LongName(opt[1]); l != "" {
				long = "--" + l
			}
		}
		prog := ""
		switch {
		case strings.Contains(text, "openrsync"):
			prog = "openrsync"
		case strings.Contains(text, "gokr-rsync"):
			prog = "gokrazy/rsync"
		}
		return &PeerOptionError{Peer: peer, Program: prog, Option: long, Sent: opt, Err: err}
	}
	return err
}
