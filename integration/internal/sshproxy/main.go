// Command sshproxy is the ProxyCommand of gsync's integration tests: it
// logs in to a bastion sshd, opens a direct-tcpip channel to HOST:PORT and
// copies its standard input and output through it (what `ssh -W` does,
// without an ssh binary). It ends when either side closes.
//
//	sshproxy -key KEY -known KNOWN_HOSTS -user USER BASTION:PORT HOST PORT [REMOTE_USER]
//
// REMOTE_USER (ssh's %r) is only checked to be there when given.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sshproxy:", err)
		os.Exit(1)
	}
}

func run() error {
	key := flag.String("key", "", "private key `FILE`")
	known := flag.String("known", "", "known_hosts `FILE` of the bastion")
	user := flag.String("user", "", "user `NAME` on the bastion")
	flag.Parse()
	if flag.NArg() != 3 && (flag.NArg() != 4 || flag.Arg(3) == "") {
		return fmt.Errorf("usage: sshproxy -key KEY -known KNOWN -user USER BASTION:PORT HOST PORT [REMOTE_USER]")
	}
	data, err := os.ReadFile(*key)
	if err != nil {
		return fmt.Errorf("read key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return fmt.Errorf("parse key: %w", err)
	}
	hk, err := knownhosts.New(*known)
	if err != nil {
		return fmt.Errorf("read known hosts: %w", err)
	}
	c, err := ssh.Dial("tcp", flag.Arg(0), &ssh.ClientConfig{
		User: *user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("log in to the bastion: %w", err)
	}
	defer c.Close()
	conn, err := c.Dial("tcp", net.JoinHostPort(flag.Arg(1), flag.Arg(2)))
	if err != nil {
		return fmt.Errorf("open a channel to the target: %w", err)
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { // ends at EOF on stdin or when the channel closes
		io.Copy(conn, os.Stdin)
		done <- struct{}{}
	}()
	go func() { // ends when the channel closes or stdout does
		io.Copy(os.Stdout, conn)
		done <- struct{}{}
	}()
	<-done
	return nil
}
