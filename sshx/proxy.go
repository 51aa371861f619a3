package sshx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"
)

// proxyKillDelay is how long a ProxyCommand may take to exit after SIGHUP
// before it is killed.
const proxyKillDelay = 2 * time.Second

// proxyArgv splits a ProxyCommand into its program and arguments with
// OpenSSH's word rules (misc.c argv_split; OpenSSH itself hands the line
// to $SHELL, gsync runs no shell) and expands %h, %p, %r, %n, %d, %u and
// %% in each word after splitting, so a host name never adds a word.
// It returns nil for "none" or "".
func (s *settings) proxyArgv(command string) ([]string, error) {
	words, err := argvSplit(command, false)
	if err != nil {
		return nil, fmt.Errorf("bad ProxyCommand %q: %w", command, err)
	}
	if len(words) == 0 || len(words) == 1 && words[0] == "none" {
		return nil, nil
	}
	if words[0] == "-" {
		return nil, fmt.Errorf("bad ProxyCommand %q: \"-\" (an already open connection) is not supported", command)
	}
	for i, w := range words {
		words[i] = s.expandTokens(w)
	}
	return words, nil
}

// proxyConn is a running ProxyCommand: its standard input and output are
// the connection to the server. Close ends the command.
type proxyConn struct {
	cmd    *exec.Cmd
	r, w   *os.File // the command's stdout (read) and stdin (write) ends
	stderr *capBuffer
	done   chan struct{} // closed when the command was waited for
	once   sync.Once
	addr   string // host:port the command connects to
}

// startProxy starts argv with its standard input and output connected to
// pipes and returns them as a net.Conn. The command gets a process group
// of its own so that closing the connection ends its children too.
func startProxy(ctx context.Context, argv []string, addr string) (*proxyConn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start ProxyCommand: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("start ProxyCommand: %w", err)
	}
	p := &proxyConn{r: outR, w: inW, stderr: &capBuffer{max: 64 << 10}, done: make(chan struct{}), addr: addr}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	p.cmd.WaitDelay = proxyKillDelay
	ownProcessGroup(p.cmd)
	err = p.cmd.Start()
	inR.Close() // the child's ends
	outW.Close()
	if err != nil {
		outR.Close()
		inW.Close()
		return nil, fmt.Errorf("start ProxyCommand %s: %w", argv[0], err)
	}
	go func() { // owned by p: ends when the command exits (Close makes sure)
		p.cmd.Wait()
		close(p.done)
	}()
	if err := ctx.Err(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Read reads what the command writes to its standard output.
func (p *proxyConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// Write writes to the command's standard input.
func (p *proxyConn) Write(b []byte) (int, error) { return p.w.Write(b) }

// Close closes the pipes and ends the command: SIGHUP to its process
// group, as ssh does when it exits (ssh.c, main: "Kill ProxyCommand if it
// is running"), then SIGKILL after proxyKillDelay.
func (p *proxyConn) Close() error {
	p.once.Do(func() {
		p.w.Close()
		p.r.Close()
		select {
		case <-p.done:
			return // waited for: its pid may belong to another process now
		default:
		}
		signalProxy(p.cmd, false)
		select {
		case <-p.done:
		case <-time.After(proxyKillDelay):
			signalProxy(p.cmd, true)
			<-p.done
		}
	})
	return nil
}

// exitText describes how the command ended, with the last lines it wrote
// to standard error (escaped), for error messages; "" while it runs.
func (p *proxyConn) exitText() string {
	select {
	case <-p.done:
	case <-time.After(100 * time.Millisecond):
		return ""
	}
	msg := "ProxyCommand " + escapeText(p.cmd.Path) + " exited"
	if st := p.cmd.ProcessState; st != nil {
		msg += " (" + st.String() + ")"
	}
	if e := (&Session{stderr: p.stderr}).StderrText(3); e != "" {
		msg += ": " + e
	}
	return msg
}

// proxyAddr names the ends of a ProxyCommand's connection: "host:port"
// of the server (what known_hosts checks are done against) or of none.
type proxyAddr string

// Network is "proxy".
func (a proxyAddr) Network() string { return "proxy" }
func (a proxyAddr) String() string  { return string(a) }

// LocalAddr is a placeholder: the local end is a pipe.
func (p *proxyConn) LocalAddr() net.Addr { return proxyAddr("localhost:0") }

// RemoteAddr is the server's host:port as configured.
func (p *proxyConn) RemoteAddr() net.Addr { return proxyAddr(p.addr) }

// SetDeadline sets the read and write deadlines of the pipes.
func (p *proxyConn) SetDeadline(t time.Time) error {
	return errors.Join(p.r.SetReadDeadline(t), p.w.SetWriteDeadline(t))
}

// SetReadDeadline sets the deadline of reads.
func (p *proxyConn) SetReadDeadline(t time.Time) error { return p.r.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline of writes.
func (p *proxyConn) SetWriteDeadline(t time.Time) error { return p.w.SetWriteDeadline(t) }
