// Package state keeps, across restarts, what a target held after its last
// full sync: the tree index. It is a snapshot of the source tree (path,
// type and mode, size, mtime, and the inode and ctime that change with
// every write) taken right before a full sync that then went through,
// plus the paths that sync could not bring over ("dirty"). On a restart
// the source is compared with it (a local walk only) and just what
// differs is pushed.
//
// Why a snapshot taken before the sync never hides a change: a change
// made before the walk reached a path is in the snapshot and was pushed
// by the sync that followed; a change made after it differs from the
// snapshot (ctime moves on every change, an inode on every replacement),
// so the next comparison finds it. A snapshot is written to a temporary
// file, synced and renamed over the old one, so a crash leaves the old
// snapshot (older: it finds more, never less) or the new one.
//
// It imports nothing from gsync.
package state

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// Entry is one path of the source tree as the index holds it.
type Entry struct {
	Mode  fs.FileMode // type and permission bits, from lstat
	Size  int64
	Mtime int64 // nanoseconds since the epoch
	Ctime int64 // nanoseconds since the epoch (0 where the system has none)
	Ino   uint64
}

// Tree is a walk of the source: entries by slash-separated path relative
// to the root (the root itself is not included).
type Tree map[string]Entry

// Index is what a target held after its last full sync.
type Index struct {
	// Key names the source, the target and every option that decides
	// what lands there (see KeyOf): an index of another key is not used.
	Key   string
	Taken time.Time // when the walk started
	Tree  Tree
	// Dirty paths differ from the tree at the target, or may: failed in
	// the sync, or changed while it ran. They are pushed on a restart.
	Dirty []string
}

// Errors of Load.
var (
	// ErrNoIndex: there is no index yet.
	ErrNoIndex = errors.New("no index yet")
	// ErrOtherKey: the index is for another source, target or options.
	ErrOtherKey = errors.New("the index is for another source, target or options")
	// ErrCorrupt: the index file cannot be read back as written.
	ErrCorrupt = errors.New("the index file is damaged")
)

// KeyOf is the key of an index from the words that decide what lands on
// a target: the source, the target, the options.
func KeyOf(words ...string) string {
	h := sha256.New()
	for _, w := range words {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(w)))
		h.Write(n[:])
		io.WriteString(h, w)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// File is the file in dir that holds the index named by id (a KeyOf).
func File(dir, id string) string {
	return filepath.Join(dir, "index-"+id[:24])
}

