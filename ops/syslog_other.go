//go:build !unix

package ops

import "errors"

// DefaultSyslogSocket is the local syslog socket.
const DefaultSyslogSocket = ""

// Syslog is not available on this system.
type Syslog struct{}

// OpenSyslog fails: there is no local syslog socket on this system.
func OpenSyslog(addr, facility, ident string) (*Syslog, error) {
	return nil, errors.New("syslog is not available on this system")
}

// Write does nothing.
func (s *Syslog) Write(p []byte) (int, error) { return len(p), nil }

// Close does nothing.
func (s *Syslog) Close() error { return nil }
