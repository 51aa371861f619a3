package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/rsyncproto"
)

// parentDirs yields the parent directories of rel, top down: "a" and
// "a/b" for "a/b/c".
func parentDirs(rel string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < len(rel); i++ {
			if rel[i] == '/' && !yield(rel[:i]) {
				return
			}
		}
	}
}

// pathless returns the cause of err when err is an *fs.PathError about p,
// for messages that name p already.
func pathless(err error, p string) error {
	if pe, ok := err.(*fs.PathError); ok && pe.Path == p {
		return pe.Err
	}
	return err
}

// targetLogger is the logger of the target named name: opts.Logger as
// given (the caller has named the target in it), else slog.Default() with a
// "target" attribute.
func targetLogger(opts Options, name string) *slog.Logger {
	if opts.Logger != nil {
		return opts.Logger
	}
	return slog.Default().With("target", name)
}

// pathSet is an ordered set of the paths of one push: a path added again
// keeps its first place and becomes recursive when either addition is.
// Names are taken as given ("." is the root).
type pathSet struct {
	list []rsyncproto.Path
	idx  map[string]int
}

func (p *pathSet) add(name string, rec bool) {
	if p.idx == nil {
		p.idx = map[string]int{}
	}
	if i, ok := p.idx[name]; ok {
		p.list[i].Recursive = p.list[i].Recursive || rec
		return
	}
	p.idx[name] = len(p.list)
	p.list = append(p.list, rsyncproto.Path{Name: name, Recursive: rec})
}

// receiverScopesDeletes reports whether an rsync receiver speaking at most
// protocol proto (0 = rsyncproto.MaxProtocol) can be left to delete: it
// must confine deletes to the listed paths and keep excluded target paths,
// both by the filter list, so it needs a protocol that honours filter
// rules when deleting and, with excludes, rules equivalent to them.
func receiverScopesDeletes(opts Options, rules []string, proto int) bool {
	if proto == 0 {
		proto = rsyncproto.MaxProtocol
	}
	return rsyncproto.ScopesDeletes(proto) && (!opts.rulesNeeded() || len(rules) > 0)
}

// excludedPath reports whether rel (slash-separated, relative to the source
// root) is excluded by ex, which answers for parents too (Options.Exclude).
// The root is never excluded.
func excludedPath(ex func(rel string, isDir bool) bool, rel string, isDir bool) bool {
	return ex != nil && rel != change.Root && ex(rel, isDir)
}

