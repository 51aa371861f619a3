package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
)

// The safety guards: a source root that disappeared, was unmounted or is
// empty must not wipe the mirror in a full sync; a nested mount that
// vanished must not empty its subtree on the target; --max-delete bounds
// what one sync (batch or full) may delete.
//
// --max-delete N, on every target: a sync (an event batch or a full sync)
// that would delete more than N entries on the target, counting every
// entry below a deleted directory (rm -rf of a directory holding 2,000
// files is 2,001), deletes none of them: its transfers still happen, its
// deletions are held back and logged, and --once exits 1. The entries are
// counted before the push: by walking a local target, and on remote
// targets by a dry run of the sync's deleting changes over a connection
// of its own (the receiver reports every entry it would delete).

// checkSourceRoot fails when the source root is gone or is no longer the
// file system it was at startup (unmounted: the mount point shows the
// directory below it). Both are fatal: gsync stops with the target as it
// is.
func (m *Mirror) checkSourceRoot() error {
	dev, err := deviceOf(m.src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return transport.Fatal(fmt.Errorf("source %s disappeared; stopping with the target unchanged (recreate or remount it, then start gsync again)", m.src))
		}
		return transport.Fatal(fmt.Errorf("check source %s: %w", m.src, err))
	}
	if dev != m.srcDev {
		return transport.Fatal(fmt.Errorf("source %s is no longer on the file system it was on at startup (unmounted?); stopping with the target unchanged (mount it again, then start gsync again)", m.src))
	}
	return nil
}

// sourceEmpty reports whether the source root holds nothing that would be
// mirrored (no entries, or only excluded ones).
func (m *Mirror) sourceEmpty() (bool, error) {
	f, err := os.Open(m.src)
	if err != nil {
		return false, fmt.Errorf("read source %s: %w", m.src, err)
	}
	defer f.Close()
	for {
		ents, err := f.ReadDir(64)
		for _, e := range ents {
			if !m.rules.Excluded(e.Name(), e.IsDir()) {
				return false, nil
			}
		}
		if err != nil { // io.EOF: read it all
			return true, nil
		}
	}
}

// fullSyncHeld returns why a full sync of the source as it is now must
// not run ("" when it may): an empty source (unless
// --allow-empty-source), or a nested mount that vanished. Both look like
// "delete everything below" to a full sync with deletes.
func (m *Mirror) fullSyncHeld() (string, error) {
	if !m.cfg.Delete.Full() {
		return "", nil
	}
	if !m.cfg.AllowEmptySource {
		empty, err := m.sourceEmpty()
		if err != nil {
			return "", transport.Transient(err)
		}
		if empty {
			return fmt.Sprintf("full sync skipped: the source %s is empty (unmounted or wiped?), and a full sync would empty the target; files added to the source are mirrored as usual (use --allow-empty-source to mirror an empty source)", m.src), nil
		}
	}
	if gone := m.mounts.vanished(); len(gone) > 0 {
		return fmt.Sprintf("full sync skipped: the file system mounted at %s below the source is gone, and a full sync would empty its subtree on the target (mount it again, then send SIGHUP; restart gsync to accept that it is gone)", filepath.Join(m.src, filepath.FromSlash(gone[0]))), nil
	}
	return "", nil
}

// fullSync runs a full sync of t behind the guards (see fullSyncHeld and
// --max-delete).
func (m *Mirror) fullSync(ctx context.Context, t *targetRun) (transport.Stats, error) {
	if err := m.checkSourceRoot(); err != nil {
		return transport.Stats{}, err
	}
	reason, err := m.fullSyncHeld()
	if err != nil {
		return transport.Stats{}, err
	}
	if reason != "" {
		return transport.Stats{}, &refusal{reason: reason}
	}
	if w, ok := t.tgt.(FullSyncWaiter); ok {
		if err := w.WaitFullSync(ctx); err != nil {
			return transport.Stats{}, err
		}
	}
	if max := m.cfg.MaxDelete; max > 0 && t.counter != nil && m.cfg.Delete.Full() {
		n, err := t.counter.full(ctx, max)
		if err != nil {
			return transport.Stats{}, transport.Transient(err)
		}
		if n > max {
			st, err := m.pushOne(ctx, t, func() (transport.Stats, error) { return t.keep.FullSync(ctx) })
			if err != nil {
				return st, err
			}
			return st, &refusal{maxDeleteReason("full sync", n, max), ErrMaxDelete}
		}
	}
	m.snapshot(ctx, t)
	return m.pushOne(ctx, t, func() (transport.Stats, error) { return t.tgt.FullSync(ctx) })
}

