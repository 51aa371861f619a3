// Package sshxtest holds in-process ssh servers for tests: hostile ones
// that no real server would be, to check that gsync never hangs on them.
package sshxtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Stall says where a StallServer's SFTP subsystem stops answering.
type Stall int

// Where the SFTP subsystem stalls.
const (
	// StallSubsystem: the session channel opens, the "sftp" subsystem
	// request is never answered.
	StallSubsystem Stall = iota
	// StallInit: the subsystem starts, SSH_FXP_INIT is never answered.
	StallInit
	// StallRequests: INIT, REALPATH, STAT and LSTAT are answered (every
	// path is a directory); every other request is never answered.
	StallRequests
	// Escapes stalls nowhere: like StallRequests, but every other request
	// fails with a status message full of terminal escape sequences, and
	// exec requests run a "command" that writes such text to stderr and
	// exits 1.
	Escapes
)

// EvilText is what an Escapes server puts in status messages and stderr:
// it would retitle and clear the terminal it is printed on.
const EvilText = "\x1b]0;owned\x07\x1b[2J\x1b[31mevil\r\n"

// StallServer is an ssh server on 127.0.0.1 whose SFTP subsystem stalls;
// it answers keepalives and refuses exec requests (except in Escapes
// mode).
type StallServer struct {
	Port        int
	User        string
	KeyFile     string // the user's private key
	KnownHosts  string // a known_hosts file with the server's key
	mode        Stall
	cfg         *ssh.ServerConfig
	ln          net.Listener
	wg          sync.WaitGroup
	mu          sync.Mutex
	conns       []net.Conn
	hold        chan struct{} // closed by Close: stalled handlers return
	requestsHit chan struct{} // closed at the first stalled request
	hitOnce     sync.Once
}

// StartStallServer starts a StallServer; it stops when the test ends.
func StartStallServer(tb testing.TB, mode Stall) *StallServer {
	tb.Helper()
	dir := tb.TempDir()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	host, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		tb.Fatal(err)
	}
	userPub, userPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(userPriv, "")
	if err != nil {
		tb.Fatal(err)
	}
	s := &StallServer{User: "u", KeyFile: filepath.Join(dir, "id"), KnownHosts: filepath.Join(dir, "known_hosts"),
		mode: mode, hold: make(chan struct{}), requestsHit: make(chan struct{})}
	if err := os.WriteFile(s.KeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		tb.Fatal(err)
	}
	sshUser, err := ssh.NewPublicKey(userPub)
	if err != nil {
		tb.Fatal(err)
	}
	s.cfg = &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), sshUser.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	s.cfg.AddHostKey(host)
	if s.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	s.Port = s.ln.Addr().(*net.TCPAddr).Port
	line := knownhosts.Line([]string{knownhosts.Normalize(s.ln.Addr().String())}, host.PublicKey())
	if err := os.WriteFile(s.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.Close)
	return s
}

// Stalled is closed once the server has left a request unanswered.
func (s *StallServer) Stalled() <-chan struct{} { return s.requestsHit }

// Close stops the server and ends its connections.
func (s *StallServer) Close() {
	s.mu.Lock()
	select {
	case <-s.hold:
	default:
		close(s.hold)
	}
	s.ln.Close()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *StallServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

// serve runs one connection: keepalives answered, session channels served.
func (s *StallServer) serve(c net.Conn) {
	defer s.wg.Done()
	sc, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		c.Close()
		return
	}
	defer sc.Close()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ssh.DiscardRequests(reqs) // keepalive@openssh.com gets its (negative) answer
	}()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go s.session(ch, creqs)
	}
}

// session answers a session channel's requests: the sftp subsystem per
// mode, everything else refused.
func (s *StallServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer s.wg.Done()
	defer ch.Close()
	for req := range reqs {
		if req.Type == "exec" && s.mode == Escapes {
			req.Reply(true, nil)
			io.WriteString(ch.Stderr(), EvilText)
			ch.SendRequest("exit-status", false, be32(1))
			return
		}
		if req.Type != "subsystem" || len(req.Payload) < 4 || string(req.Payload[4:]) != "sftp" {
			req.Reply(false, nil)
			continue
		}
		if s.mode == StallSubsystem {
			s.stall()
			return
		}
		req.Reply(true, nil)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ssh.DiscardRequests(reqs)
		}()
		s.sftp(ch)
		return
	}
}

// stall marks a stalled request and waits for Close.
func (s *StallServer) stall() {
	s.hitOnce.Do(func() { close(s.requestsHit) })
	<-s.hold
}

// sftp serves the SFTP protocol until the first request it stalls on.
func (s *StallServer) sftp(ch ssh.Channel) {
	for {
		typ, body, err := readPacket(ch)
		if err != nil {
			return
		}
		switch {
		case s.mode == StallInit:
			s.stall()
			return
		case typ == 1: // SSH_FXP_INIT
			writePacket(ch, 2, be32(3)) // SSH_FXP_VERSION 3
		case len(body) < 4:
			return
		case typ == 16: // SSH_FXP_REALPATH: "/home/u"
			out := append(be32(binary.BigEndian.Uint32(body)), be32(1)...)
			out = append(append(append(out, str("/home/u")...), str("/home/u")...), be32(0)...)
			writePacket(ch, 104, out) // SSH_FXP_NAME
		case typ == 17, typ == 7: // SSH_FXP_STAT, SSH_FXP_LSTAT: a directory
			out := append(be32(binary.BigEndian.Uint32(body)), be32(4)...) // SSH_FILEXFER_ATTR_PERMISSIONS
			writePacket(ch, 105, append(out, be32(0o40755)...))            // SSH_FXP_ATTRS
		case s.mode == Escapes: // SSH_FXP_STATUS, SSH_FX_FAILURE
			out := append(be32(binary.BigEndian.Uint32(body)), be32(4)...)
			writePacket(ch, 101, append(append(out, str(EvilText)...), str("en")...))
		default:
			s.stall()
			return
		}
	}
}

func readPacket(r io.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n < 1 || n > 1<<20 {
		return 0, nil, errors.New("bad sftp packet length")
	}
	body := make([]byte, n-1)
	_, err := io.ReadFull(r, body)
	return h[4], body, err
}

func writePacket(w io.Writer, typ byte, body []byte) {
	w.Write(append(append(be32(uint32(len(body)+1)), typ), body...))
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func str(s string) []byte { return append(be32(uint32(len(s))), s...) }
