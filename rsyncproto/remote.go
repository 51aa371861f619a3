package rsyncproto

import (
	"fmt"
	"strings"
)

// maxRemoteLines bounds the stderr lines MergeRemote turns into warnings
// and failures; the rest are counted in one warning.
const maxRemoteLines = 1000

// MergeRemote folds what a remote-shell server reported outside the
// protocol into r: its exit status and its stderr. A server started by a
// remote shell (not a socket daemon) writes its error messages to stderr
// (options.c msgs2stderr default) and reports failures in its exit status,
// exactly as for the C client, so per-file receiver errors only surface
// here. Lines naming a listed path become FileErrors. The text is
// escaped (EscapeText); the caller bounds how much stderr it collects.
func (r *Result) MergeRemote(exitCode int, stderr []byte) {
	n, more := 0, 0
	for _, line := range strings.Split(string(stderr), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "rsync error:") {
			continue
		}
		if n >= maxRemoteLines {
			more++
			continue
		}
		n++
		r.mergeLine(line)
	}
	if more > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("... and %d more lines from the remote rsync (not kept)", more))
	}
	switch {
	case exitCode == 0:
	case r.ExitCode == 0, r.ExitCode == ExitVanished && exitCode == ExitPartial:
		r.ExitCode = exitCode
	}
}

// mergeLine records one stderr line: attributed as received, shown
// escaped.
func (r *Result) mergeLine(line string) {
	text := EscapeText(line)
	r.Warnings = append(r.Warnings, text)
	if strings.HasPrefix(line, "rsync:") || strings.HasPrefix(line, "ERROR") {
		if p := attribute(capText(line), r.names); p != "" {
			r.Failed = append(r.Failed, FileError{Path: p, Err: fmt.Errorf("%w: %s", ErrReceiver, text)})
		}
	}
}
