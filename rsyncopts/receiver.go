package rsyncopts

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// Receiver holds rsync's receiver-side options as given: what the
// receiver does with the files it replaces, deletes or skips, and how it
// writes them, in options.c's semantics. The zero value is rsync's
// default. Receiver is comparable.
type Receiver struct {
	// Backup (-b, --backup) keeps each file the receiver replaces or
	// deletes, renamed with Suffix (options.c: make_backups); BackupDir
	// (--backup-dir, relative to the target) implies it.
	Backup    bool
	BackupDir string
	// Suffix is --suffix when SuffixSet; else "~" without a BackupDir,
	// "" with one (options.c: BACKUP_SUFFIX).
	Suffix    string
	SuffixSet bool
	// TempDir (-T, --temp-dir) is where the receiver writes a file
	// before it is renamed into place (relative to the target).
	TempDir string
	// Partial (--partial, -P) keeps a partly received file;
	// PartialDir (--partial-dir) keeps it there instead of in place.
	Partial    bool
	PartialDir string
	// Inplace (--inplace) writes updated files in place, without a
	// temporary file.
	Inplace bool
	// Append is 1 for --append (only data past the target file's length
	// is sent; a target file as long or longer is left alone), 2 for
	// --append-verify (the whole file's checksum is verified too, and a
	// mismatch sends it again in full). It implies Inplace.
	Append int
	// Update (-u) skips files that are newer on the target.
	Update bool
	// Existing (--existing, --ignore-non-existing) creates nothing new
	// on the target; IgnoreExisting (--ignore-existing) updates nothing
	// that exists there.
	Existing       bool
	IgnoreExisting bool
	// DelayUpdates (--delay-updates) puts every updated file into place
	// at the end of the transfer.
	DelayUpdates bool
	// DeleteWhen is when the receiver deletes, when it deletes: ""
	// (rsync's default), "before", "during", "delay" or "after"
	// (--delete-WHEN; each implies --delete in rsync, gsync's delete
	// mode still decides whether anything is deleted).
	DeleteWhen string
	// OmitDirTimes (-O) and OmitLinkTimes (-J) leave the mtimes of
	// directories and symlinks alone.
	OmitDirTimes  bool
	OmitLinkTimes bool
	// PruneEmptyDirs (-m) creates no directory that would stay empty.
	PruneEmptyDirs bool
	// Fsync (--fsync) fsyncs every file written.
	Fsync bool
	// KeepDirlinks (-K, --keep-dirlinks): a symlink on the target where
	// the source has a directory is treated as that directory, and
	// written into, not replaced (generator.c:recv_generator).
	KeepDirlinks bool
}

// receiverOptions are the option names Receiver.Set takes.
var receiverOptions = []string{"backup", "backup-dir", "suffix", "temp-dir", "partial", "P", "partial-dir",
	"inplace", "append", "append-verify", "update", "existing", "ignore-non-existing", "ignore-existing",
	"delay-updates", "delete-before", "delete-during", "del", "delete-delay", "delete-after",
	"omit-dir-times", "omit-link-times", "prune-empty-dirs", "fsync", "keep-dirlinks"}

// IsReceiver reports whether the option name is one of rsync's
// receiver-side options (Receiver.Set takes it).
func IsReceiver(name string) bool {
	for _, n := range receiverOptions {
		if n == name {
			return true
		}
	}
	return false
}

// Set applies one receiver option, later ones overriding earlier ones as
// in rsync (options.c:long_options and parse_arguments).
func (r *Receiver) Set(o Option) error {
	on := !o.No
	switch o.Name {
	case "backup":
		r.Backup = on
	case "backup-dir":
		r.BackupDir = o.Value
	case "suffix":
		r.Suffix, r.SuffixSet = o.Value, true
	case "temp-dir":
		r.TempDir = o.Value
	case "partial", "P":
		// -P is --partial --progress; the progress part has no effect.
		r.Partial = on
	case "partial-dir":
		r.PartialDir = o.Value
	case "inplace":
		r.Inplace = on
	case "append":
		if !on {
			r.Append = 0
		} else if r.Append < 2 {
			r.Append++ // options.c: a second --append is --append-verify
		}
	case "append-verify":
		r.Append = 2
	case "update":
		r.Update = on
	case "existing", "ignore-non-existing":
		r.Existing = on
	case "ignore-existing":
		r.IgnoreExisting = on
	case "delay-updates":
		r.DelayUpdates = on
	case "delete-before":
		r.DeleteWhen = "before"
	case "delete-during", "del":
		r.DeleteWhen = "during"
	case "delete-delay":
		r.DeleteWhen = "delay"
	case "delete-after":
		r.DeleteWhen = "after"
	case "omit-dir-times":
		r.OmitDirTimes = on
	case "omit-link-times":
		r.OmitLinkTimes = on
	case "prune-empty-dirs":
		r.PruneEmptyDirs = on
	case "fsync":
		r.Fsync = on
	case "keep-dirlinks":
		r.KeepDirlinks = on
	default:
		return fmt.Errorf("rsync option %s is not a receiver option", o.Word)
	}
	return nil
}

// Backups reports whether the receiver keeps backups (-b or
// --backup-dir).
func (r Receiver) Backups() bool { return r.Backup || r.BackupDir != "" }

// BackupSuffix is the suffix of backup names (options.c: "~" without a
// --backup-dir, "" with one, unless --suffix says otherwise).
func (r Receiver) BackupSuffix() string {
	switch {
	case r.SuffixSet:
		return r.Suffix
	case r.BackupDir != "":
		return ""
	}
	return "~"
}

