package rsyncproto

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestServerArgsMatchRsync: for each set of attribute options, the
// remote command gsync builds asks the receiver for what C rsync's own
// client asks (options.c:server_options), captured through a remote
// shell that records its argv and exits. The bundled letters are compared
// as sets (rsync adds 'i' for incremental recursion, which gsync never
// uses), the long options in order.
func TestServerArgsMatchRsync(t *testing.T) {
	rsync := needRsync(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "rsh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nshift\nprintf '%s\\n' \"$@\" > \"$ARGV_OUT\"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for _, tc := range []struct {
		flags []string
		o     Options
	}{
		{[]string{"-a"}, Options{Owner: true, Group: true, Devices: true, Specials: true}},
		{[]string{"-lt"}, Options{NoPerms: true}},
		{[]string{"-ltE"}, Options{NoPerms: true, Executability: true}},
		{[]string{"-rlpt", "--max-delete=0", "--min-size=1"}, Options{HoldDeletes: true, MinSize: 1, MinSizeSet: true}},
		{[]string{"-aE"}, Options{Owner: true, Group: true, Devices: true, Specials: true, Executability: true}},
		{[]string{"-rpt"}, Options{NoLinks: true}},
		{[]string{"-rlp"}, Options{NoTimes: true}},
		{[]string{"-aHAXS", "--numeric-ids"}, Options{Owner: true, Group: true, Devices: true, Specials: true,
			HardLinks: true, ACLs: true, XAttrs: true, Sparse: true, NumericIDs: true}},
		{[]string{"-a", "--no-specials"}, Options{Owner: true, Group: true, Devices: true}},
		{[]string{"-rlpt", "--specials"}, Options{Specials: true}},
		{[]string{"-a", "--usermap=0-99:nobody,*:1", "--groupmap=*:users"}, Options{Owner: true, Group: true, Devices: true, Specials: true,
			Usermap: "0-99:nobody,*:1", Groupmap: "*:users"}},
		{[]string{"-a", "--chown=bin:daemon"}, Options{Owner: true, Group: true, Devices: true, Specials: true,
			Usermap: "*:bin", Groupmap: "*:daemon"}},
		{[]string{"-a", "-z"}, Options{Owner: true, Group: true, Devices: true, Specials: true, Compress: CompressAuto}},
		{[]string{"-a", "-z", "--zl=9", "--skip-compress=txt/log"}, Options{Owner: true, Group: true, Devices: true, Specials: true,
			Compress: CompressAuto, CompressLevel: 9, CompressLevelSet: true, SkipCompress: "txt/log", SkipCompressSet: true}},
		{[]string{"-a", "--zc=zstd", "--compress-level=-5"}, Options{Owner: true, Group: true, Devices: true, Specials: true,
			Compress: CompressZstd, CompressLevel: -5, CompressLevelSet: true}},
		{[]string{"-rlpt", "--compress-choice=lz4"}, Options{Compress: CompressLZ4}},
		{[]string{"-a", "--no-specials", "-z", "--zc=zlib", "--zl=1"}, Options{Owner: true, Group: true, Devices: true,
			Compress: CompressZlib, CompressLevel: 1, CompressLevelSet: true}},
		{[]string{"-a", "-zz"}, Options{Owner: true, Group: true, Devices: true, Specials: true, Compress: CompressZlibx}},
		{[]string{"-a", "--zc=zlibx"}, Options{Owner: true, Group: true, Devices: true, Specials: true, Compress: CompressZlibx}},
		// Receiver-side options (rsyncopts.Receiver).
		{[]string{"-rlpt", "-b"}, Options{Backup: true, BackupSuffix: "~"}},
		{[]string{"-rlpt", "-b", "--suffix=.old"}, Options{Backup: true, BackupSuffix: ".old"}},
		{[]string{"-rlpt", "--backup-dir=../bak"}, Options{Backup: true, BackupDir: "../bak"}},
		{[]string{"-rlpt", "--backup-dir=bak", "--suffix=~"}, Options{Backup: true, BackupDir: "bak", BackupSuffix: "~"}},
		{[]string{"-rlpt", "-u", "--existing", "--ignore-existing", "-O", "-J", "-m", "--fsync"}, Options{Update: true,
			Existing: true, IgnoreExisting: true, OmitDirTimes: true, OmitLinkTimes: true, PruneEmptyDirs: true, Fsync: true}},
		{[]string{"-rlpt", "-T", "/tmp/t", "--inplace"}, Options{TempDir: "/tmp/t", Inplace: true}},
		{[]string{"-rlptS", "--inplace"}, Options{Sparse: true, Inplace: true}},
		{[]string{"-rlpt", "--append"}, Options{Append: 1}},
		{[]string{"-rlpt", "--append-verify"}, Options{Append: 2}},
		{[]string{"-rlpt", "--partial"}, Options{Partial: true}},
		{[]string{"-rlpt", "--partial", "--inplace"}, Options{Partial: true, Inplace: true}},
		{[]string{"-rlpt", "--partial-dir=.p", "--delay-updates"}, Options{PartialDir: ".p", DelayUpdates: true}},
		{[]string{"-rlpt", "--delay-updates"}, Options{DelayUpdates: true}},
		{[]string{"-rlpt", "--delete-after"}, Options{Delete: true, DeleteWhen: "after"}},
		{[]string{"-rlpt", "--delete", "--delete-delay"}, Options{Delete: true, DeleteWhen: "delay"}},
		{[]string{"-rlpt", "--delete-before", "-b"}, Options{Delete: true, DeleteWhen: "before", Backup: true, BackupSuffix: "~"}},
		// Sender-side options (rsyncopts.Sender).
		{[]string{"-rlpt", "--bwlimit=2m", "-W"}, Options{BwLimit: 2048, WholeFile: true}},
		{[]string{"-rlpt", "-c", "--max-size=1.5k", "--min-size=10", "--safe-links"}, Options{Checksum: true,
			MaxSize: 1536, MaxSizeSet: true, MinSize: 10, MinSizeSet: true, SafeLinks: true}},
		{[]string{"-rlpt", "--max-size=0"}, Options{MaxSizeSet: true}},
		{[]string{"-rlpt", "--remove-source-files"}, Options{RemoveSourceFiles: true}},
		{[]string{"-rlpt", "-L", "-K"}, Options{CopyLinks: true, KeepDirlinks: true}},
		{[]string{"-rlpt", "-k", "--copy-unsafe-links", "--safe-links"}, Options{CopyDirlinks: true, CopyUnsafeLinks: true, SafeLinks: true}},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "argv")
			args := append(append([]string{"-r"}, tc.flags...), "--rsh="+script, src+"/", "host:dst")
			cmd := exec.Command(rsync, args...)
			cmd.Env = append(os.Environ(), "ARGV_OUT="+out)
			_ = cmd.Run() // the fake shell exits 1
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("rsync did not run the remote shell: %v", err)
			}
			var want []string
			for _, w := range strings.Fields(string(b)) {
				// rsync escapes wildcards for the remote shell
				// (options.c:safe_arg); gsync quotes whole words
				// for it instead (sshx.QuoteArgs), so compare what
				// the remote rsync receives.
				want = append(want, strings.NewReplacer(`\*`, "*", `\?`, "?", `\[`, "[").Replace(w))
			}
			if len(want) > 0 && want[0] == "rsync" {
				want = want[1:]
			}
			got := ServerArgs(Request{Dest: "dst", Options: tc.o})
			if d := diffArgs(got, want); d != "" {
				t.Errorf("gsync %q\nrsync %q\n%s", got, want, d)
			}
		})
	}
}

// diffArgs compares two server argvs: the bundle of one-letter options
// as sets of letters (up to the '.' of -e), everything else in order.
func diffArgs(got, want []string) string {
	bundle := func(args []string) (string, []string) {
		var rest []string
		letters := ""
		for _, a := range args {
			if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") {
				l, _, _ := strings.Cut(a[1:], ".")
				letters = strings.TrimSuffix(l, "e")
				continue
			}
			rest = append(rest, a)
		}
		s := strings.Split(letters, "")
		slices.Sort(s)
		return strings.Join(s, ""), rest
	}
	gl, gr := bundle(got)
	wl, wr := bundle(want)
	var d []string
	if gl != wl {
		d = append(d, "letters: gsync "+gl+", rsync "+wl)
	}
	// gsync always sends --force (protocol >= 29) to replace non-empty
	// directories; rsync sends it only with --force.
	gr = slices.DeleteFunc(gr, func(s string) bool { return s == "--force" })
	if !slices.Equal(gr, wr) {
		d = append(d, "long options: gsync "+strings.Join(gr, " ")+", rsync "+strings.Join(wr, " "))
	}
	return strings.Join(d, "\n")
}
