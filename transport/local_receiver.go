package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gsync/gsync/rsyncopts"
)

// localRefused names the first receiver option in rv that the local
// target does not implement ("" when none): such an option is an error
// when the target is created, never dropped.
func localRefused(rv rsyncopts.Receiver) string {
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"--partial-dir", rv.PartialDir != ""},
		{"--delay-updates", rv.DelayUpdates}, {"--prune-empty-dirs", rv.PruneEmptyDirs},
	} {
		if o.set {
			return o.name
		}
	}
	return ""
}

// checkLocalReceiver refuses the receiver options the local target does
// not implement, by name.
func checkLocalReceiver(rv rsyncopts.Receiver) error {
	if name := localRefused(rv); name != "" {
		return fmt.Errorf("rsync option %s is not implemented for a local target (daemon and ssh targets take it)", name)
	}
	return nil
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
// --update, --append with a target file as long).
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
	case rv.Append > 0 && tfi.Size() >= sfi.Size():
		return true
	}
	return false
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
		perm := fs.FileMode(0o755)
		if tfi, err := r.dstLstat(strings.TrimPrefix(dir[len(root):], "/")); err == nil && tfi.IsDir() {
			perm = tfi.Mode().Perm() | 0o700
		}
		if err := os.Mkdir(dir, perm); err != nil {
			return "", fmt.Errorf("create backup directory: %w", err)
		}
	}
	return filepath.Join(root, filepath.FromSlash(rel)) + rv.BackupSuffix(), nil
}

// backup keeps the target entry rel (a non-directory, fi) under its
// backup name before it is replaced or deleted (backup.c:make_backup):
// keep leaves rel in place (a hard link, or a copy for an in-place
// update), else it is renamed. An older backup of that name is replaced.
func (r *run) backup(rel string, fi fs.FileInfo, keep bool) error {
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
	if !keep {
		if err := os.Rename(p, bak); err != nil {
			return fmt.Errorf("back up: %w", err)
		}
		return nil
	}
	tmp := bak + ".gsync-bak"
	os.Remove(tmp)
	if err := os.Link(p, tmp); err != nil {
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
		if err := r.backup(rel, tfi, true); err != nil {
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