// InplaceWrites reports whether files are written in place (--inplace,
// or --append, which implies it).
func (r Receiver) InplaceWrites() bool { return r.Inplace || r.Append > 0 }

// DirTimesOmitted reports whether the receiver leaves directory mtimes
// alone: -O, or -b without --backup-dir (options.c: omit_dir_times = -1,
// "implied", which is not sent as -O).
func (r Receiver) DirTimesOmitted() bool {
	return r.OmitDirTimes || r.Backups() && r.BackupDir == ""
}

// Check applies rsync's checks of these options after parsing
// (options.c:parse_arguments), so that a bad combination is an error at
// startup.
func (r Receiver) Check() error {
	if strings.ContainsRune(r.BackupSuffix(), '/') {
		return fmt.Errorf("--suffix cannot contain slashes: %s", r.Suffix)
	}
	if r.Backups() && r.BackupDir == "" && r.BackupSuffix() == "" {
		return errors.New("--suffix cannot be empty without a --backup-dir")
	}
	if r.InplaceWrites() && (r.PartialDir != "" || r.DelayUpdates) {
		what, with := "inplace", "partial-dir"
		if r.Append > 0 {
			what = "append"
		}
		if r.DelayUpdates {
			with = "delay-updates"
		}
		return fmt.Errorf("--%s cannot be used with --%s", what, with)
	}
	for _, p := range []struct{ name, v string }{{"backup-dir", r.BackupDir}, {"temp-dir", r.TempDir}, {"partial-dir", r.PartialDir}} {
		if strings.IndexByte(p.v, 0) >= 0 {
			return fmt.Errorf("--%s contains a NUL byte", p.name)
		}
	}
	return nil
}

// receiverFlags are the receiver options on gsync's command line.
var receiverFlags = []struct {
	long, short, usage string
	valued, hidden     bool
}{
	{"backup", "b", "keep each file a target replaces or deletes, renamed with the --suffix (rsync -b)", false, false},
	{"backup-dir", "", "keep backups in `DIR` (relative to the target, or absolute; implies --backup)", true, false},
	{"suffix", "", "backup `SUFFIX` (default ~, or none with --backup-dir)", true, false},
	{"temp-dir", "T", "write files into `DIR` (relative to the target) before they are renamed into place", true, false},
	{"partial", "", "keep a partly received file (an interrupted copy) in place of the target file", false, false},
	{"P", "P", "same as --partial", false, true},
	{"partial-dir", "", "keep partly received files in `DIR` (relative to their directory, or absolute)", true, false},
	{"inplace", "", "write updated files in place, without a temporary file", false, false},
	{"append", "", "send only data past the target file's length; a target file as long is left alone", false, false},
	{"append-verify", "", "like --append, and check the whole file's checksum (resend it when it differs)", false, false},
	{"update", "u", "skip files that are newer on the target", false, false},
	{"existing", "", "create nothing new on the target, only update what is there", false, false},
	{"ignore-non-existing", "", "same as --existing", false, true},
	{"ignore-existing", "", "update nothing that exists on the target, only create", false, false},
	{"delay-updates", "", "put updated files into place at the end of each push (they wait in .~tmp~ or the --partial-dir)", false, false},
	{"delete-before", "", "deletes go before the transfer (when gsync deletes, see --delete)", false, false},
	{"delete-during", "", "deletes go during the transfer (rsync's default)", false, false},
	{"delete-delay", "", "deletes are found during the transfer and done after it", false, false},
	{"delete-after", "", "deletes go after the transfer", false, false},
	{"omit-dir-times", "O", "leave the mtimes of directories alone", false, false},
	{"omit-link-times", "J", "leave the mtimes of symlinks alone", false, false},
	{"prune-empty-dirs", "m", "create no directory without a file below it (see README: Receiver options)", false, false},
	{"fsync", "", "fsync every file written (rsync 3.2.4 and newer on the target)", false, false},
	{"keep-dirlinks", "K", "a symlink to a directory on the target where SRC has a directory is used as that directory", false, false},
}

// receiverValue is a flag.Value applying its option to a Receiver as the
// flag is parsed, so that later flags win as in rsync.
type receiverValue struct {
	r      *Receiver
	opt    Option
	valued bool
}

func (v *receiverValue) String() string { return "" }

func (v *receiverValue) Set(s string) error {
	o := v.opt
	if v.valued {
		o.Value = s
	} else if s != "true" {
		return fmt.Errorf("takes no value")
	}
	return v.r.Set(o)
}

func (v *receiverValue) Type() string {
	if v.valued {
		return "string"
	}
	return "bool"
}

// RegisterReceiverFlags adds rsync's receiver options to f; each applies
// to r as it is parsed.
func RegisterReceiverFlags(f *pflag.FlagSet, r *Receiver) {
	for _, rf := range receiverFlags {
		v := &receiverValue{r: r, opt: Option{Name: rf.long, Kind: Setting, Word: "--" + rf.long}, valued: rf.valued}
		fl := f.VarPF(v, rf.long, rf.short, rf.usage)
		if !rf.valued {
			fl.NoOptDefVal = "true"
		}
		fl.Hidden = rf.hidden
	}
}

// LongName is the long name of rsync's one-letter option c ("" when
// gsync does not know it), to name an option a peer refused as it was
// sent (-m) in the spelling a user is more likely to have written.
func LongName(c byte) string {
	if s, ok := shortSpec(c); ok && len(s.long) > 1 {
		return s.long
	}
	for _, rf := range receiverFlags {
		if len(rf.short) == 1 && rf.short[0] == c && len(rf.long) > 1 {
			return rf.long
		}
	}
	return ""
}
