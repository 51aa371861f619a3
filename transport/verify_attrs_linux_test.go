package transport

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/rsyncopts"
)

// TestLocalVerifyXattrsACLs: with -A -X the local target's Verify
// itemizes differing xattrs ('x') and ACLs ('a') as C rsync -aAX -ani
// does, and nothing once a full sync made them equal.
func TestLocalVerifyXattrsACLs(t *testing.T) {
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync not installed: it is the oracle")
	}
	setfacl, err := exec.LookPath("setfacl")
	if err != nil {
		t.Skip("setfacl not installed")
	}
	src, dst := t.TempDir(), t.TempDir()
	for _, n := range []string{"same", "xval", "xextra", "acl"} {
		if err := os.WriteFile(filepath.Join(src, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Lsetxattr(filepath.Join(src, "same"), "user.k", []byte("v"), 0); err != nil {
		t.Skipf("user xattrs not supported here: %v", err)
	}
	unix.Lsetxattr(filepath.Join(src, "xval"), "user.k", []byte("source"), 0)
	if out, err := exec.Command(rsync, "-aAX", src+"/", dst+"/").CombinedOutput(); err != nil {
		t.Fatalf("rsync -aAX: %v\n%s", err, out)
	}
	unix.Lsetxattr(filepath.Join(dst, "xval"), "user.k", []byte("edited"), 0)
	unix.Lsetxattr(filepath.Join(dst, "xextra"), "user.extra", []byte("x"), 0)
	if out, err := exec.Command(setfacl, "-m", "u:65534:r", filepath.Join(src, "acl")).CombinedOutput(); err != nil {
		t.Skipf("setfacl: %v\n%s", err, out)
	}
	// C rsync compares mtimes to the second and left the root's as it
	// was; the local target compares them to the nanosecond.
	sfi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dst, sfi.ModTime(), sfi.ModTime()); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(rsync, "-aAX", "-ani", src+"/", dst+"/").Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			want = append(want, l)
		}
	}
	slices.Sort(want)
	l, err := NewLocal(dst, Options{Source: src, Attrs: rsyncopts.Attrs{ACLs: true, XAttrs: true}})
	if err != nil {
		t.Fatal(err)
	}
	got := verifyLines(t, l, false)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-rsync -aAX -ani +Verify):\n%s", diff)
	}
	if len(got) < 3 {
		t.Errorf("want the xattr and ACL differences, got %q", got)
	}
	if _, err := l.FullSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := verifyLines(t, l, false); len(got) != 0 {
		t.Errorf("after a full sync: %q", got)
	}
}
