// Package transport applies batches of changes to a mirror target: a local
// directory, an rsync daemon module, or a directory over ssh.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/rsyncopts"
)

// Change is one entry of a batch. Paths are slash-separated, relative to the
// source root, never empty.
type Change struct {
	// Op is what happened to Path. Targets are state-based: every Op but
	// Move makes the path equal to the source as it is now (Delete too:
	// a path that exists again is sent); Move renames From to Path where
	// the target can, and is sent like a Create where it cannot.
	Op    change.Op
	Path  string
	From  string // Move only
	IsDir bool
	// Recursive asks for the whole subtree of a directory to be mirrored,
	// deleting target entries below it that the source lacks (subject to the
	// delete mode). Without it a directory is sent without its contents.
	Recursive bool
}

// DeleteMode says when a target may delete files (lsyncd's delete option).
type DeleteMode uint8

// Delete modes.
const (
	DeleteAlways  DeleteMode = iota // startup and running (lsyncd: true)
	DeleteNever                     // never (false)
	DeleteStartup                   // only during full syncs ('startup')
	DeleteRunning                   // only for batches ('running')
)

// Full reports whether deletes are allowed during a full sync.
func (m DeleteMode) Full() bool { return m == DeleteAlways || m == DeleteStartup }

// Running reports whether deletes are allowed for event batches.
func (m DeleteMode) Running() bool { return m == DeleteAlways || m == DeleteRunning }

// Options are shared by all targets.
type Options struct {
	// Source is the absolute path of the source root directory.
	Source string
	// Delete says when deletions are allowed.
	Delete DeleteMode
	// Exclude reports whether a relative path is excluded, itself or
	// because a parent directory is (filter.Set.Excluded keeps this
	// contract): targets ask once per path, never again for each parent.
	// Excluded paths are neither sent nor deleted on the target. Nil
	// excludes nothing.
	Exclude func(rel string, isDir bool) bool
	// Protect, if set, reports whether a target entry that the source
	// lacks or does not send is kept when the local and ssh targets
	// delete (filter.Set.Protected: rsync's receiver-side rules, P and
	// R, decide there, its sender-only rules, H and S, do not). Nil:
	// Exclude decides.
	Protect func(rel string, isDir bool) bool
	// ProtectInside, if set, decides instead of Protect for the entries
	// inside a target directory that the local and ssh targets delete
	// (filter.Set.ProtectedInside: rsync's perishable rules do not keep
	// them there).
	ProtectInside func(rel string, isDir bool) bool
	// XattrExclude, if set, is rsync's filter rules with the x modifier
	// on the sender's side (filter.Set.XattrExcluded): with -X, the
	// xattr names of the entry rel that are not sent. ruled false means
	// no x rule was given: rsync's default applies (the system
	// namespace is not sent). Daemon and ssh targets send the rules
	// themselves to the receiver with the others (their ExcludeRules).
	XattrExclude func(rel, name string) (excluded, ruled bool)
	// XattrProtect, if set, is the x rules of the receiver's side
	// (filter.Set.XattrProtected): the xattr names of the target entry
	// rel that a local target neither sets nor removes.
	XattrProtect func(rel, name string) (protected, ruled bool)
	// DryRun reports what would be done without changing the target.
	DryRun bool
	// HoldDeletes: the pushes of this target delete nothing, not even
	// the contents of a directory in the way of a new file, symlink or
	// device; the entry in the way itself goes when it is a
	// non-directory or an empty directory (rsync's receiver at its
	// --max-delete limit, delete.c:delete_item). For the pushes whose
	// deletions gsync's --max-delete holds back (with Delete
	// DeleteNever).
	HoldDeletes bool
	// Attrs are the attributes kept on the target (the zero value is
	// rsync -a's set), validated by the caller (rsyncopts.Attrs.Check).
	Attrs rsyncopts.Attrs
	// Compress is rsync's compression of file data (-z and its
	// options) for daemon and ssh targets; a local target has no wire
	// and ignores it.
	Compress rsyncopts.Compress
	// Receiver are rsync's receiver-side options (--backup, --update,
	// --inplace, ...), validated by the caller (rsyncopts.Receiver.Check):
	// daemon and ssh targets pass them to the remote receiver, the local
	// target applies them itself.
	Receiver rsyncopts.Receiver
	// Sender holds rsync's sender-side options (--bwlimit, -c, -W,
	// --max-size, --min-size, --safe-links): rsync targets pass them to
	// the receiver and limit their stream; a local target applies them
	// itself (it always copies whole files).
	Sender rsyncopts.Sender
	// OneFileSystem (rsync -x): walks of the source stay on the source
	// root's file system; a mount point is mirrored as an empty
	// directory, and nothing is deleted below it on the target.
	OneFileSystem bool
	// Progress, if set, is called as each file's data has been written or
	// sent, with its path relative to the source and its size.
	Progress func(rel string, size int64)
	// Listed, if set, is called as entries are listed for a push, with
	// how many (rsync targets: per file list sent).
	Listed func(entries int)
	// Logger receives per-file diagnostics. It should already name the
	// target (a "target" attribute): the target adds none of its own, so
	// that each attribute appears once. Nil means slog.Default() with a
	// "target" attribute holding the target's String().
	Logger *slog.Logger
}