// lstatBelow stats rel below root without following a symlink in any
// component (internal/beneath): a path below a symlink or a file does not
// exist.
func lstatBelow(root, rel string) (fs.FileInfo, error) {
	r, err := beneath.Open(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Lstat(rel)
}

// fullSyncSkippedDeletes takes out of a full sync's result the failures
// that only say the receiver skipped its deletions (an unreadable file,
// see rsyncproto.ErrDeletesSkipped): retrying "." would resend the whole
// tree, so they are logged, and the next full sync deletes. rsync itself
// does the same.
func fullSyncSkippedDeletes(st Stats, log *slog.Logger) Stats {
	kept := st.Failed[:0:0]
	skipped := false
	for _, f := range st.Failed {
		if errors.Is(f.Err, rsyncproto.ErrDeletesSkipped) {
			skipped = true
			continue
		}
		kept = append(kept, f)
	}
	if skipped {
		log.Warn("the receiver skipped this full sync's deletions after an I/O error (see the unreadable paths above); the next full sync deletes")
	}
	st.Failed = kept
	return st
}

// retrySkippedDeletes handles a batch whose receiver skipped its deletions
// (rsyncproto.ErrDeletesSkipped: an unreadable file in the same session).
// The listed paths missing at the source are deleted again by again, in a
// session of their own that reads no file data, so one unreadable file
// does not hold back the deletions of every batch it is retried with.
// Skipped deletions inside recursive directories stay failed (retried).
func retrySkippedDeletes(st Stats, src string, again func([]rsyncproto.Path) (Stats, error)) (Stats, error) {
	var gone []rsyncproto.Path
	kept := st.Failed[:0:0]
	root, err := beneath.Open(src)
	if err != nil {
		return st, Transient(fmt.Errorf("open source %s: %w", src, pathless(err, src)))
	}
	defer root.Close()
	for _, f := range st.Failed {
		if errors.Is(f.Err, rsyncproto.ErrDeletesSkipped) {
			if _, err := root.Lstat(f.Path); isNotExist(err) {
				gone = append(gone, rsyncproto.Path{Name: f.Path})
				continue
			}
		}
		kept = append(kept, f)
	}
	if len(gone) == 0 {
		return st, nil
	}
	st.Failed = kept
	more, err := again(gone)
	more.Files = 0 // nothing but deletions: counted once
	return st.Add(more), err
}

// Add sums two push results: the counts, the failures and the source
// files removed.
func (s Stats) Add(o Stats) Stats {
	s.Files += o.Files
	s.Deleted += o.Deleted
	s.Renamed += o.Renamed
	s.Bytes += o.Bytes
	s.Failed = append(s.Failed, o.Failed...)
	s.Removed = append(s.Removed, o.Removed...)
	return s
}

// absSource checks that opts names a source directory and makes its path
// absolute; kind names the target in the error ("local", "ssh", ...).
func absSource(kind string, opts Options) (Options, error) {
	if opts.Source == "" {
		return opts, Fatal(fmt.Errorf("create %s target: no source directory", kind))
	}
	src, err := filepath.Abs(opts.Source)
	if err != nil {
		return opts, Fatal(fmt.Errorf("resolve source %s: %w", opts.Source, err))
	}
	opts.Source = src
	return opts, nil
}

// pushAttribApart pushes a batch in two: push(ctx, data, true) for what
// must go with -I, then push(ctx, attrs, false) for what splitAttribOnly
// takes out, with the quick check.
func pushAttribApart(ctx context.Context, changes []Change, source string, hardLinks bool, push func(context.Context, []Change, bool) (Stats, error)) (Stats, error) {
	data, attrs := splitAttribOnly(changes, source, hardLinks)
	st, err := push(ctx, data, true)
	if err == nil && len(attrs) > 0 {
		var more Stats
		more, err = push(ctx, attrs, false)
		st = st.Add(more)
	}
	return st, err
}

// splitAttribOnly takes out of a batch the changes that say a path's
// attributes alone changed (change.Attrib: chmod, chown, touch, an ACL or
// xattr), for a push of their own with rsync's quick check, as lsyncd's
// rsync pushes every path (generator.c:recv_generator sets the attributes
// of a file whose size and mtime match, in place, and sends the data of
// one whose mtime moved): the others go with -I (a rewrite that kept
// size and mtime must arrive), which would rewrite every chmod'ed file
// on the target, drop the xattrs only the target has and read the whole
// file on both sides. A path the source lacks now, or that a recursive
// path of the batch covers, stays with the others; with -H nothing is
// taken out (the names of a linked file must reach the receiver in one
// push).
func splitAttribOnly(changes []Change, source string, hardLinks bool) (data, attrs []Change) {
	if hardLinks {
		return changes, nil
	}
	var recursive []string
	for _, c := range changes {
		if c.Recursive || c.Op == change.Move {
			recursive = append(recursive, strings.TrimSuffix(c.Path, "/"))
		}
	}
	covered := func(p string) bool {
		for _, r := range recursive {
			if r == "." || r == p || strings.HasPrefix(p, r+"/") {
				return true
			}
		}
		return false
	}
	var root *beneath.Root
	for _, c := range changes {
		p := strings.TrimSuffix(c.Path, "/")
		if c.Op == change.Attrib && !c.Recursive && !covered(p) {
			if root == nil {
				var err error
				if root, err = beneath.Open(source); err != nil {
					return changes, nil // the push reports it
				}
				defer root.Close()
			}
			if _, err := root.Lstat(p); err == nil {
				attrs = append(attrs, c)
				continue
			}
		}
		data = append(data, c)
	}
	return data, attrs
}
