package integration

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gokrazy/rsync/rsyncd"

	"github.com/gsync/gsync/internal/testutil"
)

// GokrazyModule is the name of the writable module StartGokrazyDaemon serves.
const GokrazyModule = "gsync"

// StartGokrazyDaemon serves moduleDir as the writable module "gsync" with the
// in-process gokrazy rsyncd (protocol 27 only) on a free port of 127.0.0.1
// and returns its address. The listener is closed in a cleanup; the server
// log is printed when the test fails. No file system restriction (Landlock)
// is applied to the test process.
func StartGokrazyDaemon(t testing.TB, moduleDir string) string {
	t.Helper()
	logs := &testutil.Buffer{}
	srv, err := rsyncd.NewServer([]rsyncd.Module{{Name: GokrazyModule, Path: moduleDir, Writable: true}},
		rsyncd.DontRestrict(), rsyncd.WithStderr(logs))
	if err != nil {
		t.Fatalf("create gokrazy rsyncd: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gokrazy rsyncd: %v", err)
			}
		case <-time.After(readyTimeout):
			t.Errorf("gokrazy rsyncd did not stop")
		}
		if t.Failed() {
			t.Logf("gokrazy rsyncd log:\n%s", logs.String())
		}
	})
	return ln.Addr().String()
}