// maxDeleteReason is the refusal of a sync that would delete n > max
// entries.
func maxDeleteReason(what string, n, max int) string {
	return fmt.Sprintf("deletions held back: the %s would delete at least %d entries on the target, more than --max-delete %d; everything else was mirrored, nothing was deleted (check the source, then raise --max-delete, or send SIGHUP once the source is right)", what, n, max)
}

// pushBatch pushes one batch of t behind the guards: changes across a
// vanished nested mount are held back, and a batch that would delete more
// than --max-delete entries is pushed without its deletions (in one push:
// the limit counts the whole batch). Deletions the kernel reported one by
// one are real, so an empty source does not hold a batch back (lsyncd:
// rm -rf src/* empties the mirror). Otherwise the batch goes through
// pushChanges, split into disjoint groups with Target.MaxProcesses (see
// pushBatchParts).
func (m *Mirror) pushBatch(ctx context.Context, t *targetRun, changes []transport.Change) (transport.Stats, error) {
	st, _, err := m.pushBatchParts(ctx, t, changes)
	return st, err
}

// pushBatchParts is pushBatch that also returns part, set when some of
// the batch's groups failed as a whole and the others went through.
func (m *Mirror) pushBatchParts(ctx context.Context, t *targetRun, changes []transport.Change) (st transport.Stats, part *partial, err error) {
	if err := m.checkSourceRoot(); err != nil {
		return transport.Stats{}, nil, err
	}
	if gone := m.mounts.vanished(); len(gone) > 0 {
		var held []string
		changes, held = holdAcrossMounts(changes, gone)
		for _, p := range held {
			t.log.Error("change held back: a file system mounted below the source is gone (mount it again, then send SIGHUP)",
				"path", p, "mount", path.Join(m.src, gone[0]))
		}
		if len(changes) == 0 {
			return transport.Stats{}, nil, nil
		}
	}
	max := m.cfg.MaxDelete
	if max <= 0 || !m.cfg.Delete.Running() {
		return m.pushChanges(ctx, t, changes)
	}
	n, err := m.countBatchDeletes(ctx, t, changes, max)
	if err != nil {
		return transport.Stats{}, nil, transport.Transient(err)
	}
	if n <= max {
		return m.pushChanges(ctx, t, changes)
	}
	if t.keep != nil {
		st, err = m.pushOne(ctx, t, func() (transport.Stats, error) { return t.keep.Push(ctx, changes) })
	} else if kept := withoutDeletes(changes); len(kept) > 0 {
		st, err = m.pushOne(ctx, t, func() (transport.Stats, error) { return t.tgt.Push(ctx, kept) })
	}
	if err != nil {
		return st, nil, err
	}
	return st, nil, &refusal{maxDeleteReason("batch", n, max), ErrMaxDelete}
}

// countBatchDeletes counts the entries changes would delete on t's
// target, up to a little more than max (see deleteCounter); without a
// counter, one per deleted path.
func (m *Mirror) countBatchDeletes(ctx context.Context, t *targetRun, changes []transport.Change, max int) (int, error) {
	if t.counter != nil {
		return t.counter.batch(ctx, changes, max)
	}
	n := 0
	for _, c := range changes {
		if c.Op == change.Delete {
			n++
		}
	}
	return n, nil
}

// withoutDeletes returns the changes but the deletions.
func withoutDeletes(changes []transport.Change) []transport.Change {
	kept := make([]transport.Change, 0, len(changes))
	for _, c := range changes {
		if c.Op != change.Delete {
			kept = append(kept, c)
		}
	}
	return kept
}

