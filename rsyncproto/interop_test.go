package rsyncproto

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var protocols = []int{32, 31, 30, 29}

func TestInitialPushSSH(t *testing.T) {
	needRsync(t)
	src := t.TempDir()
	makeTree(t, src, true)
	for _, p := range protocols {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
				Options: Options{Devices: true, Specials: true, Owner: true, Group: true, MaxProtocol: p}}
			res, err := pushSSH(t, req, p)
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			if res.ExitCode != 0 || len(res.Failed) > 0 {
				t.Fatalf("exit %d failed %v warnings %v", res.ExitCode, res.Failed, res.Warnings)
			}
			compareTrees(t, src, dst, p >= 31, nil)
			t.Logf("proto %d checksum %s files %d literal %d written %d", res.Protocol, res.Checksum, res.Files, res.LiteralBytes, res.BytesWritten)
		})
	}
}

func TestInitialPushDaemonPipe(t *testing.T) {
	needRsync(t)
	src := t.TempDir()
	makeTree(t, src, true)
	for _, p := range protocols {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			mod := t.TempDir()
			conf := daemonConf(t, mod, "")
			req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "m/sub",
				Options: Options{Devices: true, Specials: true, Owner: true, Group: true}}
			res, err := pushDaemon(t, conf, DaemonConfig{Module: "m", MaxProtocol: p}, req)
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			if res.ExitCode != 0 || len(res.Failed) > 0 {
				t.Fatalf("exit %d failed %v warnings %v", res.ExitCode, res.Failed, res.Warnings)
			}
			// use chroot = no: the daemon rewrites the absolute symlink.
			compareTrees(t, src, filepath.Join(mod, "sub"), p >= 31, func(rel string) bool { return rel == "abs-link" })
			if _, err := os.Lstat(filepath.Join(mod, "sub", "abs-link")); err != nil {
				t.Error(err)
			}
		})
	}
}
