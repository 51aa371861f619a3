package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gsync/gsync/rsyncopts"
)

// tmpPartialDir is the partial dir of --delay-updates without a
// --partial-dir (options.c: tmp_partialdir).
const tmpPartialDir = ".~tmp~"

// checkLocalReceiver refuses the receiver options the local target does
// not implement, by name. It implements all of them now; what is left is
// rsync's own check of a --partial-dir (options.c:parse_arguments).
func checkLocalReceiver(rv rsyncopts.Receiver) error {
	if d := partialDirOf(rv); d != "" && !filepath.IsAbs(d) {
		for _, c := range strings.Split(filepath.ToSlash(d), "/") {
			if c == ".." {
				return fmt.Errorf("--partial-dir %s climbs out of the directory it is in", d)
			}
		}
	}
	return nil
}

// partialDirOf is the partial dir the receiver uses: --partial-dir, or
// ".~tmp~" for --delay-updates (options.c), "" when none.
func partialDirOf(rv rsyncopts.Receiver) string {
	if rv.PartialDir == "" && !rv.DelayUpdates {
		return ""
	}
	switch d := strings.TrimSuffix(filepath.Clean(rv.PartialDir), "/"); {
	case rv.PartialDir != "" && d != ".":
		return d
	case rv.DelayUpdates:
		return tmpPartialDir
	}
	return ""
}

// keepsPartial reports whether an interrupted copy is kept (--partial,
// or --partial-dir and --delay-updates, which imply it: options.c).
func keepsPartial(rv rsyncopts.Receiver) bool { return rv.Partial || partialDirOf(rv) != "" }

// partialPath is where the partial file of the target entry rel goes
// (util1.c:partial_dir_fname): in the relative partial dir next to it,
// or in the absolute one.
func (r *run) partialPath(rel string) string {
	d := partialDirOf(r.l.opts.Receiver)
	if filepath.IsAbs(d) {
		return filepath.Join(d, path.Base(rel))
	}
	return filepath.Join(filepath.Dir(r.dstPath(rel)), filepath.FromSlash(d), path.Base(rel))
}

// inPartialDir reports whether rel is a relative partial dir (or lies in
// one): rsync adds an exclude rule for it, so that it is neither sent
// nor deleted (options.c, the --partial-dir section of rsync(1)).
func (l *Local) inPartialDir(rel string) bool {
	d := partialDirOf(l.opts.Receiver)
	if d == "" || filepath.IsAbs(d) {
		return false
	}
	d = filepath.ToSlash(d)
	for p := rel; p != ""; p = parentOf(p) {
		if p == d || strings.HasSuffix(p, "/"+d) {
			return true
		}
	}
	return false
}

// dropPartial removes a partial file of rel that a finished transfer
// made stale, and its partial dir when it is empty then
// (receiver.c:recv_files, handle_partial_dir with PDIR_DELETE).
func (r *run) dropPartial(rel string) {
	if partialDirOf(r.l.opts.Receiver) == "" {
		return
	}
	pp := r.partialPath(rel)
	if err := os.Remove(pp); err == nil {
		r.dropPartialDir(pp)
	}
}

// dropPartialDir removes the relative partial dir holding the partial
// file pp when it is empty (util1.c:handle_partial_dir, PDIR_DELETE); an
// absolute one is the operator's and stays.
func (r *run) dropPartialDir(pp string) {
	if !filepath.IsAbs(partialDirOf(r.l.opts.Receiver)) {
		os.Remove(filepath.Dir(pp)) // only when empty
	}
}

// keepPartial keeps the temporary file tmp of an interrupted copy of rel
// that got n bytes (cleanup.c: only when data arrived): in the partial
// dir, or in place of the target file with --partial alone.
func (r *run) keepPartial(rel, tmp string, n int64) {
	if n == 0 || !keepsPartial(r.l.opts.Receiver) {
		return
	}
	to := r.dstPath(rel)
	if partialDirOf(r.l.opts.Receiver) != "" {
		to = r.partialPath(rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			r.l.log.Warn("partial file not kept", "path", rel, "err", err)
			return
		}
	} else if fi, err := os.Lstat(to); err == nil && fi.IsDir() {
		return
	}
	if err := os.Rename(tmp, to); err != nil {
		r.l.log.Warn("partial file not kept", "path", rel, "err", err)
		return
	}
	r.l.log.Info("partial file kept", "path", rel, "bytes", n)
}

