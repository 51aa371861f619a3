package integration

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// oddNames are file names that broke lsyncd or shells: spaces, newlines,
// backslashes, rsync wildcard characters, invalid UTF-8, a leading dash.
var oddNames = []string{
	"with space", "new\nline", `back\slash`, "br]acket", "star*q?[x]", "\xff\xfeinvalid",
	"-leading-dash", "$(echo pwned);'\"", "tab\there",
}

// validUTF8Names are oddNames without invalid UTF-8, for peers such as
// gokrazy/rsync whose receiver cannot read directories with such names.
func validUTF8Names() []string {
	var out []string
	for _, n := range oddNames {
		if utf8.ValidString(n) {
			out = append(out, n)
		}
	}
	return out
}

// churner applies random file-system operations to a tree. It records what
// it did so a failing test can print it.
type churner struct {
	t    *testing.T
	root string
	rng  *rand.Rand
	seq  int
	log  []string
	// noAbsSymlinks disables absolute symlinks (targets whose peer rewrites them).
	noAbsSymlinks bool
	// names replaces oddNames (for peers that cannot store some of them).
	names []string
	ops   int // operations attempted
	// noDirToFile disables replacing a directory by a file, which
	// gokrazy/rsync v0.3.7's receiver cannot do ("unlinking to make room
	// for regular file: removeat: directory not empty").
	noDirToFile bool
	// fixed is a top-level directory the churner leaves alone: it is
	// neither listed nor changed (a large tree that only the full sync
	// is to carry).
	fixed string
}

func newChurner(t *testing.T, root string, seed uint64) *churner {
	return &churner{t: t, root: root, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (c *churner) name() string {
	c.seq++
	names := oddNames
	if c.names != nil {
		names = c.names
	}
	if c.rng.IntN(6) == 0 {
		return fmt.Sprintf("%s%d", names[c.rng.IntN(len(names))], c.seq)
	}
	return fmt.Sprintf("n%d", c.seq)
}

// entries lists the tree (relative paths) split into dirs (including "")
// and non-dirs.
func (c *churner) entries() (dirs, files []string) {
	dirs = []string{""}
	filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == c.root {
			return nil
		}
		rel := p[len(c.root)+1:] // WalkDir joins names to root with one separator
		if c.fixed != "" && rel == c.fixed {
			return filepath.SkipDir
		}
		if d.IsDir() {
			dirs = append(dirs, rel)
		} else {
			files = append(files, rel)
		}
		return nil
	})
	return dirs, files
}

func (c *churner) abs(rel string) string { return filepath.Join(c.root, rel) }

func (c *churner) pick(list []string) string { return list[c.rng.IntN(len(list))] }

func (c *churner) data() []byte {
	n := c.rng.IntN(4096)
	if c.rng.IntN(20) == 0 {
		n = 64*1024 + c.rng.IntN(256*1024)
	}
	b := make([]byte, n+7)
	for i := 0; i < n; i += 8 { // eight bytes a call: byte loops are slow under the race detector
		binary.LittleEndian.PutUint64(b[i:], c.rng.Uint64())
	}
	return b[:n]
}

func (c *churner) note(format string, a ...any) {
	c.log = append(c.log, fmt.Sprintf(format, a...))
}

// inPlaceOK reports whether p may be changed in place: a regular file with
// one link. Writing through one name of a hard-linked file changes the
// others without an inotify event for them (see TestHardLinkInPlaceWrite).
func (c *churner) inPlaceOK(p string) (os.FileInfo, bool) {
	fi, err := os.Lstat(c.abs(p))
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return nil, false
	}
	return fi, true
}