// Walk lists the tree below root, leaving out what exclude says
// (exclude(rel, isDir); nil: nothing) and everything below an excluded
// directory. A directory that cannot be read is left out with everything
// below it and reported in the returned list, so that its paths count as
// dirty. It stops when ctx is done.
func Walk(ctx context.Context, root string, exclude func(rel string, isDir bool) bool) (Tree, []string, error) {
	t := Tree{}
	var unreadable []string
	var walk func(dir string) error
	walk = func(dir string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		full := root
		if dir != "" {
			full = filepath.Join(root, filepath.FromSlash(dir))
		}
		ents, err := os.ReadDir(full)
		if err != nil && len(ents) == 0 {
			if dir == "" {
				return fmt.Errorf("read source %s: %w", root, err)
			}
			unreadable = append(unreadable, dir)
			return nil
		}
		for _, de := range ents {
			rel := de.Name()
			if dir != "" {
				rel = dir + "/" + rel
			}
			if exclude != nil && exclude(rel, de.IsDir()) {
				continue
			}
			fi, err := de.Info()
			if err != nil {
				continue // gone since it was read: not in the tree
			}
			t[rel] = entryOf(fi)
			if fi.IsDir() {
				if err := walk(rel); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, nil, err
	}
	return t, unreadable, nil
}

// Diff compares the source as it is now (cur) with the index: the paths
// that are new or differ (with their entry in cur), and the paths gone
// from the source, each deleted path once (not what lies below a deleted
// directory). Dirty paths of the index are in one of the two lists.
// Both lists are sorted.
func (x *Index) Diff(cur Tree) (changed, deleted []string) {
	for p, e := range cur {
		if old, ok := x.Tree[p]; !ok || old != e {
			changed = append(changed, p)
		}
	}
	for p := range x.Tree {
		if _, ok := cur[p]; !ok && !parentGone(p, x.Tree, cur) {
			deleted = append(deleted, p)
		}
	}
	seen := map[string]bool{}
	for _, p := range changed {
		seen[p] = true
	}
	for _, p := range deleted {
		seen[p] = true
	}
	for _, p := range x.Dirty {
		if seen[p] {
			continue
		}
		seen[p] = true
		if _, ok := cur[p]; ok {
			changed = append(changed, p)
		} else {
			deleted = append(deleted, p)
		}
	}
	sort.Strings(changed)
	sort.Strings(deleted)
	return changed, deleted
}

// parentGone reports whether a parent directory of p is gone from cur
// too (then p goes with it).
func parentGone(p string, old, cur Tree) bool {
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if _, was := old[d]; was {
			if _, is := cur[d]; !is {
				return true
			}
		}
	}
	return false
}

// format is the first line of an index file.
const format = "gsync tree index 1\n"

// Save writes the index to file crash-safely: a temporary file in the same
// directory, synced, renamed over file, and the directory synced.
func Save(file string, x *Index) error {
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, ".index-*")
	if err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing there
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(tmp, h), 1<<16)
	if err := encode(w, x); err != nil {
		tmp.Close()
		return fmt.Errorf("write index %s: %w", tmp.Name(), err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("write index %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(h.Sum(nil)); err != nil {
		tmp.Close()
		return fmt.Errorf("write index %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync index %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close index %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("replace index %s: %w", file, err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("sync directory %s: %w", dir, err)
		}
	}
	return nil
}

// Load reads the index of key from file.
func Load(file, key string) (*Index, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoIndex
	}
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", file, err)
	}
	if len(data) < sha256.Size {
		return nil, fmt.Errorf("%s: %w (too short)", file, ErrCorrupt)
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); string(got[:]) != string(sum) {
		return nil, fmt.Errorf("%s: %w (checksum)", file, ErrCorrupt)
	}
	x, err := decode(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", file, ErrCorrupt, err)
	}
	if x.Key != key {
		return nil, ErrOtherKey
	}
	return x, nil
}

// encode writes the index: the format line, the key, the time, the dirty
// paths, then the entries in path order (uvarint lengths and numbers).
func encode(w *bufio.Writer, x *Index) error {
	var b []byte
	b = append(b, format...)
	b = appendString(b, x.Key)
	b = binary.AppendVarint(b, x.Taken.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(x.Dirty)))
	for _, p := range x.Dirty {
		b = appendString(b, p)
	}
	b = binary.AppendUvarint(b, uint64(len(x.Tree)))
	if _, err := w.Write(b); err != nil {
		return err
	}
	paths := make([]string, 0, len(x.Tree))
	for p := range x.Tree {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		e := x.Tree[p]
		b = appendString(b[:0], p)
		b = binary.AppendUvarint(b, uint64(e.Mode))
		b = binary.AppendVarint(b, e.Size)
		b = binary.AppendVarint(b, e.Mtime)
		b = binary.AppendVarint(b, e.Ctime)
		b = binary.AppendUvarint(b, e.Ino)
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads what encode wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("bad number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errors.New("string past the end")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func decode(body []byte) (*Index, error) {
	if len(body) < len(format) || string(body[:len(format)]) != format {
		return nil, errors.New("not a gsync tree index (or another version)")
	}
	d := &decoder{b: body[len(format):]}
	x := &Index{Key: d.string(), Taken: time.Unix(0, d.varint())}
	nd := d.uvarint()
	if nd > uint64(len(d.b)) {
		return nil, errors.New("dirty count past the end")
	}
	for i := uint64(0); i < nd && d.err == nil; i++ {
		x.Dirty = append(x.Dirty, d.string())
	}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return nil, errors.New("entry count past the end")
	}
	x.Tree = make(Tree, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		p := d.string()
		x.Tree[p] = Entry{Mode: fs.FileMode(d.uvarint()), Size: d.varint(), Mtime: d.varint(), Ctime: d.varint(), Ino: d.uvarint()}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("data after the last entry")
	}
	return x, nil
}
