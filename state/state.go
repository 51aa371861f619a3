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
// Neither taking nor comparing a snapshot holds the tree in memory: the
// walk goes depth first with each directory's names sorted, the file
// holds the entries in that order, and a comparison merges the two.
//
// It imports nothing from gsync but internal/beneath (the mode of an
// lstat result, as os.Lstat gives it).
package state

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Entry is one path of the source tree as the index holds it.
type Entry struct {
	Mode  fs.FileMode // type and permission bits, from lstat
	Size  int64       // 0 for directories
	Mtime int64       // nanoseconds since the epoch
	Ctime int64       // nanoseconds since the epoch (0 where the system has none)
	Ino   uint64
}

// Errors of Compare.
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

// format is the first line of an index file. The rest: the key, the time
// taken, the entries (path, mode, size, mtime, ctime, inode; uvarint and
// varint numbers, length-prefixed strings) in walk order, an empty path,
// the dirty paths and an empty path, then the SHA-256 of all before it.
const format = "gsync tree index 2\n"

// Snapshot is an index being written: Take walks the source into a
// temporary file, Commit makes it the index, Abort drops it.
type Snapshot struct {
	tmp   *os.File
	w     *bufio.Writer
	h     hash.Hash
	buf   []byte
	Taken time.Time
	// Unreadable are the directories the walk could not read: their
	// contents are not in the snapshot; Commit marks them dirty.
	Unreadable []string
}

// Take walks the tree below root into a new snapshot for file, the index
// of key (see Walk for exclude), taken now. The snapshot is written next
// to file until Commit.
func Take(ctx context.Context, file, key, root string, exclude func(rel string, isDir bool) bool, now time.Time) (*Snapshot, error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return nil, fmt.Errorf("write index: %w", err)
	}
	s := &Snapshot{tmp: tmp, h: sha256.New(), Taken: now}
	s.w = bufio.NewWriterSize(io.MultiWriter(tmp, s.h), 1<<16)
	s.buf = append(s.buf[:0], format...)
	s.buf = appendString(s.buf, key)
	s.buf = binary.AppendVarint(s.buf, now.UnixNano())
	s.w.Write(s.buf)
	err = Walk(ctx, root, exclude, func(rel string, e Entry, readable bool) error {
		if !readable {
			s.Unreadable = append(s.Unreadable, rel)
		}
		s.buf = appendString(s.buf[:0], rel)
		s.buf = binary.AppendUvarint(s.buf, uint64(e.Mode))
		s.buf = binary.AppendVarint(s.buf, e.Size)
		s.buf = binary.AppendVarint(s.buf, e.Mtime)
		s.buf = binary.AppendVarint(s.buf, e.Ctime)
		s.buf = binary.AppendUvarint(s.buf, e.Ino)
		_, err := s.w.Write(s.buf)
		return err
	})
	if err != nil {
		s.Abort()
		return nil, err
	}
	return s, nil
}

// Clean removes what a process that stopped while taking a snapshot for
// file left behind.
func Clean(file string) {
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".*"))
	for _, p := range left {
		os.Remove(p)
	}
}

// Abort drops the snapshot.
func (s *Snapshot) Abort() {
	s.tmp.Close()
	os.Remove(s.tmp.Name())
}

// Commit completes the snapshot with the dirty paths (and the unreadable
// directories) and makes it the index in file, crash-safely: synced,
// renamed over file, the directory synced.
func (s *Snapshot) Commit(file string, dirty []string) error {
	defer os.Remove(s.tmp.Name()) // after the rename: nothing there
	b := appendString(s.buf[:0], "")
	for _, p := range append(dirty, s.Unreadable...) {
		if p != "" {
			b = appendString(b, p)
		}
	}
	b = appendString(b, "")
	s.w.Write(b)
	if err := s.w.Flush(); err != nil {
		s.tmp.Close()
		return fmt.Errorf("write index %s: %w", s.tmp.Name(), err)
	}
	if _, err := s.tmp.Write(s.h.Sum(nil)); err != nil {
		s.tmp.Close()
		return fmt.Errorf("write index %s: %w", s.tmp.Name(), err)
	}
	if err := s.tmp.Sync(); err != nil {
		s.tmp.Close()
		return fmt.Errorf("sync index %s: %w", s.tmp.Name(), err)
	}
	if err := s.tmp.Close(); err != nil {
		return fmt.Errorf("close index %s: %w", s.tmp.Name(), err)
	}
	if err := os.Rename(s.tmp.Name(), file); err != nil {
		return fmt.Errorf("replace index %s: %w", file, err)
	}
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("sync directory %s: %w", filepath.Dir(file), err)
		}
	}
	return nil
}

// isFSError reports whether err comes from the file system (not from fn).
func isFSError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe)
}

// before reports whether path a comes before path b in walk order:
// component by component in byte order, a directory right before what
// is in it.
func before(a, b string) bool {
	for {
		ac, arest, aok := strings.Cut(a, "/")
		bc, brest, bok := strings.Cut(b, "/")
		if ac != bc {
			return ac < bc
		}
		if !aok || !bok {
			return !aok && bok // the parent first
		}
		a, b = arest, brest
	}
}

// Diff is what Compare found: the paths new or different at the source,
// and the paths gone from it (a deleted directory once, not what was in
// it), in walk order; and when the index was taken.
type Diff struct {
	Changed, Deleted []string
	Taken            time.Time
}

