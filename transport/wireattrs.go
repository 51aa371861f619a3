package transport

import (
	"fmt"
	"log/slog"

	"github.com/gsync/gsync/rsyncopts"
	"github.com/gsync/gsync/rsyncproto"
)

// wireAttrs returns the function that sets the attribute options of an
// rsync push (daemon and ssh targets) from opts.Attrs, so that the
// receiver keeps what C rsync with the same options would keep, its
// compression from opts.Compress, the receiver and sender-side options,
// and HoldDeletes. --chmod is applied by the sender, as rsync does
// (flist.c:send_file_name), and parsed here, once; the maps go to the
// receiver (options.c:server_options).
func wireAttrs(opts Options) (func(o *rsyncproto.Options), error) {
	a, z, rv, snd := opts.Attrs, opts.Compress, opts.Receiver, opts.Sender
	codec := z.Codec()
	if err := rsyncproto.CheckCompress(codec); err != nil {
		return nil, err
	}
	var chmod func(uint32) uint32
	if a.Chmod != "" {
		c, err := rsyncopts.ParseChmod(a.Chmod)
		if err != nil {
			return nil, fmt.Errorf("parse --chmod: %w", err)
		}
		chmod = c.Apply
	}
	return func(o *rsyncproto.Options) {
		o.NoLinks, o.NoPerms, o.NoTimes = a.NoLinks, a.NoPerms, a.NoTimes
		o.Executability = a.Executability
		o.Owner, o.Group = !a.NoOwner, !a.NoGroup
		o.Devices, o.Specials = !a.NoDevices, !a.NoSpecials
		o.HardLinks, o.ACLs, o.XAttrs, o.Sparse = a.HardLinks, a.ACLs, a.XAttrs, a.Sparse
		o.NumericIDs, o.Usermap, o.Groupmap = a.NumericIDs, a.Usermap, a.Groupmap
		o.Chmod = chmod
		o.Compress, o.CompressLevel, o.CompressLevelSet = codec, z.Level, z.LevelSet
		o.SkipCompress, o.SkipCompressSet = z.Skip, z.SkipSet
		wireReceiver(o, rv)
		o.HoldDeletes = opts.HoldDeletes
		o.BwLimit, o.WholeFile, o.SafeLinks = snd.BwLimitKiB(), snd.WholeFile, snd.SafeLinks
		o.RemoveSourceFiles, o.DeleteExcluded = snd.RemoveSourceFiles, snd.DeleteExcluded
		o.CopyLinks, o.CopyUnsafeLinks, o.CopyDirlinks = snd.CopyLinks, snd.CopyUnsafeLinks, snd.CopyDirlinks
		o.Checksum = o.Checksum || snd.Checksum
		o.MaxSize, o.MaxSizeSet = snd.Max(), snd.Max() >= 0
		o.MinSize, o.MinSizeSet = snd.Min(), snd.Min() >= 0
	}, nil
}

// wireReceiver sets the receiver-side options of an rsync push from rv
// (options.c:server_options sends them to the receiver).
func wireReceiver(o *rsyncproto.Options, rv rsyncopts.Receiver) {
	o.Backup, o.BackupDir, o.BackupSuffix = rv.Backups(), rv.BackupDir, rv.BackupSuffix()
	o.TempDir, o.Partial, o.PartialDir, o.DelayUpdates = rv.TempDir, rv.Partial, rv.PartialDir, rv.DelayUpdates
	o.Inplace, o.Append = rv.Inplace, rv.Append
	o.Update, o.Existing, o.IgnoreExisting = rv.Update, rv.Existing, rv.IgnoreExisting
	o.DeleteWhen = rv.DeleteWhen
	if (o.Backup || o.Append > 0) && o.IgnoreTimes {
		// A batch re-sends what changed even when size and mtime match
		// (-I); with backups, a file pushed twice would make its own
		// new content the backup, and with --append a file whose
		// attributes alone changed would be skipped whole (-I passes
		// over the quick check that sets them; the append check comes
		// after it, generator.c:recv_generator). With -c instead the
		// receiver skips a file whose content it has already, and sets
		// its attributes.
		o.IgnoreTimes, o.Checksum = false, true
	}
	o.OmitDirTimes, o.OmitLinkTimes, o.PruneEmptyDirs, o.Fsync = rv.OmitDirTimes, rv.OmitLinkTimes, rv.PruneEmptyDirs, rv.Fsync
	o.KeepDirlinks = rv.KeepDirlinks
}

// warnAttrsNotKept logs, once per push, that the receiver could not keep
// some attributes of entries whose data arrived (a file system without
// ACLs or xattrs, a receiver that may not chown): not retried, as rsync
// and lsyncd do not.
func warnAttrsNotKept(log *slog.Logger, res *rsyncproto.Result) {
	if res.AttrsNotKept > 0 {
		log.Warn("the receiver could not keep some attributes; the data arrived, these are not retried",
			"entries", res.AttrsNotKept, "first", res.AttrsNotKeptMsg)
	}
}
