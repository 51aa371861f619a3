package rsyncproto

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

func TestAttrNotKeptMessages(t *testing.T) {
	for msg, want := range map[string]bool{
		`rsync: [generator] set_acl: sys_acl_set_file(a, ACL_TYPE_ACCESS): Operation not supported (95)`:   true,
		`rsync: [receiver] rsync_xal_set: lsetxattr("/m/f","user.x") failed: Operation not supported (95)`: true,
		`rsync: [generator] chown "/m/f" failed: Operation not permitted (1)`:                              true,
		`rsync: chgrp "/m/f" failed: Operation not permitted (1)`:                                          true,
		`rsync: [receiver] failed to set times on "/m/f": Operation not permitted (1)`:                     true,
		`rsync: failed to set permissions on "/m/f": Read-only file system (30)`:                           true,
		`uid 4294967295 (-1) is impossible to set on "/m/.f.8ev0Z7"`:                                       true,
		`rsync: [receiver] mkstemp "/m/.f.XXXXXX" failed: Permission denied (13)`:                          false,
		`rsync: [receiver] write failed on "/m/f": No space left on device (28)`:                           false,
		`rsync: chown.txt: the file's name starts like a message`:                                          false,
	} {
		if got := attrNotKept(msg); got != want {
			t.Errorf("attrNotKept(%q) = %v, want %v", msg, got, want)
		}
	}
	var r Result
	r.MergeRemote(ExitPartial, []byte("rsync: [generator] chown \"/m/f\" failed: Operation not permitted (1)\nrsync error: some files/attrs were not transferred (see previous errors) (code 23)\n"))
	if len(r.Failed) != 0 || r.AttrsNotKept != 1 || r.AttrsNotKeptMsg == "" || r.ExitCode != ExitPartial {
		t.Errorf("MergeRemote: failed %v, attrs not kept %d %q, exit %d", r.Failed, r.AttrsNotKept, r.AttrsNotKeptMsg, r.ExitCode)
	}
}

// TestAttrsNotKeptDaemon: a C rsync socket daemon that cannot set an
// owner (uid -1, mapped by --usermap) still gets the data; the push
// reports the attribute as not kept, and no path as failed (nothing to
// retry).
func TestAttrsNotKeptDaemon(t *testing.T) {
	needRsync(t)
	if os.Geteuid() != 0 {
		t.Skip("the receiver sets owners only as root")
	}
	src, mod := t.TempDir(), t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "f"), "data")
	addr := startTCPDaemon(t, daemonConf(t, mod, ""))
	c, err := net.Dial("tcp", addr)
	testutil.Must(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := DialDaemon(ctx, c, DaemonConfig{Module: "m"})
	testutil.Must(t, err)
	res, err := d.Push(ctx, Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "m/sub",
		Options: Options{Owner: true, Group: true, Usermap: "*:4294967295", IncRecurse: true}})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if len(res.Failed) != 0 || res.AttrsNotKept == 0 || res.ExitCode != ExitPartial {
		t.Fatalf("failed %v, attrs not kept %d (%q), exit %d; want no failure, some attrs not kept, exit 23",
			res.Failed, res.AttrsNotKept, res.AttrsNotKeptMsg, res.ExitCode)
	}
	if b, err := os.ReadFile(filepath.Join(mod, "sub", "f")); err != nil || string(b) != "data" {
		t.Fatalf("data did not arrive: %q, %v", b, err)
	}
}
