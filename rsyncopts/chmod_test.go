package rsyncopts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// chmodSpecs are --chmod values checked against C rsync, the man page's
// examples first.
var chmodSpecs = []string{
	"Dg+s,ug+w,Fo-w,+X",
	"D2775,F664",
	"u+rwX,go-w",
	"a=rX",
	"+x", "-w", "=r", "+s", "+t", "a+s", "o+t", "g=u", "o=g", "u=o", "go-u", "u+g",
	"F755", "D700", "0", "7777", "ug=rwX,o=", "Fa-x,Da+x", "u-s,g-s", "=", "a=", "g+s,o-rwx",
	"u=rwxs,g=rxs,o=t", "a+X", "F+X", "D-X", "ug-X,+r", "+u", "=g", "-o", "+rwxst",
}

// chmodModes are the source modes each spec is applied to.
var chmodModes = []uint32{0o644, 0o755, 0o600, 0o700, 0o000, 0o777, 0o4755, 0o2750, 0o1777, 0o6711, 0o640, 0o101, 0o070}

// TestChmodMatchesRsync applies each spec to files and directories of
// every mode with C rsync and with Chmod.Apply and compares the modes.
func TestChmodMatchesRsync(t *testing.T) {
	t.Parallel()
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync not installed")
	}
	for _, umask := range []int{0o022, 0o077, 0o002} {
		for _, spec := range chmodSpecs {
			t.Run(fmt.Sprintf("%s/umask%03o", spec, umask), func(t *testing.T) {
				t.Parallel()
				testChmodSpec(t, rsync, spec, umask)
			})
		}
	}
}

// testChmodSpec compares Apply with rsync --chmod=spec run under umask.
func testChmodSpec(t *testing.T, rsync, spec string, umask int) {
	c, err := parseChmod(spec, umask)
	testutil.Must(t, err)
	src, dst := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "dst")
	testutil.MustMkdir(t, src)
	for _, m := range chmodModes {
		f := filepath.Join(src, fmt.Sprintf("f%o", m))
		testutil.WriteFile(t, f, "x")
		testutil.Must(t, syscall.Chmod(f, m))
		d := filepath.Join(src, fmt.Sprintf("d%o", m))
		testutil.MustMkdir(t, d)
		testutil.Must(t, syscall.Chmod(d, m))
	}
	sh := fmt.Sprintf(`umask %03o && exec "$0" -rp --chmod="$1" "$2/" "$3/"`, umask)
	out, err := exec.Command("sh", "-c", sh, rsync, spec, src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("rsync: %v\n%s", err, out)
	}
	ents, err := os.ReadDir(src)
	testutil.Must(t, err)
	for _, e := range ents {
		var sst, dst2 syscall.Stat_t
		testutil.Must(t, syscall.Lstat(filepath.Join(src, e.Name()), &sst))
		testutil.Must(t, syscall.Lstat(filepath.Join(dst, e.Name()), &dst2))
		if got := c.Apply(uint32(sst.Mode)); got != uint32(dst2.Mode) {
			t.Errorf("%s (mode %o): Apply gives %o, rsync %o", e.Name(), sst.Mode, got, dst2.Mode)
		}
	}
}

func TestParseChmodErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, part string }{
		{"u", `"u"`},
		{"a+rw,x", `"x"`},
		{"DF+x", `"DF+x"`},
		{"u+q", `"u+q"`},
		{"u+ur", `"u+ur"`},
		{"u+ru", `"u+ru"`},
		{"8", `"8"`},
		{"u755", `"u755"`},
		{"17777", `"17777"`},
		{"755x", `"755x"`},
		{"a+r,,a+w", `""`},
		{",", `""`},
	} {
		_, err := ParseChmod(tc.in)
		if err == nil {
			t.Errorf("ParseChmod(%q): no error", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), `invalid --chmod "`+tc.in+`"`) || !strings.Contains(err.Error(), tc.part) {
			t.Errorf("ParseChmod(%q) = %v, want it to name %s", tc.in, err, tc.part)
		}
	}
	if c, err := ParseChmod(""); err != nil || !c.IsZero() {
		t.Errorf(`ParseChmod("") = %v, %v; want no change`, c, err)
	}
}

// TestChmodRejectsLikeRsync checks that the specs ParseChmod refuses are
// the ones rsync refuses.
func TestChmodRejectsLikeRsync(t *testing.T) {
	t.Parallel()
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync not installed")
	}
	src := t.TempDir()
	for _, spec := range []string{"u", "DF+x", "u+q", "u+ur", "u+ru", "8", "u755", "17777", "a+r,,a+w", "Du=g", "uD+x", "+", "07777", "a-st", "g=o,u=g"} {
		_, perr := ParseChmod(spec)
		err := exec.Command(rsync, "-r", "--dry-run", "--chmod="+spec, src+"/", t.TempDir()+"/").Run()
		if (perr == nil) != (err == nil) {
			t.Errorf("--chmod=%s: ParseChmod error %v, rsync error %v", spec, perr, err)
		}
	}
}