// deleteCounter counts the entries a sync would delete on a target,
// every entry below a deleted directory included; counting may stop a
// little past limit.
type deleteCounter interface {
	batch(ctx context.Context, changes []transport.Change, limit int) (int, error)
	full(ctx context.Context, limit int) (int, error)
}

// dryRunDeletes counts deletions on a remote target by a dry run of the
// changes that can delete (deletes, renames, recursive directories) on a
// twin of the target with DryRun set: the receiver reports each entry it
// would delete. Peers below protocol 29 report none.
type dryRunDeletes struct{ probe transport.Target }

func (d *dryRunDeletes) batch(ctx context.Context, changes []transport.Change, _ int) (int, error) {
	var deleting []transport.Change
	for _, c := range changes {
		if c.Op != change.Modify || c.Recursive {
			deleting = append(deleting, c)
		}
	}
	if len(deleting) == 0 {
		return 0, nil
	}
	st, err := d.probe.Push(ctx, deleting)
	if err != nil {
		return 0, fmt.Errorf("count deletions (dry run): %w", err)
	}
	return st.Deleted, nil
}

func (d *dryRunDeletes) full(ctx context.Context, _ int) (int, error) {
	st, err := d.probe.FullSync(ctx)
	if err != nil {
		return 0, fmt.Errorf("count deletions (dry run): %w", err)
	}
	return st.Deleted, nil
}

// localDeletes counts the deletions of a sync on a target directory the
// engine can read (a local target) as rsync counts them (delete.c:
// delete_item adds each entry it deletes to stats.deleted_files, which
// --max-delete bounds, generator.c): every target entry the source lacks
// or does not send, with everything below it, but for the entries the
// receiver's rules keep and the directories that hold one. As the local
// target's deleter (transport/tree.go), with the same rules:
//   - a source entry that is excluded (sent reports it) is not in the
//     file list, so its target entry is deleted unless kept
//     (--delete-excluded leaves only the receiver-side rules in kept);
//   - inside a deleted directory keptInside decides: perishable rules
//     keep nothing there (delete_item sets ignore_perishable for
//     delete_dir_contents), and a directory that keeps an entry stays
//     and is not counted ("cannot delete non-empty directory");
//   - a directory in the way of a source non-directory is deleted to
//     make room (DEL_MAKE_ROOM): its contents count, itself not.
//
// Not counted: backups kept next to their files and --partial-dir
// entries, which the local target keeps too.
type localDeletes struct {
	src, dst string
	// sent reports a source entry excluded from the transfer (nil:
	// none); kept a target entry the source lacks that a delete keeps,
	// keptInside the same inside a directory being deleted (nil: none).
	sent, kept, keptInside func(rel string, isDir bool) bool
	// root is SRC, opened for one count (batch or full): the source is
	// looked at the way the local target's sync looks at it, beneath SRC
	// without following a symlink, so that both agree on what is gone.
	root *beneath.Root
}

// open opens SRC for one count; the returned func closes it.
func (c *localDeletes) open() (func(), error) {
	r, err := beneath.Open(c.src)
	if err != nil {
		return nil, fmt.Errorf("count deletions: open source %s: %w", c.src, err)
	}
	c.root = r
	return func() { r.Close(); c.root = nil }, nil
}

