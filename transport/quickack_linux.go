package transport

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// quickAckConn acknowledges every segment at once instead of delaying the
// ACK up to 40 ms hoping to piggyback it on an answer.
//
// rsync daemons do not set TCP_NODELAY (socket.c sets socket options only
// from "socket options" in rsyncd.conf), so the daemon's second small
// write of a push (the generator's next index after the first one, the
// final NDX_DONE after the last) waits in its Nagle buffer until our ACK
// of the first arrives. Linux delays that ACK while the connection looks
// interactive, which cost one push in ten an extra 40 ms at loopback
// speed. TCP_QUICKACK is not sticky: the kernel may go back to delayed
// ACKs, so it is set again after every read (tcp(7)).
type quickAckConn struct {
	net.Conn
	rc syscall.RawConn
}

// quickAck wraps c when it is a TCP connection; other connections (tests'
// pipes, a ProxyCommand's stdio) are returned as they are.
func quickAck(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	q := &quickAckConn{Conn: c, rc: rc}
	q.set()
	return q
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.set()
	}
	return n, err
}

// set turns on TCP_QUICKACK; a failure only costs latency, so it is
// ignored.
func (c *quickAckConn) set() {
	_ = c.rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}
