package rsyncproto

import (
	"errors"
	"fmt"
	"time"
)

// followsLinks reports whether the sender follows some symlinks (-L,
// --copy-unsafe-links, -k).
func (o *Options) followsLinks() bool { return o.CopyLinks || o.CopyUnsafeLinks || o.CopyDirlinks }

// Options are what the user asked for. They map onto the server argv
// (ServerArgs) and the sender's own behaviour.
type Options struct {
	Delete      bool // --delete, scoped to the listed paths (see Request)
	IgnoreTimes bool // -I: the receiver must not skip same-size same-mtime files
	DryRun      bool // -n
	Checksum    bool // -c
	HardLinks   bool // -H
	Owner       bool // -o
	Group       bool // -g
	Devices     bool // --devices (rsync's -D is Devices and Specials)
	Specials    bool // --specials: FIFOs and sockets
	NumericIDs  bool // --numeric-ids
	// NoLinks, NoPerms and NoTimes turn off what every push otherwise
	// keeps (rsync's --no-l, --no-p, --no-t): without -l symlinks are
	// listed without their target and the receiver skips them; without
	// -p the receiver keeps its own modes (new files: the source's mode
	// less its umask); without -t mtimes are not set.
	NoLinks bool
	NoPerms bool
	NoTimes bool
	// HoldDeletes asks the receiver to delete nothing, not even the
	// contents of a directory in the way of a new non-directory (rsync's
	// --max-delete=0, delete.c:delete_item: only the entry in the way
	// itself, a file or an empty directory, is exempt): for the pushes
	// whose deletions gsync's --max-delete holds back.
	HoldDeletes bool
	// Executability (-E) asks a receiver that keeps no modes (NoPerms)
	// to keep whether regular files are executable.
	Executability bool
	ACLs          bool // -A: POSIX ACLs (protocol 30 or newer)
	XAttrs        bool // -X: extended attributes (protocol 30 or newer)
	Sparse        bool // -S: the receiver writes runs of zeros as holes
	// XattrFilter, if set, is asked for each xattr name of each listed
	// entry (rel as for Exclude) with -X: rsync's filter rules with the
	// x modifier (filter.Set.XattrExcluded). When it rules, it alone
	// decides which names are sent (excluded ones are not); when it
	// does not (no x rule was given), the system namespace is left out
	// (xattrs.c:rsync_xal_get). The rules themselves reach the
	// receiver in ExcludeRules.
	XattrFilter func(rel, name string) (excluded, ruled bool)
	// Usermap and Groupmap are rsync's --usermap and --groupmap, applied
	// by the receiver ("FROM:TO,..."; --chown=USER:GROUP is "*:USER" and
	// "*:GROUP").
	Usermap  string
	Groupmap string
	// Chmod, if set, maps the mode of each listed entry that is not a
	// symlink, as rsync --chmod does on the sending side
	// (flist.c:send_file_name). It gets and returns the whole st_mode.
	Chmod func(mode uint32) uint32
	// OneFileSystem (rsync -x) keeps the file list on the source root's
	// file system: a directory on another device (a mount point) is
	// listed, as a directory without contents (the receiver does not
	// delete inside it at protocol >= 30), but nothing below it is, and
	// listed paths below it are left alone.
	OneFileSystem bool
	// IncRecurse offers the receiver incremental recursion (protocol 30
	// and newer, rsync's default): the file list of a whole-tree push
	// (the only path is "." recursive) goes out directory by directory
	// while file data already flows, and the sender forgets each
	// directory's entries once the receiver is done with them
	// (flist.c:send_extra_file_list). A receiver that declines it gets
	// the whole list at once.
	IncRecurse bool
	// Compress compresses file data on the wire (rsync -z): "" sends it
	// plain; CompressAuto negotiates the codec with peers that can
	// (protocol 30 and newer with rsync 3.2's capability flags,
	// compat.c:negotiate_the_strings) and uses classic zlib with the
	// others; CompressZstd, CompressLZ4, CompressZlibx or CompressZlib
	// ask for one (--compress-choice), which the peer must have.
	Compress string
	// CompressLevel is rsync's --compress-level, sent to the receiver
	// and used by the sender when CompressLevelSet (token.c:
	// init_compression_level clamps it to the codec's range; level 0
	// turns zlib and zlibx off on both sides, and means the default
	// for zstd; lz4 has no levels).
	CompressLevel    int
	CompressLevelSet bool
	// SkipCompress is rsync's --skip-compress list ("gz/jpg/mp[34]")
	// when SkipCompressSet, else rsync's default list: files with such a
	// suffix are sent as stored (uncompressed) deflate blocks with zlib
	// and zlibx. zstd and lz4 compress every file, as rsync does (their
	// level cannot change within the session's stream).
	SkipCompress    string
	SkipCompressSet bool
	// Receiver-side options (rsync's options.c:server_options sends
	// them to the receiver, which acts on them; rsyncopts.Receiver holds
	// them as given).
	//
	// Backup (-b) keeps what the receiver replaces or deletes, in
	// BackupDir (--backup-dir, relative to the destination; "" = next to
	// the file) with BackupSuffix (the suffix in effect: "~" by default
	// without a BackupDir, "" with one; --suffix is sent when it differs).
	// Without a BackupDir, a deleting push protects "*"+BackupSuffix from
	// deletion, as rsync's client does (options.c: "P *~").
	Backup       bool
	BackupDir    string
	BackupSuffix string
	// TempDir (-T) is where the receiver writes files before renaming
	// them into place.
	TempDir string
	// Partial (--partial), PartialDir (--partial-dir) and DelayUpdates
	// (--delay-updates) are sent as rsync sends them.
	Partial      bool
	PartialDir   string
	DelayUpdates bool
	// Inplace (--inplace): the receiver updates its file in place, so
	// the sender matches no block at an offset it has already written
	// (match.c:hash_search, updating_basis_file).
	Inplace bool
	// Append is 1 for --append, 2 for --append-verify: the receiver
	// asks only for data past its file's length, and the sender sends
	// only that (sender.c:receive_sums, match.c:match_sums); with 2 the
	// file checksum covers the whole file and a mismatch is resent in
	// full in the redo phase.
	Append int
	// Update (-u), Existing (--existing), IgnoreExisting
	// (--ignore-existing): files the receiver skips.
	Update         bool
	Existing       bool
	IgnoreExisting bool
	// DeleteWhen is "before", "during", "delay" or "after" to send
	// --delete-WHEN instead of --delete ("" = --delete).
	DeleteWhen string
	// OmitDirTimes (-O), OmitLinkTimes (-J), PruneEmptyDirs (-m), Fsync
	// (--fsync, rsync 3.2.4 and newer).
	OmitDirTimes   bool
	OmitLinkTimes  bool
	PruneEmptyDirs bool
	Fsync          bool

	// Sender-side options (rsync's -c is Checksum above).
	//
	// BwLimit is rsync's --bwlimit in KiB per second (0: none): the
	// stream we write goes through a token bucket (io.c:
	// sleep_for_bwlimit), and the receiver gets the option too.
	BwLimit int
	// WholeFile (-W) asks the receiver for no block checksums: file data
	// goes out as literal data only (generator.c: whole_file).
	WholeFile bool
	// MaxSize and MinSize, when MaxSizeSet / MinSizeSet, are --max-size
	// and --min-size in bytes, passed to the receiver, whose generator
	// skips regular files outside them (generator.c:recv_generator).
	MaxSize, MinSize       int64
	MaxSizeSet, MinSizeSet bool
	// SafeLinks (--safe-links): the receiver ignores symlinks that are
	// absolute or point out of the tree (generator.c, unsafe_symlink).
	SafeLinks bool
	// CopyLinks (-L), CopyUnsafeLinks (--copy-unsafe-links) and
	// CopyDirlinks (-k) make the sender list a symlink under the root as
	// what it points to (flist.c:readlink_stat, link_stat): every link,
	// the links that point out of the tree (util1.c:unsafe_symlink), or
	// the links to directories; a followed link to a directory is walked.
	// The referent is resolved as stat(2) does, then opened from "/"
	// without following a symlink, and must still be the listed file
	// (device and inode) when its data is read (beneath.Links). A link
	// -L or --copy-unsafe-links cannot follow is a general error
	// ("symlink has no referent"); a followed directory that is one of
	// its own parents (device and inode) is left out with ErrSymlinkLoop.
	CopyLinks       bool
	CopyUnsafeLinks bool
	CopyDirlinks    bool
	// KeepDirlinks (-K) is sent to the receiver, which treats a symlink
	// to a directory where the sender has a directory as that directory
	// (generator.c:recv_generator).
	KeepDirlinks bool
	// RemoveSourceFiles (--remove-source-files): each regular file the
	// receiver confirms (MSG_SUCCESS: sent, or already up to date) is
	// removed from the source when it still is the listed file with the
	// listed size and mtime (sender.c:successful_send); Result.Removed
	// names them. The push then offers no incremental recursion.
	RemoveSourceFiles bool
	// DeleteExcluded (--delete-excluded, with Delete): the receiver
	// deletes excluded paths too; ExcludeRules then hold only the
	// receiver-side rules that still protect (P, R, the r modifier:
	// exclude.c:send_rules), and Exclude still keeps excluded paths
	// from being sent.
	DeleteExcluded bool

	// ExcludeRules are rsync filter rules sent to the receiver so that
	// --delete never removes paths the user excluded, e.g. "- *.tmp".
	// They protect what lies below the listed paths; a listed path itself
	// is kept from deletion by Exclude, which must agree with them.
	ExcludeRules []string
	// Exclude, if set, is asked for every path found while walking a
	// recursive directory (and for every listed path); excluded paths are not
	// sent. It answers for parents too: a path below an excluded directory
	// is excluded (a walk never enters one, but a listed path is asked
	// once, not once per parent). It should agree with ExcludeRules.
	Exclude func(rel string, isDir bool) bool
	// Timeout stops a transfer when no byte moved for this long (0 = none).
	Timeout time.Duration
	// MaxProtocol caps the protocol version we advertise (0 = 32).
	MaxProtocol int
	// Progress, if set, is called after the data of each file was sent,
	// with its name (relative to the root) and size.
	Progress func(name string, size int64)
	// Listed, if set, is called with the number of entries each file
	// list sent held (once for a whole list, once per directory with
	// incremental recursion).
	Listed func(entries int)
	// Itemize, if set, receives each entry the receiver reports it changes
	// or deletes (rsync -i; with DryRun: would change), see Item. It is
	// called from two goroutines (deletions arrive as messages), one at
	// a time each: the callee must be safe for that. Needs protocol 29.
	Itemize func(Item)
	// Warn, if set, receives warnings and server messages as they arrive.
	// They are also collected in Result.Warnings.
	Warn func(msg string)
	// PeerScopesDeletes: the peer is known to honour the filter list
	// when it deletes even below protocol 29 (openrsync does; gokrazy/rsync
	// does not), so a scoped delete is sent at any protocol.
	PeerScopesDeletes bool
	// HelloSent: the caller already wrote ServerHello(MaxProtocol) to the
	// stream of PushServer (a server started ahead of time).
	HelloSent bool
}

