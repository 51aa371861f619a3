//go:build unix

package transport_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gsync/gsync/integration"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/rsyncopts"
	"github.com/gsync/gsync/transport"
)

// TestSSHCompress: an ssh target with -z (and with --zc=zlib) sends a
// text tree in a fraction of the bytes a plain push takes, and a batch
// with a changed file lands too (on the standby session, whose command
// line carries the compression).
func TestSSHCompress(t *testing.T) {
	t.Parallel() // waits on its own peers
	s := integration.StartSSHD(t, integration.SSHDConfig{})
	src := t.TempDir()
	for i := range 8 {
		var b bytes.Buffer
		for j := 0; b.Len() < 128<<10; j++ {
			fmt.Fprintf(&b, "file %d line %d: the quick brown fox jumps over the lazy dog\n", i, j)
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%d.txt", i)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	push := func(z rsyncopts.Compress) (int64, *transport.SSH, string) {
		dst := t.TempDir()
		var written atomic.Int64
		tgt := newSSHTarget(t, sshTargetConfig(t, s, dst, &written), transport.Options{Source: src, Compress: z})
		if _, err := tgt.FullSync(ctx); err != nil {
			t.Fatal(err)
		}
		if !rsyncEqual(t, src, dst) {
			t.FailNow()
		}
		return written.Load(), tgt, dst
	}
	plain, _, _ := push(rsyncopts.Compress{})
	for _, z := range []rsyncopts.Compress{{Z: 1}, {Choice: "zlib", Level: 9, LevelSet: true}} {
		n, tgt, dst := push(z)
		t.Logf("%+v: %d bytes to the ssh server, %d without compression", z, n, plain)
		if n > plain/3 {
			t.Errorf("%+v: %d bytes sent, plain %d: not compressed", z, n, plain)
		}
		p := filepath.Join(src, "f3.txt")
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "appended for %+v\n", z)
		f.Close()
		if st, err := tgt.Push(ctx, []transport.Change{{Op: change.Modify, Path: "f3.txt"}}); err != nil || len(st.Failed) > 0 {
			t.Fatalf("batch: %v %+v", err, st)
		}
		if !rsyncEqual(t, src, dst) {
			t.FailNow()
		}
	}
}
