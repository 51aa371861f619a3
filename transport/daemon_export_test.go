package transport

import "time"

// SetDaemonStandbyMaxAge sets how long d uses a connection that passed the
// handshake (standbyMaxAge).
func SetDaemonStandbyMaxAge(d *Daemon, age time.Duration) { d.maxAge = age }