// Path is one path of a push, relative to Request.Root ("." is the root).
type Path struct {
	Name string
	// Recursive sends the whole subtree of a directory; with Delete the
	// receiver deletes entries below it that the source lacks.
	Recursive bool
}

// Request describes one push.
type Request struct {
	Root  string // local source directory
	Paths []Path
	// Options for this push.
	Options Options
	// Dest is the remote directory. For a daemon it starts with the module
	// name ("module" or "module/sub"; empty means the module root). For a
	// remote shell it is the directory argument of rsync --server.
	Dest string
}

// Result reports one push. A push with per-file failures still returns a
// Result and a nil error; ExitCode then says 23 or 24 like rsync would.
type Result struct {
	Protocol     int    // negotiated protocol version
	Checksum     string // negotiated checksum algorithm
	Compress     string // compression of file data ("" for none)
	IncRecurse   bool   // the file list went out incrementally
	Files        int    // regular files whose data was sent
	Deleted      int    // entries the receiver reported as deleted
	LiteralBytes int64  // file data sent as literal bytes
	MatchedBytes int64  // file data reconstructed from the receiver's basis
	BytesWritten int64  // bytes written to the connection
	BytesRead    int64  // bytes read from the connection
	// Removed lists the source files removed after the receiver
	// confirmed them (Options.RemoveSourceFiles), relative to the root.
	Removed []string
	// Failed lists paths that did not arrive (or arrived changed); retry them.
	Failed   []FileError
	ExitCode int // rsync-style exit code of the run (0, 23, 24, ...)
	// AttrsNotKept counts the receiver's messages that it could not set
	// an attribute (ACL, xattr, owner, mode, mtime) of an entry whose
	// data did arrive; AttrsNotKeptMsg is the first, escaped. They are
	// not in Failed: a retry would not help (a file system without
	// ACLs, a receiver that may not chown), so they are warnings, as
	// for lsyncd, which takes rsync's exit 23 as done.
	AttrsNotKept    int
	AttrsNotKeptMsg string
	Warnings        []string // messages from the receiver and the sender
	// DeletesSkipped: deletion was asked for, and the receiver skipped it
	// because the session had I/O errors (an unreadable file; below
	// protocol 29 also a vanished one). The deletions may not have
	// happened: retry them.
	DeletesSkipped bool

	names *nameSet // listed paths, to attribute remote messages
}

