//go:build unix

package transport_test

import (
	"testing"

	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/transport/transporttest"
)

func newLocal(t *testing.T, src string, opts transport.Options) (transport.Target, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := transport.NewLocal(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, dir
}

func TestLocalConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Harness{
		New: newLocal,
		Caps: transporttest.Caps{
			SymlinkMtimes:    true,
			RenameKeepsInode: true,
		},
	})
}
