package rsyncproto

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

func TestDeltaAndIgnoreTimes(t *testing.T) {
	for _, pr := range allPeers(t) {
		t.Run(pr.name, func(t *testing.T) {
			src := t.TempDir()
			base := time.Unix(1704164645, 500000000)
			big := pseudoRandom(4<<20, 99)
			writeFile(t, filepath.Join(src, "big"), big, 0o644, base)
			writeFile(t, filepath.Join(src, "a/small"), []byte("hello world\n"), 0o644, base)
			os.Chtimes(filepath.Join(src, "a"), base, base)
			os.Chtimes(src, base, base)
			dest, dir, push := pr.target(t)
			req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dest}
			res, err := push(req)
			if err != nil {
				t.Fatalf("initial push: %v", err)
			}
			if res.ExitCode != 0 || res.Protocol != pr.proto {
				t.Fatalf("initial: exit %d proto %d failed %v", res.ExitCode, res.Protocol, res.Failed)
			}
			compareTreesOpt(t, src, dir, pr.nsec, !pr.gk, nil)

			// One byte changed in place in the 4 MiB file: delta transfer.
			big[2<<20] ^= 0x55
			writeFile(t, filepath.Join(src, "big"), big, 0o644, base.Add(time.Minute))
			res, err = push(req)
			if err != nil {
				t.Fatalf("delta push: %v", err)
			}
			t.Logf("delta: literal %d matched %d written %d read %d (%s)", res.LiteralBytes, res.MatchedBytes, res.BytesWritten, res.BytesRead, res.Checksum)
			if res.MatchedBytes < 4<<20-64<<10 || res.LiteralBytes > 64<<10 {
				t.Errorf("delta not used: literal %d matched %d", res.LiteralBytes, res.MatchedBytes)
			}
			compareTreesOpt(t, src, dir, pr.nsec, !pr.gk, nil)

			// Same size, same mtime: skipped by the quick check, sent with -I.
			if pr.gk {
				return // gokrazy rejects -I
			}
			writeFile(t, filepath.Join(src, "a/small"), []byte("HELLO WORLD\n"), 0o644, base)
			req.Options.IgnoreTimes = true
			res, err = push(req)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("ignore-times push: %v %+v", err, res)
			}
			compareTreesOpt(t, src, dir, pr.nsec, !pr.gk, nil)
		})
	}
}

func TestScopedDelete(t *testing.T) {
	for _, pr := range allPeers(t) {
		t.Run(pr.name, func(t *testing.T) {
			src := t.TempDir()
			base := time.Unix(1704164645, 0)
			names := []string{"keep", "gone", `we*ird[1]?`, `back\slash`, "x]y", "dir/file", "dir/sub/deep", "rec/a", "rec/b/c", "rec/b/d", "junk.tmp", "gonedir/x/y", "other/o"}
			for _, n := range names {
				writeFile(t, filepath.Join(src, n), []byte(n), 0o644, base)
			}
			dest, dir, push := pr.target(t)
			full := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dest,
				Options: Options{Delete: true, ExcludeRules: []string{"- *.tmp"}}}
			if _, err := push(full); err != nil {
				t.Fatalf("initial: %v", err)
			}
			compareTreesOpt(t, src, dir, false, !pr.gk, nil)
			// Target-only files that must survive: unlisted siblings, excluded.
			for _, n := range []string{"stray", "dir/stray", "rec/../unlisted", "keep2.tmp"} {
				writeFile(t, filepath.Join(dir, n), []byte("stray"), 0o644, base)
			}
			for _, n := range []string{"gone", `we*ird[1]?`, `back\slash`, "x]y", "dir/sub/deep", "rec/b/c", "junk.tmp", "keep"} {
				testutil.Must(t, os.Remove(filepath.Join(src, n)))
			}
			testutil.Must(t, os.RemoveAll(filepath.Join(src, "gonedir")))
			writeFile(t, filepath.Join(dir, "rec/b/extra"), []byte("extra"), 0o644, base)
			writeFile(t, filepath.Join(dir, "keep2.tmp"), []byte("x"), 0o644, base)
			// Exclude agrees with ExcludeRules, as the API asks: listed paths
			// are kept from deletion by the predicate, the rest by the rules.
			tmp := func(rel string, _ bool) bool { return strings.HasSuffix(rel, ".tmp") }
			batch := Request{Root: src, Dest: dest, Options: Options{Delete: true, IgnoreTimes: !pr.gk, ExcludeRules: []string{"- *.tmp"}, Exclude: tmp},
				Paths: []Path{{Name: "gone"}, {Name: `we*ird[1]?`}, {Name: `back\slash`}, {Name: "x]y"}, {Name: "dir/sub/deep"},
					{Name: "rec", Recursive: true}, {Name: "junk.tmp"}, {Name: "gonedir"}, {Name: "dir/file"}}}
			res, err := push(batch)
			if pr.gk {
				if !errors.Is(err, ErrScopedDeleteUnsupported) {
					t.Fatalf("gokrazy scoped delete: want ErrScopedDeleteUnsupported, got %v", err)
				}
				return
			}
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("batch: %v %+v", err, res)
			}
			for _, n := range []string{"gone", `we*ird[1]?`, `back\slash`, "x]y", "dir/sub/deep", "rec/b/c", "rec/b/extra", "gonedir"} {
				if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
					t.Errorf("%q not deleted", n)
				}
			}
			// "keep" was deleted at the source but not listed: it stays.
			for _, n := range []string{"keep", "stray", "dir/stray", "unlisted", "keep2.tmp", "junk.tmp", "other/o", "rec/a", "rec/b/d"} {
				if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
					t.Errorf("%q was touched: %v", n, err)
				}
			}
			t.Logf("deleted %d", res.Deleted)
		})
	}
}

