package rsyncproto

import "fmt"

// clientInfo is the -e capability string rsync 3.x sends
// (options.c:maybe_add_e_option), without "i" (incremental recursion),
// which offersIncRecurse adds.
const clientInfo = "e.LsfxCIvu"

// offersIncRecurse reports whether a push with o offers incremental
// recursion ("i" in the -e string) at protocol proto.
func offersIncRecurse(o *Options, proto int) bool {
	// --remove-source-files needs the whole list at hand to find the
	// entries the receiver confirms.
	return o.IncRecurse && proto >= 30 && !o.RemoveSourceFiles
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
	if o.KeepDirlinks {
		f = append(f, 'K')
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
	} else if o.Executability {
		f = append(f, 'E') // options.c:server_options: only without -p
	}
	if o.ACLs {
		f = append(f, 'A')
	}
	if o.XAttrs {
		f = append(f, 'X')
	}
	f = append(f, 'r')
	if o.WholeFile {
		f = append(f, 'W') // options.c:server_options: no --no-W, the remote default
	}
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
	// options.c:server_options: --bwlimit, --backup-dir, --suffix,
	// the compression choice, then (am_sender) the size limits and the
	// delete mode.
	if o.BwLimit > 0 {
		args = append(args, fmt.Sprintf("--bwlimit=%d", o.BwLimit))
	}
	if o.Backup && o.BackupDir != "" {
		args = append(args, "--backup-dir", o.BackupDir)
	}
	if o.Backup && o.BackupSuffix != defaultSuffix(o) {
		args = append(args, "--suffix="+o.BackupSuffix)
	}
	args = append(args, zLong...)
	if o.HoldDeletes {
		// options.c:server_options: --max-delete=0 goes as -1 (0 was
		// "no limit" to old receivers).
		args = append(args, "--max-delete=-1")
	}
	if o.MinSizeSet {
		args = append(args, fmt.Sprintf("--min-size=%d", o.MinSize))
	}
	if o.MaxSizeSet {
		args = append(args, fmt.Sprintf("--max-size=%d", o.MaxSize))
	}
	if o.Delete {
		switch {
		case o.DeleteWhen != "":
			args = append(args, "--delete-"+o.DeleteWhen)
		case !o.DeleteExcluded:
			args = append(args, "--delete")
		}
		if o.DeleteExcluded {
			args = append(args, "--delete-excluded") // instead of a plain --delete
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
	if o.CopyUnsafeLinks {
		// options.c:server_options sends it; the receiver clears it
		// (main.c:do_recv). -L and -k are not sent by a sender.
		args = append(args, "--copy-unsafe-links")
	}
	if o.SafeLinks {
		args = append(args, "--safe-links")
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
	if o.RemoveSourceFiles {
		args = append(args, "--remove-source-files")
	}
	return append(args, ".", dest)
}

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

// sendFilterList reports whether the receiver expects a filter list at
// protocol proto (exclude.c:recv_filter_list: receiver_wants_list is
// delete_mode && (!delete_excluded || protocol_version >= 29)).
func sendFilterList(o *Options, proto int) bool {
	return o.Delete && (!o.DeleteExcluded || proto >= 29)
}

// receiverRules are the user's rules the receiver gets. With
// --delete-excluded the caller gives only those that apply on the
// receiving side (P, R, the r modifier, dir-merge rules:
// exclude.c:send_rules elides the others, filter.Set.RsyncRules does).
func receiverRules(o *Options) []string {
	return o.ExcludeRules
}