// xattrFilterUnder returns f for the entries of a push rooted at the
// source directory sub ("." the source root).
func xattrFilterUnder(f func(rel, name string) (bool, bool), sub string) func(rel, name string) (bool, bool) {
	if f == nil || sub == "." || sub == "" {
		return f
	}
	return func(rel, name string) (bool, bool) { return f(path.Join(sub, rel), name) }
}

// Stats summarise one push.
type Stats struct {
	Files   int   // entries created or updated on the target
	Deleted int   // entries deleted on the target
	Renamed int   // renames done on the target
	Bytes   int64 // bytes of file data written or sent
	// Failed lists paths that could not be mirrored; they should be retried
	// later. A push with failures still returns a nil error.
	Failed []FileError
	// Removed lists the source files removed once the target had them
	// (Options.Sender.RemoveSourceFiles), relative to the source root:
	// their deletion at the source is gsync's own, not a change to
	// mirror.
	Removed []string
}

// FileError is a per-file failure.
type FileError struct {
	Path string
	Err  error
}

func (e FileError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }

// Target is a mirror destination. A Target is used by one goroutine at a time.
type Target interface {
	// FullSync makes the whole target tree equal to the source (startup,
	// inotify overflow, SIGHUP). It uses quick-check semantics: files whose
	// size and mtime match are skipped.
	FullSync(ctx context.Context) (Stats, error)
	// Push applies one batch: first every Rename in order (falling back to a
	// transfer of the destination and a delete of the source when the rename
	// fails), then every other path is made equal to the source as it is now:
	// sent if it exists (always re-sent, never skipped by a quick check),
	// deleted if it does not. Parent directories of listed paths are created
	// as needed and get the source's attributes; unlisted paths are never
	// touched.
	Push(ctx context.Context, changes []Change) (Stats, error)
	// String names the target for logs, e.g. "/mnt/backup" or "host::module".
	String() string
	// Close releases connections.
	Close() error
}

// ErrDeleteLimit marks a push that the receiver stopped deleting in
// because it reached --max-delete (rsync exit 25): not worth a retry
// until the limit is raised or the source is fixed.
var ErrDeleteLimit = errors.New("deletions stopped at the --max-delete limit")

// Error wraps a target failure with its retry class.
type Error struct {
	Transient bool // worth retrying later (network, remote temporarily failing)
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Transient marks err as worth retrying.
func Transient(err error) error { return &Error{Transient: true, Err: err} }

// Fatal marks err as not worth retrying (configuration, protocol errors).
func Fatal(err error) error { return &Error{Transient: false, Err: err} }

// IsTransient reports whether err is worth retrying. Errors that carry no
// class are treated as transient: losing data is worse than a retry.
func IsTransient(err error) bool {
	var te *Error
	if errors.As(err, &te) {
		return te.Transient
	}
	return err != nil
}

// String returns lsyncd's name of m: true, false, startup or running.
func (m DeleteMode) String() string {
	switch m {
	case DeleteNever:
		return "false"
	case DeleteStartup:
		return "startup"
	case DeleteRunning:
		return "running"
	}
	return "true"
}

// MarshalText returns m.String().
func (m DeleteMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses lsyncd's delete option: true, false, startup or
// running (also yes/no, on/off, 1/0), case-insensitive.
func (m *DeleteMode) UnmarshalText(b []byte) error {
	switch s := string(b); strings.ToLower(s) {
	case "true", "yes", "1", "on":
		*m = DeleteAlways
	case "false", "no", "0", "off":
		*m = DeleteNever
	case "startup":
		*m = DeleteStartup
	case "running":
		*m = DeleteRunning
	default:
		return fmt.Errorf("invalid delete mode %q: want true, false, startup or running", s)
	}
	return nil
}

// rulesNeeded reports whether a remote receiver needs rsync rules
// equivalent to Exclude to keep excluded paths when it deletes: with
// --delete-excluded it deletes them anyway (only receiver-side rules,
// which may be none, still protect).
func (o Options) rulesNeeded() bool { return o.Exclude != nil && !o.Sender.DeleteExcluded }

// protect returns what decides which target entries a delete keeps
// (Options.Protect, else Options.Exclude).
func (o Options) protect() func(rel string, isDir bool) bool {
	if o.Protect != nil {
		return o.Protect
	}
	return o.Exclude
}

// hidden returns what tells a delete that an entry the source has is not
// sent: Options.Exclude when Options.Protect is set (rsync's rules, whose
// sides differ), else nil (the excluded entries are kept anyway).
func (o Options) hidden() func(rel string, isDir bool) bool {
	if o.Protect == nil {
		return nil
	}
	return o.Exclude
}