func TestVanishedFile(t *testing.T) {
	for _, pr := range allPeers(t) {
		t.Run(pr.name, func(t *testing.T) {
			src := t.TempDir()
			base := time.Unix(1704164645, 0)
			for _, n := range []string{"a", "vanish", "z", "zz-trigger"} {
				writeFile(t, filepath.Join(src, n), []byte(n), 0o644, base)
			}
			dest, dir, push := pr.target(t)
			req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dest,
				Options: Options{Exclude: func(rel string, isDir bool) bool {
					if rel == "zz-trigger" {
						os.Remove(filepath.Join(src, "vanish"))
					}
					return false
				}}}
			res, err := push(req)
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			if res.ExitCode != ExitVanished {
				t.Errorf("exit %d, want 24; warnings %q", res.ExitCode, res.Warnings)
			}
			if len(res.Failed) != 1 || res.Failed[0].Path != "vanish" || !errors.Is(res.Failed[0].Err, ErrVanished) {
				t.Errorf("failed = %v", res.Failed)
			}
			for _, n := range []string{"a", "z", "zz-trigger"} {
				if b, err := os.ReadFile(filepath.Join(dir, n)); err != nil || string(b) != n {
					t.Errorf("%s: %q %v", n, b, err)
				}
			}
		})
	}
}

func TestDaemonErrors(t *testing.T) {
	needRsync(t)
	mod := t.TempDir()
	secrets := filepath.Join(t.TempDir(), "secrets")
	testutil.Must(t, os.WriteFile(secrets, []byte("alice:s3cret\n"), 0o600))
	conf := daemonConf(t, mod, "auth users = alice\nsecrets file = "+secrets+"\n")
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), []byte("data"), 0o644, time.Unix(1704164645, 0))
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "m"}
	for _, p := range []int{32, 31, 30, 29} {
		_, err := pushDaemon(t, conf, DaemonConfig{Module: "m", User: "alice", Password: "wrong", MaxProtocol: p}, req)
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitStartClient || !strings.Contains(err.Error(), "authentication failed") || !strings.Contains(err.Error(), "auth failed on module m") {
			t.Errorf("p%d wrong password: %v", p, err)
		}
		res, err := pushDaemon(t, conf, DaemonConfig{Module: "m", User: "alice", Password: "s3cret", MaxProtocol: p}, req)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("p%d right password: %v", p, err)
		}
		_, err = pushDaemon(t, conf, DaemonConfig{Module: "nosuch", MaxProtocol: p}, req)
		if err == nil || !strings.Contains(err.Error(), "Unknown module 'nosuch'") {
			t.Errorf("p%d unknown module: %v", p, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(mod, "f")); err != nil || string(b) != "data" {
		t.Errorf("authenticated push did not land: %v", err)
	}
}