// Compare reads the index of key from file and compares the source below
// root with it (see Walk for exclude): the dirty paths of the index are
// in the result too; an unreadable directory counts as changed, and what
// the index holds below it is left alone (not deleted).
func Compare(ctx context.Context, file, key, root string, exclude func(rel string, isDir bool) bool) (*Diff, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoIndex
	}
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", file, err)
	}
	defer f.Close()
	// First pass: the checksum and the key.
	d := &Diff{}
	var dirty []string
	if err := readIndex(f, key, true, &d.Taken, nil, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// Second pass: merge the index with a walk of the source. The entries
	// come over in batches: one channel operation per entry cost as much
	// as the stat of it.
	const batch = 512
	old := make(chan []indexed, 4)
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() { // owned: Compare drains it before returning
		defer close(old)
		b := make([]indexed, 0, batch)
		send := func() bool {
			select {
			case old <- b:
				b = make([]indexed, 0, batch)
				return true
			case <-stop:
				return false
			}
		}
		err := readIndex(f, key, false, nil, func(p string, e Entry) bool {
			b = append(b, indexed{p, e})
			return len(b) < batch || send()
		}, &dirty) // read by Compare after readErr
		if err == nil && len(b) > 0 {
			send()
		}
		readErr <- err
	}()
	defer func() {
		close(stop)
		for range old {
		}
	}()
	var (
		cur  []indexed
		next indexed
		more bool
	)
	advance := func() {
		for len(cur) == 0 {
			if cur, more = <-old; !more {
				return
			}
		}
		next, cur = cur[0], cur[1:]
	}
	advance()
	gone := "" // the last deleted or unreadable directory: what was below it is done
	drain := func(upTo string, last bool) {
		for more && (last || before(next.path, upTo)) {
			if gone == "" || !strings.HasPrefix(next.path, gone+"/") {
				d.Deleted = append(d.Deleted, next.path)
				gone = ""
				if next.e.Mode.IsDir() {
					gone = next.path
				}
			}
			advance()
		}
	}
	seen := map[string]bool{}
	err = Walk(ctx, root, exclude, func(rel string, e Entry, readable bool) error {
		drain(rel, false)
		same := more && next.path == rel
		if !same || next.e != e || !readable {
			d.Changed = append(d.Changed, rel)
			seen[rel] = true
		}
		if same {
			advance()
		}
		if !readable {
			// Keep what the index has below it: skip it, delete nothing.
			for more && strings.HasPrefix(next.path, rel+"/") {
				advance()
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	drain("", true)
	if err := <-readErr; err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, p := range d.Deleted {
		seen[p] = true
	}
	for _, p := range dirty {
		if seen[p] {
			continue
		}
		seen[p] = true
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
			d.Changed = append(d.Changed, p)
		} else {
			d.Deleted = append(d.Deleted, p)
		}
	}
	return d, nil
}

type indexed struct {
	path string
	e    Entry
}

// readIndex reads an index file, checking the key, and the checksum
// first when verify is set (a caller that acts on the entries must have
// read the file with verify once before): it sets taken, passes each
// entry to each (until it returns false) and fills dirty (any may be
// nil; with each and dirty both nil it reads no further than the key).
func readIndex(f *os.File, key string, verify bool, taken *time.Time, each func(string, Entry) bool, dirty *[]string) error {
	if verify {
		if err := checkSum(f); err != nil {
			return err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	r := &reader{r: bufio.NewReaderSize(f, 1<<16)}
	head := make([]byte, len(format))
	if _, err := io.ReadFull(r.r, head); err != nil || string(head) != format {
		return fmt.Errorf("%w (not a gsync tree index, or of another version)", ErrCorrupt)
	}
	if r.string() != key && r.err == nil {
		return ErrOtherKey // the checksum held: a sound index of another key
	}
	t := r.varint()
	if taken != nil {
		*taken = time.Unix(0, t)
	}
	if each == nil && dirty == nil {
		if r.err != nil {
			return fmt.Errorf("%w (%v)", ErrCorrupt, r.err)
		}
		return nil
	}
	for r.err == nil {
		p := r.string()
		if p == "" || r.err != nil {
			break
		}
		e := Entry{Mode: fs.FileMode(r.uvarint()), Size: r.varint(), Mtime: r.varint(), Ctime: r.varint(), Ino: r.uvarint()}
		if each != nil && r.err == nil && !each(p, e) {
			return nil
		}
	}
	for r.err == nil {
		p := r.string()
		if p == "" || r.err != nil {
			break
		}
		if dirty != nil {
			*dirty = append(*dirty, p)
		}
	}
	if r.err != nil {
		return fmt.Errorf("%w (%v)", ErrCorrupt, r.err)
	}
	return nil
}

// checkSum checks that the last sha256.Size bytes of f are the SHA-256
// of all before them. It reads f in large blocks: hashing per byte read
// cost more than the walk it is compared with.
func checkSum(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	body := fi.Size() - sha256.Size
	if body < int64(len(format)) {
		return fmt.Errorf("%w (too short)", ErrCorrupt)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.LimitReader(f, body), make([]byte, 1<<16)); err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(f, got); err != nil || string(got) != string(h.Sum(nil)) {
		return fmt.Errorf("%w (checksum)", ErrCorrupt)
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader reads what Snapshot wrote; the first error sticks.
type reader struct {
	r   *bufio.Reader
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(r.r)
	if err != nil {
		r.err = fmt.Errorf("bad number: %w", err)
	}
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(r.r)
	if err != nil {
		r.err = fmt.Errorf("bad number: %w", err)
	}
	return v
}

// maxPath bounds a path read back (PATH_MAX, and then some).
const maxPath = 1 << 16

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > maxPath {
		r.err = fmt.Errorf("a %d-byte path", n)
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		r.err = fmt.Errorf("a path past the end: %w", err)
		return ""
	}
	return string(b)
}
