package beneath

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
)

// TestReadDirents: names and types come out of getdents64 results as
// the kernel lays them out, over several reads, "." and ".." left out.
func TestReadDirents(t *testing.T) {
	root := t.TempDir()
	for i := range 40 {
		testutil.WriteFile(t, filepath.Join(root, fmt.Sprintf("file-%02d", i)), "")
	}
	testutil.MustMkdir(t, filepath.Join(root, "dir"))
	testutil.Must(t, os.Symlink("dir", filepath.Join(root, "link")))
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	testutil.Must(t, err)
	defer unix.Close(fd)
	ents, err := ReadDirents(fd, ".", make([]byte, 512), nil) // several reads
	testutil.Must(t, err)
	got := map[string]uint8{}
	for _, d := range ents {
		got[d.Name] = d.Type
	}
	want, err := os.ReadDir(root)
	testutil.Must(t, err)
	if len(got) != len(want) || len(ents) != len(want) {
		t.Fatalf("read %d names, os.ReadDir reads %d", len(ents), len(want))
	}
	for _, e := range want {
		typ, ok := got[e.Name()]
		wantType := uint8(unix.DT_REG)
		switch {
		case e.IsDir():
			wantType = unix.DT_DIR
		case e.Type()&fs.ModeSymlink != 0:
			wantType = unix.DT_LNK
		}
		if !ok || (typ != wantType && typ != unix.DT_UNKNOWN) {
			t.Errorf("%s: type %d (found %v), want %d", e.Name(), typ, ok, wantType)
		}
	}
}