// delayed is a file --delay-updates put into its partial dir, to be
// renamed into place at the end of the run.
type delayed struct{ rel, partial string }

// delay puts the finished temporary file tmp of rel into its partial
// dir until the end of the run (receiver.c: finish_transfer to the
// partialptr with delay_updates).
func (r *run) delay(tmp, rel string) error {
	pp := r.partialPath(rel)
	if err := os.MkdirAll(filepath.Dir(pp), 0o700); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create partial directory: %w", err)
	}
	if err := os.Rename(tmp, pp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename into partial directory: %w", err)
	}
	r.delayed = append(r.delayed, delayed{rel: rel, partial: pp})
	return nil
}

// finishDelayed renames the files --delay-updates held back into place
// and removes the emptied partial dirs (receiver.c:handle_delayed_updates).
// An interrupted run leaves them where they are (a next transfer of the
// file replaces them).
func (r *run) finishDelayed() {
	if r.ctx.Err() != nil {
		return
	}
	for _, d := range r.delayed {
		tfi, err := os.Lstat(r.dstPath(d.rel))
		if err != nil && !isNotExist(err) {
			r.fail(d.rel, fmt.Errorf("stat target: %w", err))
			continue
		}
		if err != nil {
			tfi = nil
		}
		if err := r.place(d.partial, d.rel, tfi); err != nil {
			r.fail(d.rel, err)
			continue
		}
		r.dropPartialDir(d.partial)
	}
	r.delayed = nil
}

// nextToTarget moves the finished temporary file tmp (in a --temp-dir)
// next to the target entry rel, copying it where a rename cannot cross
// file systems (util1.c:robust_rename with EXDEV copies, copy_file), and
// returns its new name. Its attributes are set again on a copy.
func (r *run) nextToTarget(tmp, rel string, sfi, tfi fs.FileInfo) (string, error) {
	if r.l.opts.Receiver.TempDir == "" {
		return tmp, nil
	}
	to, err := r.tmpName(rel)
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	err = os.Rename(tmp, to)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		if err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("rename from temp dir: %w", err)
		}
		return to, nil
	}
	defer os.Remove(tmp)
	fi, err := os.Lstat(tmp)
	if err != nil {
		return "", fmt.Errorf("stat temporary file: %w", err)
	}
	if err := copyPlain(tmp, to, fi); err != nil {
		return "", fmt.Errorf("copy from temp dir: %w", err)
	}
	if err := r.setAttrs(rel, to, sfi, tfi); err != nil {
		os.Remove(to)
		return "", err
	}
	return to, nil
}

// ctxReader stops a copy when its context is done, so that an
// interrupted copy leaves a partial file (--partial).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// hasFiles reports whether the source directory rel (sfi) holds a
// non-directory that is not excluded, at any depth: -m prunes the
// directories that do not (flist.c:flist_sort_and_clean with
// prune_empty_dirs). The answers are kept for the run.
func (r *run) hasFiles(rel string, sfi fs.FileInfo) bool {
	if v, ok := r.pruned[rel]; ok {
		return !v
	}
	names, infos, err := r.readSource(rel, sfi)
	found := err != nil // unreadable: not pruned, the sync reports it
	for i := range names {
		if found {
			break
		}
		c := child(rel, names[i])
		fi := infos[i].fi
		if infos[i].err != nil || r.excluded(c, fi.IsDir()) || r.l.inPartialDir(c) {
			continue
		}
		found = !fi.IsDir() || r.hasFiles(c, fi)
	}
	r.pruned[rel] = !found
	return found
}

// operatorDir resolves a directory option (--backup-dir, --temp-dir)
// as rsync's receiver does: relative to the target directory, or
// absolute.
func (l *Local) operatorDir(d string) string {
	if filepath.IsAbs(d) {
		return filepath.Clean(d)
	}
	return filepath.Join(l.root, filepath.FromSlash(d))
}

