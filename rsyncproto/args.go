package rsyncproto

import "fmt"

// clientInfo is the -e capability string rsync 3.x sends
// (options.c:maybe_add_e_option), without "i" (incremental recursion),
// which offersIncRecurse adds.
const clientInfo = "e.LsfxCIvu"

// offersIncRecurse reports whether a push with o offers incremental
// recursion ("i" in the -e string) at protocol proto.
func offersIncRecurse(o *Options, proto int) bool {
	return o.IncRecurse && proto >= 30
}

func ourProtocol(max int) int {
	if max <= 0 || max > MaxProtocol {
		return MaxProtocol
	}
	return max
}

// ServerArgs returns the argv after the program name for remote-shell
// mode ("--server", options, ".", destination), built for the protocol we
// advertise (options.c:server_options). The caller quotes the words for the
// remote shell.
func ServerArgs(req Request) []string {
	dest := req.Dest
	if dest == "" {
		dest = "."
	}
	return serverArgs(&req.Options, ourProtocol(req.Options.MaxProtocol), dest)
}

func serverArgs(o *Options, proto int, dest string) []string {
	// options.c:server_options, in its order.
	f := []byte{'-'}
	if o.Backup {
		f = append(f, 'b')
	}
	if o.Update {
		f = append(f, 'u')
	}
	if o.DryRun {
		f = append(f, 'n')
	}
	if !o.NoLinks {
		f = append(f, 'l')
	}
	if o.PruneEmptyDirs {
		f = append(f, 'm')
	}
	if o.OmitDirTimes {
		f = append(f, 'O')
	}
	if o.OmitLinkTimes {
		f = append(f, 'J')
	}
	if o.HardLinks {
		f = append(f, 'H')
	}
	if o.Owner {
		f = append(f, 'o')
	}
	if o.Group {
		f = append(f, 'g')
	}
	if o.Devices {
		f = append(f, 'D')
	}
	if !o.NoTimes {
		f = append(f, 't')
	}
	if !o.NoPerms {
		f = append(f, 'p')
	}
	if o.ACLs {
		f = append(f, 'A')
	}
	if o.XAttrs {
		f = append(f, 'X')
	}
	f = append(f, 'r')
	if o.Checksum {
		f = append(f, 'c')
	}
	if o.IgnoreTimes {
		f = append(f, 'I')
	}
	if o.OneFileSystem {
		// options.c:server_options: the receiver then keeps its
		// deletions on the file system of each transfer root.
		f = append(f, 'x')
	}
	if o.Sparse {
		f = append(f, 'S')
	}
	zShort, zLong := compressArgs(o)
	if zShort {
		f = append(f, 'z')
	}
	if proto >= 30 {
		info := clientInfo
		if offersIncRecurse(o, proto) {
			info = "e.iLsfxCIvu"
		}
		f = append(f, info...)
	}
	args := []string{"--server", string(f)}
	if o.Compress != "" && o.CompressLevelSet {
		args = append(args, fmt.Sprintf("--compress-level=%d", o.CompressLevel))
	}
	// -D carries --specials; "--devices" alone would not be understood by
	// old receivers (options.c:server_options).
	if o.Devices && !o.Specials {
		args = append(args, "--no-specials")
	} else if !o.Devices && o.Specials {
		args = append(args, "--specials")
	}
	if o.Itemize != nil {
		// The receiver then reports what it changes
		// (options.c:server_options: stdout_format_has_i).
		args = append(args, "--log-format=%i")
	}
	if o.Backup && o.BackupDir != "" {
		args = append(args, "--backup-dir", o.BackupDir)
	}
	if o.Backup && o.BackupSuffix != defaultSuffix(o) {
		args = append(args, "--suffix="+o.BackupSuffix)
	}
	args = append(args, zLong...)
	if o.Delete {
		if o.DeleteWhen != "" {
			args = append(args, "--delete-"+o.DeleteWhen)
		} else {
			args = append(args, "--delete")
		}
	}
	if proto >= 29 {
		// Replace a non-empty directory by a file when the type changed.
		args = append(args, "--force")
	}
	switch {
	case o.PartialDir != "" || o.DelayUpdates:
		if o.PartialDir != "" {
			args = append(args, "--partial-dir", o.PartialDir)
		}
		if o.DelayUpdates {
			args = append(args, "--delay-updates")
		}
	case o.Partial && o.Append == 0 && !o.Inplace:
		// options.c: --inplace clears keep_partial.
		args = append(args, "--partial")
	}
	if o.NumericIDs {
		args = append(args, "--numeric-ids")
	}
	if o.Usermap != "" {
		args = append(args, "--usermap="+o.Usermap)
	}
	if o.Groupmap != "" {
		args = append(args, "--groupmap="+o.Groupmap)
	}
	if o.IgnoreExisting {
		args = append(args, "--ignore-existing")
	}
	if o.Existing {
		args = append(args, "--existing")
	}
	if o.TempDir != "" {
		args = append(args, "--temp-dir", o.TempDir)
	}
	if o.Fsync {
		args = append(args, "--fsync")
	}
	switch {
	case o.Append > 0:
		// A second --append is --append-verify (options.c).
		if o.Append > 1 {
			args = append(args, "--append")
		}
		args = append(args, "--append")
	case o.Inplace:
		args = append(args, "--inplace")
	}
	return append(args, ".", dest)
}

// sendFilterList reports whether the receiver expects a filter list
// (exclude.c:send_filter_list: delete_mode && !delete_excluded).
func sendFilterList(o *Options) bool { return o.Delete }

// defaultSuffix is rsync's backup suffix when --suffix is not given
// (options.c: "~", or "" with a --backup-dir).
func defaultSuffix(o *Options) string {
	if o.BackupDir != "" {
		return ""
	}
	return "~"
}

// backupProtectRule is the rule rsync's client adds to the filter list
// when it deletes with backups kept next to the files (options.c:
// parse_arguments, "P *~"), so that --delete never removes a backup.
func backupProtectRule(o *Options) string {
	if !o.Backup || o.BackupDir != "" || !o.Delete {
		return ""
	}
	return "P *" + o.BackupSuffix
}
