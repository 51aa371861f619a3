package mirror

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/transport"
)

// mountTmpfs mounts a tmpfs on dir (created) until the test ends, or
// skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	testutil.MustMkdir(t, dir)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
}

// TestVanishedMountHoldsDeletes: a file system mounted below the source
// that is unmounted must not empty its subtree on the target, neither in
// a batch (the deletions the watcher reports) nor in a full sync. Before,
// both deleted it.
func TestVanishedMountHoldsDeletes(t *testing.T) {
	e := newGuardEnv(t, Config{})
	mnt := filepath.Join(e.src, "data", "mnt")
	mountTmpfs(t, mnt)
	testutil.WriteRel(t, e.src, "data/mnt/f")
	testutil.WriteRel(t, e.src, "other")
	testutil.WriteRel(t, e.dst, "data/mnt/f")
	mounts, err := newNestedMounts(e.src)
	if err != nil {
		t.Fatal(err)
	}
	if got := mounts.list(); len(got) != 1 || got[0] != "data/mnt" {
		t.Fatalf("mounts below the source = %q, want [data/mnt]", got)
	}
	e.m.mounts = mounts
	if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	_, err = e.m.pushBatch(context.Background(), e.t, []transport.Change{
		{Op: change.Delete, Path: "data/mnt/f"},
		{Op: change.Modify, Path: "data", IsDir: true, Recursive: true},
		{Op: change.Modify, Path: "other"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !testutil.Exists(filepath.Join(e.dst, "data/mnt/f")) {
		t.Error("a batch deleted the subtree of a vanished mount on the target")
	}
	if !testutil.Exists(filepath.Join(e.dst, "other")) {
		t.Error("the unrelated change was held back too")
	}
	if !strings.Contains(e.log.String(), "data/mnt") {
		t.Errorf("the held-back path is not logged:\n%s", e.log.String())
	}
	if _, err := e.m.fullSync(context.Background(), e.t); !IsRefusal(err) || !strings.Contains(err.Error(), mnt) {
		t.Errorf("fullSync = %v, want a refusal naming %s", err, mnt)
	}
	if !testutil.Exists(filepath.Join(e.dst, "data/mnt/f")) {
		t.Error("a full sync deleted the subtree of a vanished mount on the target")
	}
}
