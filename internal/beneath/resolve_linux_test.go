package beneath

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
)

// TestOpenat2Used: on a kernel with openat2 the root never falls back to
// the walk, and ENOSYS or EPERM (seccomp) make it fall back.
func TestOpenat2Used(t *testing.T) {
	root, _ := fixture(t)
	if _, err := openat2(unix.AT_FDCWD, root, unix.O_RDONLY|unix.O_DIRECTORY); errors.Is(err, unix.ENOSYS) {
		t.Skip("kernel without openat2")
	}
	r, err := Open(root)
	testutil.Must(t, err)
	defer r.Close()
	for _, rel := range []string{"file", "dir/inner", "link-dir/secret"} {
		r.OpenFile(rel)
		r.Lstat(rel)
	}
	if r.walk.Load() {
		t.Error("fell back to the walk on a kernel with openat2")
	}
	for _, err := range []error{unix.ENOSYS, unix.EPERM} {
		if !fallBack(err) {
			t.Errorf("%v does not fall back", err)
		}
	}
	if fallBack(unix.EACCES) || fallBack(unix.ELOOP) {
		t.Error("a real error falls back")
	}
}
