//go:build unix

package ops

import (
	"bytes"
	"fmt"
	"log/syslog"
	"strconv"
	"strings"
)

// DefaultSyslogSocket is the local syslog socket.
const DefaultSyslogSocket = "/dev/log"

// facilities are syslog's facility names, as lsyncd's logfacility takes
// them (lsyncd.c: l_configure, facilitynames).
var facilities = map[string]syslog.Priority{
	"auth": syslog.LOG_AUTH, "authpriv": syslog.LOG_AUTHPRIV, "cron": syslog.LOG_CRON,
	"daemon": syslog.LOG_DAEMON, "ftp": syslog.LOG_FTP, "kern": syslog.LOG_KERN,
	"lpr": syslog.LOG_LPR, "mail": syslog.LOG_MAIL, "news": syslog.LOG_NEWS,
	"syslog": syslog.LOG_SYSLOG, "user": syslog.LOG_USER, "uucp": syslog.LOG_UUCP,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
	"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
	"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

// ParseFacility reads lsyncd's logfacility: a name ("user", "local3";
// any case) or C's number for it (LOG_LOCAL3 is 152). "" is "user",
// lsyncd's default.
func ParseFacility(s string) (syslog.Priority, error) {
	if s == "" {
		return syslog.LOG_USER, nil
	}
	if p, ok := facilities[strings.ToLower(s)]; ok {
		return p, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n%8 == 0 && n <= int(syslog.LOG_LOCAL7) {
		return syslog.Priority(n), nil
	}
	return 0, fmt.Errorf("logging facility %q unknown (want user, daemon, local0 ... local7, ...)", s)
}

// Syslog sends each log line written to it to the local syslog socket,
// tagged with ident, at the severity its "level=" attribute names.
type Syslog struct{ w *syslog.Writer }

// OpenSyslog connects to the syslog socket at addr ("" is
// DefaultSyslogSocket) with facility and ident (lsyncd's logfacility and
// logident; "" ident is "lsyncd").
func OpenSyslog(addr, facility, ident string) (*Syslog, error) {
	fac, err := ParseFacility(facility)
	if err != nil {
		return nil, err
	}
	if addr == "" {
		addr = DefaultSyslogSocket
	}
	if ident == "" {
		ident = "lsyncd"
	}
	w, err := syslog.Dial("unixgram", addr, fac|syslog.LOG_INFO, ident)
	if err != nil {
		return nil, fmt.Errorf("connect to syslog at %s: %w", addr, err)
	}
	return &Syslog{w: w}, nil
}

// Write sends one log line.
func (s *Syslog) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, "\n"))
	var err error
	switch {
	case strings.Contains(msg, "level=ERROR"), strings.Contains(msg, `"level":"ERROR"`):
		err = s.w.Err(msg)
	case strings.Contains(msg, "level=WARN"), strings.Contains(msg, `"level":"WARN"`):
		err = s.w.Warning(msg)
	case strings.Contains(msg, "level=DEBUG"), strings.Contains(msg, `"level":"DEBUG"`):
		err = s.w.Debug(msg)
	default:
		err = s.w.Info(msg)
	}
	if err != nil {
		return 0, fmt.Errorf("write to syslog: %w", err)
	}
	return len(p), nil
}

// Close closes the connection.
func (s *Syslog) Close() error { return s.w.Close() }