// skipByReceiver reports whether the receiver options skip the entry
// rel (source sfi, target tfi or nil) altogether, as rsync's generator
// does (generator.c:recv_generator: --existing, --ignore-existing,
// --update; --append comes after the quick check, see appendSkips).
func (r *run) skipByReceiver(sfi, tfi fs.FileInfo) bool {
	rv := &r.l.opts.Receiver
	switch {
	case rv.Existing && tfi == nil:
		return true // "not creating new": a directory's subtree too
	case rv.IgnoreExisting && tfi != nil && !(sfi.IsDir() && tfi.IsDir()):
		return true
	case !sfi.Mode().IsRegular() || tfi == nil || !tfi.Mode().IsRegular():
		return false
	case rv.Update && tfi.ModTime().Unix() > sfi.ModTime().Unix():
		return true // "is newer" (modify_window 0: whole seconds)
	}
	return false
}

// appendSkips reports whether --append leaves the target file tfi alone
// (the source file sfi is no longer): generator.c:recv_generator checks
// it after the quick check, so a file that passes that (a chmod, a
// chown) still has its attributes set.
func (r *run) appendSkips(sfi, tfi fs.FileInfo) bool {
	return r.l.opts.Receiver.Append > 0 && tfi != nil && tfi.Mode().IsRegular() && tfi.Size() >= sfi.Size()
}

// protectedBackup reports whether rel is a backup that deletes must
// keep: without a --backup-dir, rsync's client protects "*"+suffix
// (options.c: "P *~").
func (l *Local) protectedBackup(rel string) bool {
	rv := &l.opts.Receiver
	if !rv.Backups() || rv.BackupDir != "" {
		return false
	}
	return strings.HasSuffix(rel, rv.BackupSuffix())
}

// backupName is where the backup of the target entry rel goes
// (backup.c:get_backup_name), creating the directories of a
// --backup-dir with the modes of the target's (backup.c:
// copy_valid_path).
func (r *run) backupName(rel string) (string, error) {
	rv := &r.l.opts.Receiver
	if rv.BackupDir == "" {
		return r.dstPath(rel) + rv.BackupSuffix(), nil
	}
	root := r.l.operatorDir(rv.BackupDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("create backup directory: %w", err)
	}
	dir := root
	for _, c := range strings.Split(parentOf(rel), "/") {
		if c == "" {
			continue
		}
		dir = filepath.Join(dir, c)
		fi, err := os.Lstat(dir)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			// A file where the backup needs a directory: it goes
			// (backup.c: delete_item with DEL_FOR_BACKUP).
			if err := os.RemoveAll(dir); err != nil {
				return "", fmt.Errorf("make way for backup directory: %w", err)
			}
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("stat backup directory: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return "", fmt.Errorf("create backup directory: %w", err)
		}
		if err := r.bakDirAttrs(dir, strings.TrimPrefix(dir[len(root):], "/")); err != nil {
			return "", err
		}
	}
	return filepath.Join(root, filepath.FromSlash(rel)) + rv.BackupSuffix(), nil
}

// bakDirAttrs gives the new backup directory dir the owner, mode and
// mtime of the target directory rel it stands for (backup.c:make_bak_dir
// and copy_valid_path: set_file_attrs from the target's stat). rsync's
// generator has given that directory the source's mode and owner by
// then (its contents come after it), so those are the source's when the
// source has the directory; the mtime is the target's (rsync sets
// directory mtimes at the end). Not as root, the owner keeps the right to
// write into it (rsync would fail to put the backup there).
func (r *run) bakDirAttrs(dir, rel string) error {
	tfi, err := r.dstLstat(rel)
	if err != nil || !tfi.IsDir() {
		return nil // nothing to copy from
	}
	mode, uid, gid := tfi.Mode(), -1, -1
	if os.Geteuid() == 0 {
		uid, gid, _ = ownerOf(tfi)
	}
	if sfi, err := r.srcStat(rel); err == nil && sfi.IsDir() {
		mode = r.l.attrs.wantMode(sfi, tfi)
		if u, g := r.wantOwner(sfi); u >= 0 || g >= 0 {
			uid, gid = u, g
		}
	}
	if uid >= 0 || gid >= 0 {
		if err := setOwner(dir, uid, gid); err != nil {
			return fmt.Errorf("set backup directory owner: %w", err)
		}
	}
	perm := mode.Perm()
	if os.Geteuid() != 0 {
		perm |= 0o700
	}
	if err := os.Chmod(dir, perm|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return fmt.Errorf("set backup directory mode: %w", err)
	}
	if err := setMtime(dir, tfi.ModTime()); err != nil {
		return fmt.Errorf("set backup directory mtime: %w", err)
	}
	return nil
}