// step performs one random operation. Errors from races with itself (for
// example a rename onto a name that exists as a directory) are ignored: the
// source tree is whatever the operations left. The mix: create, append,
// same-size rewrite in the same second (mtime kept), truncate, chmod,
// rename of files and directories across directories, delete, rm -rf,
// mkdir -p with files, symlinks (relative, absolute, dangling), hard
// links, file replaced by a directory and back, rapid create + delete.
func (c *churner) step() {
	dirs, files := c.entries()
	c.ops++
	switch op := c.rng.IntN(100); {
	case op < 16: // create a file
		p := filepath.Join(c.pick(dirs), c.name())
		os.WriteFile(c.abs(p), c.data(), 0o644)
		c.note("create %q", p)
	case op < 25 && len(files) > 0: // append
		p := c.pick(files)
		if _, ok := c.inPlaceOK(p); ok {
			f, err := os.OpenFile(c.abs(p), os.O_WRONLY|os.O_APPEND, 0)
			if err == nil {
				d := c.data()
				f.Write(d[:min(len(d), c.rng.IntN(100)+1)])
				f.Close()
			}
			c.note("append %q", p)
		}
	case op < 33 && len(files) > 0: // same-size rewrite, mtime kept (like cp -p twice in one second)
		p := c.pick(files)
		if fi, ok := c.inPlaceOK(p); ok && fi.Size() > 0 {
			old, _ := os.ReadFile(c.abs(p))
			nb := make([]byte, len(old))
			for i := range nb {
				nb[i] = old[i] ^ byte(1+c.rng.IntN(255))
			}
			os.WriteFile(c.abs(p), nb, 0)
			os.Chtimes(c.abs(p), fi.ModTime(), fi.ModTime())
			c.note("same-size rewrite %q", p)
		}
	case op < 37 && len(files) > 0: // truncate, like coreutils truncate: open, ftruncate, close
		p := c.pick(files)
		if fi, ok := c.inPlaceOK(p); ok {
			if f, err := os.OpenFile(c.abs(p), os.O_WRONLY, 0); err == nil {
				f.Truncate(fi.Size() / 2)
				f.Close()
			}
			c.note("truncate %q", p)
		}
	case op < 42 && len(files) > 0: // chmod
		p := c.pick(files)
		if _, ok := c.inPlaceOK(p); ok {
			modes := []os.FileMode{0o600, 0o644, 0o755, 0o640}
			os.Chmod(c.abs(p), modes[c.rng.IntN(len(modes))])
			c.note("chmod %q", p)
		}
	case op < 51 && len(files) > 0: // rename a file, maybe across dirs, maybe onto another file
		p := c.pick(files)
		var q string
		if c.rng.IntN(4) == 0 && len(files) > 1 {
			q = c.pick(files)
		} else {
			q = filepath.Join(c.pick(dirs), c.name())
		}
		os.Rename(c.abs(p), c.abs(q))
		c.note("rename %q -> %q", p, q)
	case op < 57 && len(dirs) > 1: // rename a directory (never into itself)
		p := c.pick(dirs[1:])
		parent := c.pick(dirs)
		if parent == p || strings.HasPrefix(parent+"/", p+"/") {
			return
		}
		q := filepath.Join(parent, c.name())
		os.Rename(c.abs(p), c.abs(q))
		c.note("rename dir %q -> %q", p, q)
	case op < 64 && len(files) > 0: // delete a file
		p := c.pick(files)
		os.Remove(c.abs(p))
		c.note("delete %q", p)
	case op < 67 && len(dirs) > 1: // rm -rf a directory
		p := c.pick(dirs[1:])
		os.RemoveAll(c.abs(p))
		c.note("rm -rf %q", p)
	case op < 76: // mkdir -p chain with files
		base := filepath.Join(c.pick(dirs), c.name(), c.name(), c.name())
		if os.MkdirAll(c.abs(base), 0o755) == nil {
			for i := c.rng.IntN(4); i >= 0; i-- {
				os.WriteFile(c.abs(filepath.Join(base, c.name())), c.data(), 0o644)
			}
		}
		c.note("mkdir -p %q + files", base)
	case op < 83: // symlink: relative, absolute or dangling
		p := filepath.Join(c.pick(dirs), c.name())
		var target string
		switch k := c.rng.IntN(3); {
		case k == 0 && len(files) > 0:
			target, _ = filepath.Rel(filepath.Dir(c.abs(p)), c.abs(c.pick(files)))
		case k == 1 && !c.noAbsSymlinks:
			target = "/etc/hostname"
		default:
			target = "dangling/" + c.name()
		}
		os.Symlink(target, c.abs(p))
		c.note("symlink %q -> %q", p, target)
	case op < 88 && len(files) > 0: // hard link, maybe across dirs
		p := c.pick(files)
		if fi, err := os.Lstat(c.abs(p)); err == nil && fi.Mode().IsRegular() {
			q := filepath.Join(c.pick(dirs), c.name())
			os.Link(c.abs(p), c.abs(q))
			c.note("hard link %q -> %q", q, p)
		}
	case op < 92 && len(files) > 0: // replace a file by a directory
		p := c.pick(files)
		if os.Remove(c.abs(p)) == nil && os.Mkdir(c.abs(p), 0o755) == nil {
			os.WriteFile(c.abs(filepath.Join(p, c.name())), c.data(), 0o644)
		}
		c.note("file -> dir %q", p)
	case op < 95 && len(dirs) > 1 && !c.noDirToFile: // replace a directory by a file
		p := c.pick(dirs[1:])
		if os.RemoveAll(c.abs(p)) == nil {
			os.WriteFile(c.abs(p), c.data(), 0o644)
		}
		c.note("dir -> file %q", p)
	default: // rapid create + delete
		p := filepath.Join(c.pick(dirs), c.name())
		os.WriteFile(c.abs(p), c.data(), 0o644)
		os.Remove(c.abs(p))
		c.note("create+delete %q", p)
	}
}

// run performs n operations, pausing now and then so that several batches
// are involved.
func (c *churner) run(n int) {
	for i := 0; i < n; i++ {
		c.step()
		if c.rng.IntN(200) == 0 {
			time.Sleep(time.Duration(c.rng.IntN(300)) * time.Millisecond)
		}
	}
}

// dump prints the last operations on failure.
func (c *churner) dump() {
	if c.t.Failed() {
		c.t.Logf("last operations:\n%s", strings.Join(c.log[max(0, len(c.log)-40):], "\n"))
	}
}

// seedTree creates a starting tree of dirs and files with varied modes,
// using names (oddNames when none are given) now and then.
func seedTree(t *testing.T, root string, seed uint64, ops int, names ...string) {
	c := newChurner(t, root, seed)
	if len(names) > 0 {
		c.names = names
	}
	for i := 0; i < ops; i++ {
		dirs, _ := c.entries()
		if c.rng.IntN(4) == 0 {
			os.MkdirAll(c.abs(filepath.Join(c.pick(dirs), c.name())), 0o755)
		} else {
			os.WriteFile(c.abs(filepath.Join(c.pick(dirs), c.name())), c.data(), 0o644)
		}
	}
}
