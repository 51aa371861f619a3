//go:build unix

package transport_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/integration"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/transport"
)

// TestSSHOldPeerDeletes: without SFTP, a remote rsync below protocol 29
// scopes deletes by the filter list only when it is known to honour it:
// openrsync (identified by its --version) deletes exactly the listed path
// and keeps a target-only sibling; any other (here C rsync held to
// protocol 28, standing for gokrazy/rsync) gets the safe way, its parent
// pushed with --delete, which also removes the sibling.
func TestSSHOldPeerDeletes(t *testing.T) {
	orsync := openrsyncPath(t)
	s := integration.StartSSHD(t, integration.SSHDConfig{NoSFTP: true})
	for _, tc := range []struct {
		name       string
		rsyncPath  string
		protocol   int
		via        string
		keepsExtra bool
	}{
		{"openrsync", orsync, 0, "rsync", true},
		{"rsync 28", "", 28, "parent push", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			testutil.WriteRel(t, src, "d/gone")
			testutil.WriteRel(t, src, "d/kept")
			cfg := sshTargetConfig(t, s, dst, nil)
			cfg.RsyncPath, cfg.Protocol = tc.rsyncPath, tc.protocol
			tgt := newSSHTarget(t, cfg, transport.Options{Source: src, Delete: transport.DeleteAlways})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := tgt.FullSync(ctx); err != nil {
				t.Fatal(err)
			}
			testutil.WriteRel(t, dst, "d/target-only")
			if err := os.Remove(filepath.Join(src, "d", "gone")); err != nil {
				t.Fatal(err)
			}
			st, err := tgt.Push(ctx, []transport.Change{{Op: change.Delete, Path: "d/gone"}})
			if err != nil {
				t.Fatal(err)
			}
			if via := transport.SSHDeleteVia(tgt); via != tc.via {
				t.Errorf("deletes go by %s, want %s", via, tc.via)
			}
			if st.Deleted < 1 {
				t.Errorf("Stats.Deleted = %d, want >= 1", st.Deleted)
			}
			if _, err := os.Lstat(filepath.Join(dst, "d", "gone")); !os.IsNotExist(err) {
				t.Errorf("d/gone still on the target (%v)", err)
			}
			if _, err := os.Lstat(filepath.Join(dst, "d", "kept")); err != nil {
				t.Errorf("d/kept: %v", err)
			}
			_, err = os.Lstat(filepath.Join(dst, "d", "target-only"))
			if kept := err == nil; kept != tc.keepsExtra {
				t.Errorf("target-only sibling kept: %v, want %v", kept, tc.keepsExtra)
			}
		})
	}
}

// TestSSHNoRsyncReadyTimesOut: a server whose rsync does not answer (here
// it starts only after a long sleep) fails the push after --timeout as a
// transient error, instead of a push waiting for a standby session
// forever; closing the target then does not wait for the sleep either
// (the test would take 30 s).
func TestSSHNoRsyncReadyTimesOut(t *testing.T) {
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	src, dst := t.TempDir(), t.TempDir()
	testutil.WriteRel(t, src, "f")
	cfg := sshTargetConfig(t, s, dst, nil)
	cfg.RsyncPath, cfg.Timeout = "sleep 30; rsync", time.Second
	tgt := newSSHTarget(t, cfg, transport.Options{Source: src})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := tgt.Push(ctx, []transport.Change{{Op: change.Create, Path: "f"}})
	if err == nil || !transport.IsTransient(err) || !strings.Contains(err.Error(), "no remote rsync ready within --timeout") {
		t.Fatalf("push to a server whose rsync does not answer: %v; want a transient error naming --timeout", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the push waited for the test's own deadline")
	}
}