// How backup keeps a target entry.
const (
	bakRename = iota // the entry goes: renamed to its backup name
	bakLink          // the entry stays and is replaced by a new one: a hard link (a copy where none can be made)
	bakCopy          // the entry stays and is written in place: a copy (a hard link would change with it)
)

// backup keeps the target entry rel (a non-directory, fi) under its
// backup name before it is replaced or deleted (backup.c:make_backup;
// for an in-place update receiver.c copies the file first,
// backup.c:copy_valid_path/copy_file). An older backup of that name is
// replaced.
func (r *run) backup(rel string, fi fs.FileInfo, how int) error {
	if r.dry || fi.IsDir() {
		return nil
	}
	bak, err := r.backupName(rel)
	if err != nil {
		return err
	}
	if bfi, err := os.Lstat(bak); err == nil && bfi.IsDir() {
		if err := os.RemoveAll(bak); err != nil {
			return fmt.Errorf("make way for backup: %w", err)
		}
	}
	p := r.dstPath(rel)
	if how == bakRename {
		if err := os.Rename(p, bak); err != nil {
			return fmt.Errorf("back up: %w", err)
		}
		return nil
	}
	tmp := bak + ".gsync-bak"
	os.Remove(tmp)
	err = errors.ErrUnsupported
	if how == bakLink {
		err = os.Link(p, tmp)
	}
	if err != nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("back up: %w", err)
		}
		// backup.c: a copy where no hard link can be made.
		if err := copyPlain(p, tmp, fi); err != nil {
			return fmt.Errorf("back up: %w", err)
		}
	}
	if err := os.Rename(tmp, bak); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("back up: %w", err)
	}
	return nil
}

// copyPlain copies the regular file from to a new file to with fi's
// mode and mtime.
func copyPlain(from, to string, fi fs.FileInfo) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = setMtime(to, fi.ModTime())
	}
	if err != nil {
		os.Remove(to)
	}
	return err
}

// tempDir is the directory new files are written in before they are
// renamed into place: --temp-dir, or the target file's own directory.
func (r *run) tempDir(rel string) string {
	if d := r.l.opts.Receiver.TempDir; d != "" {
		return r.l.operatorDir(d)
	}
	return filepath.Dir(r.dstPath(rel))
}

// writeInplace updates the target file rel (tfi, a regular file) in
// place from the source file f (rsync's --inplace; --append writes only
// what lies past the target's length, --append-verify also checks the
// part it has and rewrites the file when it differs). It returns the
// bytes written.
func (r *run) writeInplace(rel string, f *os.File, sfi, tfi fs.FileInfo) (int64, error) {
	rv := &r.l.opts.Receiver
	if rv.Backups() {
		if err := r.backup(rel, tfi, bakCopy); err != nil {
			return 0, err
		}
	}
	p := r.dstPath(rel)
	if tfi.Mode().Perm()&0o200 == 0 {
		// rsync's receiver makes its own file writable to update it.
		if err := os.Chmod(p, tfi.Mode().Perm()|0o200); err != nil {
			return 0, fmt.Errorf("make writable: %w", err)
		}
	}
	out, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("open target: %w", err)
	}
	var off int64
	if rv.Append > 0 {
		off = tfi.Size()
		if rv.Append == 2 && !samePrefix(f, p, off) {
			off = 0 // the redo: the whole file again
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		out.Close()
		return 0, fmt.Errorf("seek source: %w", err)
	}
	if _, err := out.Seek(off, io.SeekStart); err != nil {
		out.Close()
		return 0, fmt.Errorf("seek target: %w", err)
	}
	n, err := io.Copy(out, f)
	if err == nil {
		err = out.Truncate(off + n)
	}
	if err == nil && rv.Fsync {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("write in place: %w", err)
	}
	return n, nil
}

// samePrefix reports whether the first n bytes of the source f and the
// target file p are equal (--append-verify).
func samePrefix(f *os.File, p string, n int64) bool {
	t, err := os.Open(p)
	if err != nil {
		return false
	}
	defer t.Close()
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for off := int64(0); off < n; {
		k := int(min(int64(len(a)), n-off))
		if _, err := f.ReadAt(a[:k], off); err != nil {
			return false
		}
		if _, err := t.ReadAt(b[:k], off); err != nil {
			return false
		}
		if !bytes.Equal(a[:k], b[:k]) {
			return false
		}
		off += int64(k)
	}
	return true
}
