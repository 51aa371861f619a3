package sshx_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gsync/gsync/integration"
	"github.com/gsync/gsync/sshx"
)

// TestAwaitOutput: AwaitOutput returns once the command has written, and
// Read still hands out what it read; a command that ends silently, or a
// context that ends first, is an error.
func TestAwaitOutput(t *testing.T) {
	t.Parallel()
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	c, err := sshx.Dial(ctxT(t), sshx.Config{Host: "127.0.0.1", Port: s.Port, User: s.User,
		IdentityFiles: []string{s.UserKeyPath}, KnownHostsFiles: []string{s.KnownHostsFile},
		ConfigFile: "none", NoAgent: true, Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	t.Run("speaks first", func(t *testing.T) {
		// It greets, then echoes its input: the greeting must not be lost.
		sess, err := c.Exec(ctxT(t), []string{"sh", "-c", "echo ready; cat"})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if err := sess.AwaitOutput(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := sess.AwaitOutput(ctxT(t)); err != nil { // again: no read, no wait
			t.Fatal(err)
		}
		if _, err := sess.Write([]byte("echoed\n")); err != nil {
			t.Fatal(err)
		}
		sess.CloseWrite()
		out, err := io.ReadAll(sess)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != "ready\nechoed\n" {
			t.Errorf("read %q, want %q", out, "ready\nechoed\n")
		}
	})
	t.Run("ends silently", func(t *testing.T) {
		sess, err := c.Exec(ctxT(t), []string{"sh", "-c", "echo failed >&2; exit 5"})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if err := sess.AwaitOutput(ctxT(t)); err == nil {
			t.Fatal("AwaitOutput: no error for a command that wrote nothing")
		}
		if code, err := sess.Wait(ctxT(t)); code != 5 || err != nil {
			t.Errorf("exit %d, %v; want 5", code, err)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		sess, err := c.Exec(ctxT(t), []string{"sh", "-c", "read x"})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
		defer cancel()
		if err := sess.AwaitOutput(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("AwaitOutput after its context ended: %v, want %v", err, context.DeadlineExceeded)
		}
		select { // the session was closed with it
		case <-sess.Done():
		case <-ctxT(t).Done():
			t.Error("the session still runs after AwaitOutput's context ended")
		}
	})
}
