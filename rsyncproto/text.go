package rsyncproto

import "github.com/gsync/gsync/internal/peertext"

// MaxTextLen is the longest string EscapeText returns: rsync's message
// buffer (rsync.h BIGPATHBUFLEN) less its terminating NUL.
const MaxTextLen = bigPathBufLen - 1

// truncMarker ends text that EscapeText shortened.
const truncMarker = peertext.Marker

// EscapeText makes text that came from a peer safe to show in a log, a
// status file or a terminal (peertext.Escape: rsync's log.c escaping,
// \#ooo), at most MaxTextLen bytes.
func EscapeText(s string) string { return peertext.Escape(s, MaxTextLen) }

// capText shortens text kept for matching (not for display) to what
// rsync's message buffer holds.
func capText(s string) string {
	if len(s) > MaxTextLen {
		return s[:MaxTextLen]
	}
	return s
}