// FileError is a per-path failure.
type FileError struct {
	Path string
	Err  error
}

func (e FileError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }

// Per-file error causes, usable with errors.Is on FileError.Err.
var (
	// ErrVanished: the file disappeared before its data could be sent.
	ErrVanished = errors.New("file vanished")
	// ErrSymlinkLoop: a directory reached through a followed symlink
	// (-L, --copy-unsafe-links, -k) is one of its own parent directories
	// (same device and inode); it is left out, not walked again.
	ErrSymlinkLoop = errors.New("symlink loop: the directory it leads to contains the link")
	// ErrChanged: the file changed while it was being sent.
	ErrChanged = errors.New("file changed while being sent")
	// ErrDeletesSkipped: the receiver skipped its deletions in this
	// session because of I/O errors (see Result.DeletesSkipped).
	ErrDeletesSkipped = errors.New("receiver skipped deletions after an I/O error")
	// ErrReceiver: the receiver reported an error for this path.
	ErrReceiver = errors.New("receiver error")
	// ErrScopedDeleteUnsupported: the peer cannot scope --delete by filter
	// rules (protocol < 29, gokrazy/rsync); push the parent directory
	// recursively instead.
	ErrScopedDeleteUnsupported = errors.New("peer cannot scope --delete to listed paths")
)

