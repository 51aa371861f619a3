package sshx

import "github.com/gsync/gsync/internal/peertext"

// maxPeerText caps the text from the server that one message carries
// (SFTP status messages, exec stderr, disconnect reasons).
const maxPeerText = 4096

// escapeText makes text from the server safe to log and to show in
// status: peertext.Escape (rsync's log.c escaping, \#ooo), at most
// maxPeerText bytes.
func escapeText(s string) string { return peertext.Escape(s, maxPeerText) }

// peerError carries an error whose text comes (in part) from the server;
// its message is escaped, Unwrap still reaches the original.
type peerError struct{ err error }

func (e *peerError) Error() string { return escapeText(e.err.Error()) }
func (e *peerError) Unwrap() error { return e.err }

// escapeErr wraps err, if any, so that its text is shown escaped.
func escapeErr(err error) error {
	if err == nil {
		return nil
	}
	return &peerError{err}
}
