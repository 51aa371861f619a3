package rsyncopts

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

func TestParseIDMapErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, part, msg string }{
		{"0-99", `"0-99"`, "no colon"},
		{"wayne:", `"wayne:"`, "no name after the colon"},
		{"1-2-3:root", `"1-2-3:root"`, "invalid number"},
		{"1-:root", `"1-:root"`, "invalid number"},
		{"12ab:root", `"12ab:root"`, "invalid number"},
		{"root:daemon,99999999999:root", `"99999999999:root"`, "invalid id number"},
		{"[a:root", `"[a:root"`, "bad pattern"},
		{"a:b,", `""`, "no colon"},
	} {
		_, err := ParseIDMap(tc.in)
		if err == nil {
			t.Errorf("ParseIDMap(%q): no error", tc.in)
			continue
		}
		if s := err.Error(); !strings.Contains(s, tc.part) || !strings.Contains(s, tc.msg) {
			t.Errorf("ParseIDMap(%q) = %v, want it to name %s (%s)", tc.in, err, tc.part, tc.msg)
		}
	}
	m, err := ParseIDMap("")
	if err != nil || !m.IsZero() {
		t.Errorf(`ParseIDMap("") = %v, %v; want no map`, m, err)
	}
	// The man page's example parses; its names are unknown here.
	m, err = ParseIDMap("0-99:nobody,wayne:admin,*:normal")
	testutil.Must(t, err)
	id, errs := m.MapUser(50, "")
	if id != 65534 || len(errs) != 0 {
		t.Errorf("man page map: uid 50 -> %d %v, want nobody's 65534 and no error", id, errs)
	}
	_, errs = m.MapUser(1000, "cloudsdk")
	var une *UnknownNameError
	if len(errs) != 2 || !errors.As(errs[0], &une) || une.Name != "admin" || une.Option != "--usermap" {
		t.Errorf("man page map: errors %v, want unknown admin and normal", errs)
	}
}

// idOwners are the owners of the oracle test's files: named ones, ids
// without a name, root.
var idOwners = []uint32{0, 1, 2, 33, 50, 99, 100, 1000, 12345, 65534}

// idMaps are the maps the oracle test checks.
var idMaps = []string{
	"0-99:nobody,daemon:bin,*:12",
	"0-99:65534",
	"*:daemon",
	"d*:1,b?n:2,[n]obody:3",
	"1:2,1:3,2-2:4",
	"12345:root,100-200:daemon",
	"root:daemon",
	"0:7,*:8",
	"nonesuch:root,wayne:admin,*:normal,1:5",
	"50-0:3",
}

// TestIDMapMatchesRsync maps files owned by idOwners with C rsync -a
// --usermap/--groupmap and with MapUser/MapGroup and compares.
func TestIDMapMatchesRsync(t *testing.T) {
	t.Parallel()
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to own files by others")
	}
	for _, spec := range idMaps {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			m, err := ParseIDMap(spec)
			testutil.Must(t, err)
			src, dst := t.TempDir(), t.TempDir()
			for _, id := range idOwners {
				f := filepath.Join(src, fmt.Sprint(id))
				testutil.WriteFile(t, f, "x")
				testutil.Must(t, os.Lchown(f, int(id), int(id)))
			}
			// Unknown TO names are reported by rsync, which goes on.
			out, _ := exec.Command(rsync, "-a", "--usermap="+spec, "--groupmap="+spec, src+"/", dst+"/").CombinedOutput()
			for _, id := range idOwners {
				var st syscall.Stat_t
				if err := syscall.Lstat(filepath.Join(dst, fmt.Sprint(id)), &st); err != nil {
					t.Fatalf("rsync did not copy %d: %v\n%s", id, err, out)
				}
				uid, _ := m.MapUser(id, userName(id))
				gid, _ := m.MapGroup(id, groupName(id))
				if uid != st.Uid || gid != st.Gid {
					t.Errorf("owner %d: MapUser/MapGroup give %d:%d, rsync %d:%d", id, uid, gid, st.Uid, st.Gid)
				}
			}
		})
	}
}

func userName(id uint32) string {
	u, err := user.LookupId(fmt.Sprint(id))
	if err != nil {
		return ""
	}
	return u.Username
}

func groupName(id uint32) string {
	g, err := user.LookupGroupId(fmt.Sprint(id))
	if err != nil {
		return ""
	}
	return g.Name
}
