package rsyncproto

import (
	"fmt"
	"strings"
)

// MergeRemote folds what a remote-shell server reported outside the
// protocol into r: its exit status and its stderr. A server started by a
// remote shell (not a socket daemon) writes its error messages to stderr
// (options.c msgs2stderr default) and reports failures in its exit status,
// exactly as for the C client, so per-file receiver errors only surface
// here. Lines naming a listed path become FileErrors.
func (r *Result) MergeRemote(exitCode int, stderr []byte) {
	for _, line := range strings.Split(string(stderr), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "rsync error:") {
			continue
		}
		r.Warnings = append(r.Warnings, line)
		if strings.HasPrefix(line, "rsync:") || strings.HasPrefix(line, "ERROR") {
			if p := attribute(line, r.names); p != "" {
				r.Failed = append(r.Failed, FileError{Path: p, Err: fmt.Errorf("%w: %s", ErrReceiver, line)})
			}
		}
	}
	switch {
	case exitCode == 0:
	case r.ExitCode == 0, r.ExitCode == ExitVanished && exitCode == ExitPartial:
		r.ExitCode = exitCode
	}
}
