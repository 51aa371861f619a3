package beneath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoReferent reports a symlink that an option asked to follow but that
// points nowhere (rsync's "symlink has no referent", flist.c:make_file).
// It is not fs.ErrNotExist: the link itself exists, and rsync counts it
// as a general error, not as a vanished file.
var ErrNoReferent = errors.New("symlink has no referent")

// Links resolves and opens what the symlinks of a source tree point to,
// for the options that ask gsync to follow them (rsync's -L,
// --copy-unsafe-links, -k). A referent is named by its absolute path with
// every symlink resolved (its real path); it is then opened from "/"
// without following a symlink in any component, as Root does, so a
// referent path that changes into a symlink after it was resolved fails
// instead of being followed again. Callers compare the result's device
// and inode with what they listed. It is safe for concurrent use.
type Links struct {
	sys    *Root // "/"
	follow Follow
}

// Follow says which symlinks are followed: All (rsync -L), Unsafe, those
// that point out of the tree (--copy-unsafe-links, UnsafeSymlink), Dirs,
// those to directories (-k).
type Follow struct {
	All, Unsafe, Dirs bool
}

// OpenLinks opens "/" for resolving the referents of the links f follows.
func OpenLinks(f Follow) (*Links, error) {
	r, err := Open("/")
	if err != nil {
		return nil, fmt.Errorf("open / for following symlinks: %w", err)
	}
	return &Links{sys: r, follow: f}, nil
}

// Follow resolves the symlink rel (its name relative to the tree's root,
// in the directory whose real path is dir) with the text target when the
// options follow it (flist.c:readlink_stat and link_stat): it returns
// the referent's real path and attributes, or "" and nil when the link
// stays a link. A link that All or Unsafe must follow but cannot is an
// error (ErrNoReferent when it points nowhere, rsync's "symlink has no
// referent"); Dirs alone keeps a link it cannot follow as a link, as
// rsync does.
func (l *Links) Follow(rel, dir, target string) (string, fs.FileInfo, error) {
	must := l.follow.All || l.follow.Unsafe && UnsafeSymlink(target, rel)
	if !must && !l.follow.Dirs {
		return "", nil, nil
	}
	real, fi, err := l.Referent(dir, target)
	switch {
	case err != nil && must:
		return "", nil, fmt.Errorf("follow %s: %w", rel, err)
	case err != nil, !must && !fi.IsDir():
		return "", nil, nil
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", nil, fmt.Errorf("follow %s: %w: its referent changed while it was resolved", rel, fs.ErrNotExist)
	}
	return real, fi, nil
}

// Close releases the descriptor of "/".
func (l *Links) Close() error { return l.sys.Close() }

// sysRel names the absolute path real relative to "/".
func sysRel(real string) string {
	if r := strings.TrimLeft(real, "/"); r != "" {
		return r
	}
	return "."
}

// RealPath returns the absolute path of name with every symlink in it
// resolved (the root of a tree whose links are followed).
func RealPath(name string) (string, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", name, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", name, err)
	}
	return real, nil
}

// Referent resolves target, the text of a symlink in the directory whose
// real path is dir, as stat(2) follows it (every symlink on the way,
// inside the tree or out of it), and returns the referent's real path and
// its attributes, taken without following a symlink. A link that points
// nowhere is ErrNoReferent.
func (l *Links) Referent(dir, target string) (string, fs.FileInfo, error) {
	p := target
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("follow symlink to %s: %w", target, ErrNoReferent)
	}
	if err != nil {
		return "", nil, fmt.Errorf("follow symlink to %s: %w", target, err)
	}
	real = filepath.Clean(real)
	fi, err := l.sys.Lstat(sysRel(real))
	if err != nil {
		return "", nil, fmt.Errorf("follow symlink to %s: %w", target, err)
	}
	return real, fi, nil
}

// Lstat returns the attributes of the real path real, following no
// symlink.
func (l *Links) Lstat(real string) (fs.FileInfo, error) { return l.sys.Lstat(sysRel(real)) }

// Readlink reads the symlink at the real path real (a link below a
// followed directory that is not followed itself).
func (l *Links) Readlink(real string) (string, error) { return l.sys.Readlink(sysRel(real)) }

// OpenDir opens the directory at the real path real like Root.OpenDir.
func (l *Links) OpenDir(real string) (*Dir, error) { return l.sys.OpenDir(sysRel(real)) }

// SearchDir opens the directory at the real path real like
// Root.SearchDir.
func (l *Links) SearchDir(real string) (*Dir, error) { return l.sys.SearchDir(sysRel(real)) }

// OpenFile opens the regular file at the real path real like
// Root.OpenFile: O_NOFOLLOW in every component, O_NONBLOCK, and
// ErrNotRegular for anything but a regular file.
func (l *Links) OpenFile(real string) (*os.File, fs.FileInfo, error) {
	return l.sys.OpenFile(sysRel(real))
}

// Xattrs reads the extended attributes of the entry at the real path
// real like Root.Xattrs.
func (l *Links) Xattrs(real string, typ fs.FileMode, same func(fs.FileInfo) bool, keep func(name string) bool) ([]Xattr, error) {
	return l.sys.Xattrs(sysRel(real), typ, same, keep)
}
