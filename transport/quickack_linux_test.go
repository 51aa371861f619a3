package transport

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestQuickAckAfterRead: the daemon connection is back in quick-ACK mode
// after every read that returned data (the kernel leaves it by itself
// once the exchange looks interactive).
func TestQuickAckAfterRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { // ends with the listener
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	defer peer.Close()
	c := quickAck(nc)
	if _, ok := c.(*quickAckConn); !ok {
		t.Fatalf("quickAck(%T) = %T, want *quickAckConn", nc, c)
	}
	quick := func() int {
		t.Helper()
		rc, err := nc.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		v := -1
		if err := rc.Control(func(fd uintptr) {
			v, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK)
		}); err != nil || v < 0 {
			t.Fatalf("getsockopt TCP_QUICKACK: %v", err)
		}
		return v
	}
	for i := range 3 {
		// Turn it off, as the kernel does on its own.
		rc, _ := nc.(*net.TCPConn).SyscallConn()
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0) })
		if quick() != 0 {
			t.Fatal("TCP_QUICKACK still on after turning it off")
		}
		if _, err := peer.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		if quick() != 1 {
			t.Fatalf("read %d: TCP_QUICKACK off after a read", i)
		}
	}
	// Not TCP: left alone.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if quickAck(a) != a {
		t.Fatal("quickAck wrapped a pipe")
	}
}