// ErrAttrsProtocol marks the refusal of -A or -X at a protocol below 30
// (compat.c:setup_protocol); the error is also an *ExitError (exit 2).
var ErrAttrsProtocol = errors.New("ACLs and xattrs need rsync protocol 30 or newer")

// ExitError is a failed session with rsync's exit code.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("rsync exit %d (%s)", e.Code, CodeName(e.Code))
	}
	return fmt.Sprintf("%s (rsync exit %d: %s)", e.Msg, e.Code, CodeName(e.Code))
}

// Exit codes (errcode.h).
const (
	ExitOK          = 0
	ExitSyntax      = 1
	ExitProtocol    = 2
	ExitFileSelect  = 3
	ExitUnsupported = 4
	ExitStartClient = 5
	ExitSocketIO    = 10
	ExitFileIO      = 11
	ExitStreamIO    = 12
	ExitPartial     = 23
	ExitVanished    = 24
	ExitDelLimit    = 25
	ExitTimeout     = 30
	ExitConnTimeout = 35
)

// CodeName describes an rsync exit code (log.c:rerr_names).
func CodeName(code int) string {
	switch code {
	case 0:
		return "success"
	case 1:
		return "syntax or usage error"
	case 2:
		return "protocol incompatibility"
	case 3:
		return "errors selecting input/output files, dirs"
	case 4:
		return "requested action not supported"
	case 5:
		return "error starting client-server protocol"
	case 6:
		return "daemon unable to append to log-file"
	case 10:
		return "error in socket IO"
	case 11:
		return "error in file IO"
	case 12:
		return "error in rsync protocol data stream"
	case 13:
		return "errors with program diagnostics"
	case 14:
		return "error in IPC code"
	case 15:
		return "sibling process crashed"
	case 16:
		return "sibling process terminated abnormally"
	case 19:
		return "received SIGUSR1"
	case 20:
		return "received SIGINT, SIGTERM, or SIGHUP"
	case 21:
		return "waitpid() failed"
	case 22:
		return "error allocating core memory buffers"
	case 23:
		return "some files/attrs were not transferred"
	case 24:
		return "some files vanished before they could be transferred"
	case 25:
		return "the --max-delete limit stopped deletions"
	case 30:
		return "timeout in data send/receive"
	case 35:
		return "timeout waiting for daemon connection"
	case 124:
		return "remote shell failed"
	case 125:
		return "remote shell killed"
	case 126:
		return "remote command could not be run"
	case 127:
		return "remote command not found"
	}
	return fmt.Sprintf("unexplained error (code %d)", code)
}
