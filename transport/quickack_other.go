//go:build !linux

package transport

import "net"

// quickAck returns c: delayed ACKs can be turned off per read on Linux
// only (quickack_linux.go).
func quickAck(c net.Conn) net.Conn { return c }
