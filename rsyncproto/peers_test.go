package rsyncproto

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gokrazy/rsync/rsyncd"
)

// peer is one receiver flavour the scenarios run against.
type peer struct {
	name  string
	proto int
	nsec  bool
	gk    bool
	// target returns a fresh push destination: the Dest of requests and the
	// local directory it lands in.
	target func(t *testing.T) (dest, dir string, push func(req Request) (*Result, error))
}

func sshPeer(p int) peer {
	return peer{name: fmt.Sprintf("ssh-p%d", p), proto: p, nsec: p >= 31,
		target: func(t *testing.T) (string, string, func(Request) (*Result, error)) {
			dir := filepath.Join(t.TempDir(), "dst")
			return dir, dir, func(req Request) (*Result, error) {
				req.Options.MaxProtocol = p
				return pushSSH(t, req, p)
			}
		}}
}

func daemonPeer(p int) peer {
	return peer{name: fmt.Sprintf("daemon-p%d", p), proto: p, nsec: p >= 31,
		target: func(t *testing.T) (string, string, func(Request) (*Result, error)) {
			mod := t.TempDir()
			conf := daemonConf(t, mod, "")
			return "m/sub", filepath.Join(mod, "sub"), func(req Request) (*Result, error) {
				return pushDaemon(t, conf, DaemonConfig{Module: "m", MaxProtocol: p}, req)
			}
		}}
}

// startGokrazy serves a writable module "w" at dir on 127.0.0.1.
func startGokrazy(t *testing.T, dir string) string {
	t.Helper()
	srv, err := rsyncd.NewServer([]rsyncd.Module{{Name: "w", Path: dir, Writable: true}},
		rsyncd.DontRestrict(), rsyncd.WithLogger(log.New(io.Discard, "", 0)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func gokrazyPeer() peer {
	return peer{name: "gokrazy-p27", proto: 27, gk: true,
		target: func(t *testing.T) (string, string, func(Request) (*Result, error)) {
			mod := t.TempDir()
			addr := startGokrazy(t, mod)
			return "w/", mod, func(req Request) (*Result, error) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return nil, err
				}
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				d, err := DialDaemon(ctx, c, DaemonConfig{Module: "w"})
				if err != nil {
					return nil, err
				}
				return d.Push(ctx, req)
			}
		}}
}

func allPeers(t *testing.T) []peer {
	var ps []peer
	if _, err := os.Stat("/usr/bin/rsync"); err == nil || hasRsync() {
		for _, p := range protocols {
			ps = append(ps, sshPeer(p), daemonPeer(p))
		}
	} else {
		t.Log("rsync not installed: only the gokrazy peer runs")
	}
	return append(ps, gokrazyPeer())
}

func hasRsync() bool {
	_, err := os.Stat("/usr/bin/rsync")
	return err == nil
}