// batch counts the deletions of a batch: listed paths gone at the source
// (or replaced by a non-directory) with their target subtrees, and the
// extra target entries below directories pushed recursively.
func (c *localDeletes) batch(_ context.Context, changes []transport.Change, limit int) (int, error) {
	done, err := c.open()
	if err != nil {
		return 0, err
	}
	defer done()
	n := 0
	for _, ch := range changes {
		if n > limit {
			break
		}
		var err error
		switch ch.Op {
		case change.Move:
			// A rename moves the target entry; deletes below the
			// destination are those of a recursive sync of it.
			err = c.path(ch.Path, true, limit, &n)
		default:
			err = c.path(ch.Path, ch.Recursive, limit, &n)
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// full counts the deletions of a full sync.
func (c *localDeletes) full(_ context.Context, limit int) (int, error) {
	done, err := c.open()
	if err != nil {
		return 0, err
	}
	defer done()
	n := 0
	err = c.extra("", limit, &n)
	return n, err
}

// srcEntry stats the source entry rel as the sync sees it: nil when it
// is missing or not sent.
func (c *localDeletes) srcEntry(rel string) (fs.FileInfo, error) {
	sfi, err := c.root.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("count deletions below %s: %w", c.srcPath(rel), err)
	case c.sent != nil && c.sent(rel, sfi.IsDir()):
		return nil, nil
	}
	return sfi, nil
}

// path adds to *n what making rel equal to the source deletes.
func (c *localDeletes) path(rel string, recursive bool, limit int, n *int) error {
	rel = path.Clean(rel)
	if rel == "." {
		rel = ""
	}
	dfi, err := os.Lstat(c.dstPath(rel))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil // nothing there to delete
	}
	if err != nil {
		return fmt.Errorf("count deletions below %s: %w", c.dstPath(rel), err)
	}
	sfi, err := c.srcEntry(rel)
	if err != nil {
		return err
	}
	return c.entry(rel, dfi.IsDir(), sfi, recursive, limit, n)
}

// entry adds to *n what the sync deletes at the target entry rel (a
// directory or not), whose source entry is sfi (nil: missing or not
// sent); recursive: the sync goes below it.
func (c *localDeletes) entry(rel string, isDir bool, sfi fs.FileInfo, recursive bool, limit int, n *int) error {
	switch {
	case sfi == nil:
		if rel == "" || c.kept != nil && c.kept(rel, isDir) {
			return nil
		}
		_, err := c.subtree(rel, isDir, limit, n)
		return err
	case isDir && !sfi.IsDir():
		_, err := c.contents(rel, limit, n) // made room for: itself not counted
		return err
	case isDir && recursive:
		return c.extra(rel, limit, n)
	}
	return nil
}

// extra adds to *n the target entries below the directory rel that the
// source lacks or does not send, with their subtrees, recursively.
func (c *localDeletes) extra(rel string, limit int, n *int) error {
	ents, err := os.ReadDir(c.dstPath(rel))
	if err != nil {
		return fmt.Errorf("count deletions in %s: %w", c.dstPath(rel), err)
	}
	for _, e := range ents {
		if *n > limit {
			return nil
		}
		r := path.Join(rel, e.Name())
		sfi, err := c.srcEntry(r)
		if err != nil {
			return err
		}
		if err := c.entry(r, e.IsDir(), sfi, true, limit, n); err != nil {
			return err
		}
	}
	return nil
}

// subtree adds to *n the target entry rel and, for a directory, every
// entry below it that keptInside does not keep; a directory that keeps
// one stays, uncounted (kept reports it).
func (c *localDeletes) subtree(rel string, isDir bool, limit int, n *int) (kept bool, err error) {
	if isDir {
		if kept, err = c.contents(rel, limit, n); err != nil || kept {
			return kept, err
		}
	}
	*n++
	return false, nil
}

// contents adds to *n the entries below the target directory rel, as
// deleting it deletes them (subtree); kept: one of them stays.
func (c *localDeletes) contents(rel string, limit int, n *int) (kept bool, err error) {
	ents, err := os.ReadDir(c.dstPath(rel))
	if err != nil {
		return false, fmt.Errorf("count deletions in %s: %w", c.dstPath(rel), err)
	}
	for _, e := range ents {
		if *n > limit {
			return kept, nil
		}
		r := path.Join(rel, e.Name())
		if c.keptInside != nil && c.keptInside(r, e.IsDir()) {
			kept = true
			continue
		}
		k, err := c.subtree(r, e.IsDir(), limit, n)
		if err != nil {
			return kept, err
		}
		kept = kept || k
	}
	return kept, nil
}

func (c *localDeletes) srcPath(rel string) string {
	return filepath.Join(c.src, filepath.FromSlash(rel))
}
func (c *localDeletes) dstPath(rel string) string {
	return filepath.Join(c.dst, filepath.FromSlash(rel))
}
