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
	if attrNotKept(line) {
		r.attrNotKept(text)
		return
	}
	if strings.HasPrefix(line, "rsync:") || strings.HasPrefix(line, "ERROR") {
		if p := attribute(capText(line), r.names); p != "" {
			r.Failed = append(r.Failed, FileError{Path: p, Err: fmt.Errorf("%w: %s", ErrReceiver, text)})
		}
	}
}

// attrNotKept counts a receiver message that it could not set an
// attribute (text escaped).
func (r *Result) attrNotKept(text string) {
	if r.AttrsNotKept == 0 {
		r.AttrsNotKeptMsg = text
	}
	r.AttrsNotKept++
}

// attrNotKept reports whether a receiver message says it could not set
// an attribute of an entry whose data arrived: the messages of
// acls.c:set_acl, xattrs.c:rsync_xal_set and rsync.c:set_file_attrs
// ("rsync: [generator] set_acl: sys_acl_set_file(f, ACL_TYPE_ACCESS):
// Operation not supported (95)").
func attrNotKept(msg string) bool {
	msg = strings.TrimPrefix(strings.TrimSpace(msg), "rsync: ")
	if strings.HasPrefix(msg, "[") {
		if i := strings.Index(msg, "] "); i > 0 {
			msg = msg[i+2:]
		}
	}
	for _, p := range []string{"set_acl: ", "rsync_xal_set: ", "failed to set times on ", "failed to set permissions on ",
		"uid 4294967295 (-1) is impossible to set on ", "gid 4294967295 (-1) is impossible to set on "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return (strings.HasPrefix(msg, "chown ") || strings.HasPrefix(msg, "chgrp ")) && strings.Contains(msg, " failed")
}
