package rsyncproto

import (
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/internal/treediff"
)

func TestItemCode(t *testing.T) {
	for _, tc := range []struct {
		it   Item
		want string
	}{
		{Item{Name: "f", Mode: sIFREG, Flags: ItemTransfer | ItemReportSize | ItemReportTime}, "<f.st...... f"},
		{Item{Name: "f", Mode: sIFREG, Flags: ItemTransfer | ItemIsNew}, "<f+++++++++ f"},
		{Item{Name: "d", Mode: sIFDIR, Flags: ItemLocalChange | ItemIsNew}, "cd+++++++++ d/"},
		{Item{Name: ".", Mode: sIFDIR, Flags: ItemReportTime}, ".d..t...... ./"},
		{Item{Name: "l", Mode: sIFLNK, Link: "t", Flags: ItemLocalChange | ItemReportChange}, "cLc........ l -> t"},
		{Item{Name: "p", Mode: sIFIFO, Flags: ItemReportPerms | ItemReportOwner | ItemReportGroup}, ".S...pog... p"},
		{Item{Name: "c", Mode: sIFCHR, Flags: ItemReportACL | ItemReportXattr | ItemReportAtime}, ".D......uax c"},
		{Item{Name: "h", Mode: sIFREG, Flags: ItemLocalChange | ItemXnameFollows, Xname: "g"}, "hf          h => g"},
		{Item{Name: "x/y", Mode: sIFDIR, Deleted: true}, "*deleting   x/y/"},
		{Item{Name: "new\nline", Mode: sIFREG, Deleted: true}, `*deleting   new\#012line`},
	} {
		if got := tc.it.Line(true); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.it, got, tc.want)
		}
	}
	if got := (Item{Name: "f", Mode: sIFREG, Flags: ItemTransfer}).Code(false); got != ">f........." {
		t.Errorf("local transfer code %q", got)
	}
}

// rsyncItemize is C rsync's own view of what a push of src to dst would
// change: rsync -ani --delete with the exclude, as the sender of a remote
// push prints it ('<' for a transfer).
func rsyncItemize(t *testing.T, src, dst string, checksum bool) []string {
	t.Helper()
	args := []string{"-ani", "--delete", "--exclude", treediff.DriftExclude}
	if checksum {
		args = append(args, "-c")
	}
	out, err := exec.Command(needRsync(t), append(args, src+"/", dst+"/")...).Output()
	if err != nil {
		t.Fatalf("rsync -ani: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, ">") {
			l = "<" + l[1:]
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return lines
}

// TestItemizeDryRun: a dry-run push with Itemize reports, for every
// planted difference, the line C rsync -ani prints for the same trees
// (and nothing else), against rsync 3.5.0 over a remote shell and as a
// daemon at protocols 29 to 32, with and without --checksum; the target
// is left unchanged.
func TestItemizeDryRun(t *testing.T) {
	if !hasRsync() {
		t.Skip("rsync not installed")
	}
	for _, p := range protocols {
		for _, pr := range []peer{sshPeer(p), daemonPeer(p)} {
			for _, checksum := range []bool{false, true} {
				name := pr.name
				if checksum {
					name += "-checksum"
				}
				t.Run(name, func(t *testing.T) {
					dest, dir, push := pr.target(t)
					src := t.TempDir()
					if _, err := treediff.PlantDrift(src, dir); err != nil {
						t.Fatal(err)
					}
					want := rsyncItemize(t, src, dir, checksum)
					before, err := treediff.TakeCensus(dir)
					if err != nil {
						t.Fatal(err)
					}
					var mu sync.Mutex
					var got []string
					excl := func(rel string, isDir bool) bool { m, _ := path.Match(treediff.DriftExclude, path.Base(rel)); return m }
					res, err := push(Request{Root: src, Dest: dest, Paths: []Path{{Name: ".", Recursive: true}}, Options: Options{
						DryRun: true, Delete: true, Checksum: checksum, Owner: true, Group: true, Devices: true, Specials: true,
						ExcludeRules: []string{"- " + treediff.DriftExclude}, Exclude: excl,
						Itemize: func(it Item) { mu.Lock(); got = append(got, it.Line(true)); mu.Unlock() },
					}})
					if err != nil {
						t.Fatal(err)
					}
					slices.Sort(got)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("itemized (-rsync -ani +gsync):\n%s", diff)
					}
					if res.ExitCode != 0 || len(res.Warnings) > 0 || len(got) < 10 {
						t.Errorf("exit code %d, warnings %q, %d items", res.ExitCode, res.Warnings, len(got))
					}
					after, err := treediff.TakeCensus(dir)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(before, after); diff != "" {
						t.Errorf("the dry run changed the target:\n%s", diff)
					}
				})
			}
		}
	}
}

// TestDeletedItem: a MSG_DELETED payload becomes a deletion item, a
// directory by its trailing NUL; peer text is shown escaped; without
// Itemize nothing is reported.
func TestDeletedItem(t *testing.T) {
	var got []Item
	s := &session{opts: &Options{Itemize: func(it Item) { got = append(got, it) }}}
	s.deletedItem([]byte("dir/sub\x00"))
	s.deletedItem([]byte("evil\x1b[2Jname"))
	want := []string{"*deleting   dir/sub/", `*deleting   evil\#033[2Jname`}
	var lines []string
	for _, it := range got {
		lines = append(lines, it.Line(true))
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	(&session{opts: &Options{}}).deletedItem([]byte("x")) // no Itemize: no panic, nothing
	e := &entry{name: "f", mode: sIFREG | 0o644}
	s.itemized(e, itemTransfer, "")
	s.itemized(e, uint16(ItemBasisFollows), "") // not significant: not reported
	if len(got) != 3 || got[2].Name != "f" || got[2].Flags != ItemTransfer {
		t.Errorf("itemized: %+v", got)
	}
}
