// Command demod serves one writable rsync module with the pure-Go gokrazy
// rsync daemon, for `make demo` on machines without rsync. It prints the
// module URL on stdout and serves until SIGTERM/SIGINT.
//
//	go run ./internal/demod DIR
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gokrazy/rsync/rsyncd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: demod DIR")
		os.Exit(2)
	}
	if err := serve(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "demod:", err)
		os.Exit(1)
	}
}

func serve(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create module dir: %w", err)
	}
	srv, err := rsyncd.NewServer([]rsyncd.Module{{Name: "demo", Path: dir, Writable: true}},
		rsyncd.DontRestrict(), rsyncd.WithStderr(os.Stderr))
	if err != nil {
		return fmt.Errorf("create rsync daemon: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Printf("rsync://%s/demo/\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return srv.Serve(ctx, ln)
}
