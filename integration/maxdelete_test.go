package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/internal/treediff"
)

// TestMaxDeleteCountsAsRsync: --max-delete on a local target (and on an
// rsync 3.5.0 daemon, counted by its dry run) counts the entries C rsync
// counts (delete.c: delete_item, stats.deleted_files),
// given the same options: with --delete-excluded the excluded entries on
// the target (a directory excluded whole included), with a perishable
// rule (-p) the perishable entries inside a deleted directory, the
// contents of a directory replaced by a file (not the directory), and
// not a directory that keeps a protected entry. rsync's own count (its
// --stats without a limit) is the oracle: at --max-delete K both delete
// all K and exit 0, leaving equal targets; at K-1 both stop at the limit
// (rsync deletes the first K-1 and says "Deletions stopped due to
// --max-delete limit"; gsync deletes none and says "more than
// --max-delete"), both exiting with the same code (25), and neither
// clears a directory in the way of a file to make room for it.
func TestMaxDeleteCountsAsRsync(t *testing.T) {
	t.Parallel()
	rsync := lookBinary(t, "rsync")
	base := t.TempDir()
	rows := []string{"delete-excluded", "perishable"}
	var mods []Module
	for _, r := range rows {
		for _, phase := range []string{"at", "below"} {
			mods = append(mods, Module{Name: r + "-" + phase, Path: filepath.Join(base, r, "daemon-"+phase)})
		}
	}
	d := StartRsyncDaemon(t, Config{Modules: mods})
	for _, tt := range []struct {
		name    string
		opts    []string
		source  []string // files at the source
		target  []string // files on the target before the sync
		atLeast int      // rsync's count, at least (the scenario holds what it is meant to)
	}{
		{"delete-excluded", []string{"--delete-excluded", "--exclude", "*.log", "--exclude", "cache/", "--filter", "P prot"},
			[]string{"keep/a", "keep/b.log", "cache/x", "typechange"},
			[]string{"keep/a", "keep/b.log", "cache/x", "cache/y", "gone/1", "gone/2", "gone/3", "gone2/f", "gone2/prot",
				"typechange/1", "typechange/2"},
			9},
		{"perishable", []string{"--filter", "-p *.o", "--exclude", "*.log"},
			[]string{"keep/a", "keep/b.log"},
			[]string{"keep/a", "keep/b.log", "top.o", "gone/1", "gone/2", "gone/x.o", "gone3/y.log", "gone3/z"},
			4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := filepath.Join(base, tt.name)
			src := filepath.Join(base, "src")
			for _, f := range tt.source {
				testutil.WriteRel(t, src, f)
			}
			fresh := func(name string) string {
				dir := filepath.Join(base, name)
				for _, f := range tt.target {
					testutil.WriteRel(t, dir, f)
				}
				return dir
			}
			rsyncArgs := func(dst string, extra ...string) []string {
				return append(append(append([]string{"-a", "--delete"}, tt.opts...), extra...), src+"/", dst+"/")
			}
			code, out := runFidelityRsync(t, rsync, rsyncArgs(fresh("count"), "--stats")...)
			m := regexp.MustCompile(`Number of deleted files: (\d+)`).FindStringSubmatch(out)
			if code != 0 || m == nil {
				t.Fatalf("rsync --stats: exit %d, no count:\n%s", code, out)
			}
			k, _ := strconv.Atoi(m[1])
			if k < tt.atLeast {
				t.Fatalf("rsync deleted %d entries, want at least %d: the scenario does not hold", k, tt.atLeast)
			}

			// At the limit rsync deletes everything; one below, it stops.
			rat, rbelow := fresh("rsync-at"), fresh("rsync-below")
			limitAt, limitBelow := "--max-delete="+strconv.Itoa(k), "--max-delete="+strconv.Itoa(k-1)
			if code, out := runFidelityRsync(t, rsync, rsyncArgs(rat, limitAt)...); code != 0 {
				t.Fatalf("rsync %s: exit %d:\n%s", limitAt, code, out)
			}
			rcode, out := runFidelityRsync(t, rsync, rsyncArgs(rbelow, limitBelow)...)
			if rcode == 0 || !strings.Contains(out, "Deletions stopped due to --max-delete limit (1 skipped)") {
				t.Errorf("rsync %s: exit %d, want a non-zero exit at the limit:\n%s", limitBelow, rcode, out)
			}
			for _, kind := range []string{"local", "daemon"} {
				at, below := fresh(kind+"-at"), fresh(kind+"-below")
				atArg, belowArg := at, below
				if kind == "daemon" {
					atArg, belowArg = d.URL(tt.name+"-at"), d.URL(tt.name+"-below")
				}
				// At the limit: gsync deletes everything too, the
				// targets agree.
				gargs := append(append([]string{"--once", "--control-socket", "none", limitAt}, tt.opts...), src, atArg)
				if code, out := runGsync(t, gargs...); code != 0 {
					t.Fatalf("%s: gsync %s (rsync deleted %d): exit %d:\n%s", kind, limitAt, k, code, tail(out, 20))
				}
				// mtimes left out: rsync's quick check skips a
				// same-size file written in the same second, gsync
				// compares nanoseconds.
				treediff.Equal(t, rat, at, treediff.Options{MtimeGranularity: -1})

				// One below: gsync stops too, and deletes nothing.
				gargs = append(append([]string{"--once", "--control-socket", "none", limitBelow}, tt.opts...), src, belowArg)
				code, out := runGsync(t, gargs...)
				if code != rcode || !strings.Contains(out, "more than --max-delete "+strconv.Itoa(k-1)) {
					t.Errorf("%s: gsync %s: exit %d, want rsync's %d and the --max-delete refusal:\n%s", kind, limitBelow, code, rcode, tail(out, 20))
				}
				for _, f := range tt.target {
					// typechange/ too: a directory in the way of a
					// file is not cleared while deletions are held
					// back (rsync: "could not make way").
					if _, err := os.Lstat(filepath.Join(below, f)); err != nil {
						t.Errorf("%s: gsync deleted %s over the limit: %v", kind, f, err)
					}
				}
			}
		})
	}
}
