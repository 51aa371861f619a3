package rsyncproto

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Incremental recursion (CF_INC_RECURSE, protocol 30 and newer) for a
// whole-tree push: the first file list holds "." and its entries, and
// every directory listed gets a list of its own, sent depth first while
// the receiver already asks for file data (flist.c:send_file_list,
// send_extra_file_list, add_dirs_to_tree; sender.c:send_files).

// incLookahead is how many entries the sender keeps listed ahead of the
// lists the receiver finished (rsync.h:MIN_FILECNT_LOOKAHEAD); while the
// receiver is silent it lists more, up to incMaxLookahead (rsync bounds
// this at MAX_FILECNT_LOOKAHEAD, 10,000, io.c:perform_io). Without a
// bound a no-op sync, whose receiver has nothing to ask for, held the
// whole tree's entries (peak RSS 74-78 MB at 50,000 dirs / 250,000
// files). Measured there, alternating builds: 10,000 ahead made the
// no-op sync 1.2x slower at 36 MB; 30,000 kept its time at 46-49 MB.
const (
	incLookahead    = 1000
	incMaxLookahead = 30000
)

// incList is one file list sent and not yet finished by the receiver.
type incList struct {
	start   int32 // ndx of entries[0]; start-1 names the directory listed
	parent  int32 // index in incSender.dirs of that directory
	entries []*entry
}

// incSender is the sender's side of incremental recursion.
type incSender struct {
	ctx  context.Context
	s    *session
	b    *listBuilder // lists one directory at a time
	enc  *flistEncoder
	safe bool // an I/O error can end a list (CF_SAFE_FLIST or protocol 31)
	// dirs is rsync's dir_flist: every directory sent, in the order its
	// list was sent and sorted within it ("." is 0). A sub-list is
	// announced by its directory's index here. A directory's entry is
	// dropped once the receiver finished its list (done).
	dirs dirTable
	// todo holds the dirs indexes whose lists are still to send; the
	// last one is next (depth first, in sorted order).
	todo  []int32
	lists []*incList // sent, not finished, oldest first
	next  int32      // ndx_start of the next list
	ahead int        // entries in lists
	eof   bool       // NDX_FLIST_EOF sent
	// names are all paths sent, to attribute receiver messages.
	names *nameSet
	// leaders are the ndx of the first entry sent of each hard-link
	// group (-H).
	leaders map[hardLinkOf]int32
}

// wholeTree reports whether req pushes the whole tree and nothing else,
// the only request incremental recursion is used for.
func wholeTree(req *Request) bool {
	return len(req.Paths) == 1 && req.Paths[0].Recursive && (req.Paths[0].Name == "." || req.Paths[0].Name == "./" || req.Paths[0].Name == "")
}

func newIncSender(ctx context.Context, s *session, fl *fileList, names *nameSet) *incSender {
	o := s.opts
	b := newListBuilder(ctx, fl.root, o, s.c.touch)
	b.fl = fl
	fo := flistOpts{proto: s.proto, varint: s.compat&cfVarintFlistFlags != 0,
		id0Names: s.compat&cfID0Names != 0, owner: o.Owner, group: o.Group,
		numericIDs: o.NumericIDs, devices: o.Devices, specials: o.Specials, hardLinks: o.HardLinks,
		checksum: o.Checksum, csumLen: s.sums.kind.digestLen(),
		noLinks: o.NoLinks, acls: o.ACLs, xattrs: o.XAttrs, inline: true}
	return &incSender{ctx: ctx, s: s, b: b, enc: newFlistEncoder(fo, lookupUser, lookupGroup),
		safe: s.compat&cfSafeFlist != 0 || s.proto >= 31, next: 1, names: names}
}

// sendFirst sends the first list: "." and the entries of the root
// (flist.c:send_file_list with inc_recurse, a "." argument).
func (in *incSender) sendFirst() error {
	b := in.b
	fi, err := b.root.Stat()
	if err != nil {
		return fmt.Errorf("stat root: %w", err)
	}
	root, err := b.newEntry(new(entry), ".", fi, nil, "")
	if err != nil {
		return fmt.Errorf("stat root: %w", err)
	}
	if !root.isDir() {
		return fmt.Errorf("root %s: not a directory", b.root.Name())
	}
	root.topDir = true
	b.rootDev = root.dev
	b.readEntryAttrs([]*entry{root})
	if err := root.attrErr(); err != nil {
		return fmt.Errorf("read attributes of the root: %w", err)
	}
	entries := append([]*entry{root}, in.listDir(root)...)
	return in.sendList(-1, entries)
}

// listDir lists the entries of the directory e, one level
// (flist.c:send_directory): none when it is a mount point kept out by
// OneFileSystem, or cannot be read (a file error).
func (in *incSender) listDir(e *entry) []*entry {
	b := in.b
	if e.noContent {
		return nil
	}
	d, err := b.openListedDir(e)
	if err != nil {
		b.fileError(e.name, err)
		return nil
	}
	defer d.Close()
	if !b.sameDir(d, e) {
		return nil
	}
	names, err := d.ReadNames()
	if err != nil {
		b.fileError(e.name, err)
		return nil
	}
	// The entries of one list are made in one array: they are freed
	// together when the receiver is done with the list (sendList keeps
	// its own copy of each directory).
	slab := make([]entry, len(names))
	list := make([]*entry, 0, len(names))
	for _, n := range names {
		name := n
		if e.name != "." {
			name = e.name + "/" + n
		}
		c := b.dirEntry(d, n, name, e.realPath(), &slab[len(list)])
		if c == nil {
			slab[len(list)] = entry{}
			continue
		}
		if c.isDir() && b.opts.OneFileSystem && c.dev != b.rootDev {
			c.mountDir, c.noContent = true, true // flist.c:make_file, FLAG_MOUNT_DIR
		}
		list = append(list, c)
	}
	b.readEntryAttrs(list)
	kept := list[:0]
	for _, c := range list {
		if err := c.attrErr(); err != nil {
			b.fileError(c.name, err)
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// sendList sorts and sends one list of the entries of dirs[parent]
// (parent -1: the first list), adds its directories to dirs and to the
// lists still to send, and ends the lists when none is left.
func (in *incSender) sendList(parent int32, entries []*entry) error {
	s := in.s
	before := in.b.fl.ioError
	if parent >= 0 {
		s.out.buf = s.ndxOut.appendNdx(s.out.buf, ndxFlistOffset-parent, s.proto)
	}
	sortEntries(entries, s.proto)
	if s.opts.HardLinks {
		in.linkLeaders(entries)
	}
	in.enc.listStart = in.next
	for _, e := range entries {
		if s.opts.Checksum && e.isReg() {
			if sum := s.listChecksum(in.b.fl, e); sum != nil {
				e.ext().sum = sum
			}
		}
		s.out.buf = in.enc.appendEntry(s.out.buf, e)
		in.names.add(e.name)
		if err := s.out.maybeFlush(); err != nil {
			return fmt.Errorf("send file list: %w", s.cause(err))
		}
	}
	if s.opts.Listed != nil {
		s.opts.Listed(len(entries))
	}
	ioErr := in.b.fl.ioError
	changed := ioErr != before
	if changed && !in.safe && s.opts.Delete {
		// flist.c:fatal_unsafe_io_error: the receiver could not learn
		// of the error before it deletes in this directory.
		return &ExitError{Code: ExitUnsupported, Msg: "FATAL I/O ERROR: dying to avoid a --delete-during issue with a pre-3.0.7 receiver"}
	}
	if changed && in.safe {
		s.out.buf = in.enc.appendEnd(s.out.buf, ioErr, true)
	} else {
		s.out.buf = in.enc.appendEnd(s.out.buf, 0, false)
	}
	if changed && !in.safe && s.proto == 30 {
		if err := s.out.msgInt(msgIOError, ioErr); err != nil {
			return fmt.Errorf("send io error: %w", s.cause(err))
		}
	}
	l := &incList{start: in.next, parent: max(parent, 0), entries: entries}
	in.lists = append(in.lists, l)
	in.next += int32(len(entries)) + 1
	in.ahead += len(entries)
	// add_dirs_to_tree: every directory, content or not, gets a list;
	// "." has its entries in the first list.
	first := in.dirs.len()
	for _, e := range entries {
		if e.isDir() {
			// A copy: the entries of the list share one array
			// (listDir), which the directory must not keep for as
			// long as its own list waits to be sent.
			c := *e
			in.dirs.add(&c)
		}
	}
	for i := in.dirs.len() - 1; i >= first; i-- {
		if in.dirs.get(i).name != "." {
			in.todo = append(in.todo, i)
		}
	}
	if len(in.todo) == 0 {
		in.eof = true
		s.out.buf = s.ndxOut.appendNdx(s.out.buf, ndxFlistEOF, s.proto)
	}
	return nil
}

// linkLeaders marks the hard-linked entries of the list about to be
// sent at in.next: the first of a group sent leads it, the others name
// its ndx, which may be in an earlier list (flist.c:send_file_entry,
// idev_find).
func (in *incSender) linkLeaders(entries []*entry) {
	if in.leaders == nil {
		in.leaders = map[hardLinkOf]int32{}
	}
	for i, e := range entries {
		if !e.hlinked {
			continue
		}
		k := hardLinkOf{e.dev, e.ino}
		if lead, ok := in.leaders[k]; ok {
			e.hlinkFirst, e.ext().hlinkLead = false, lead
			continue
		}
		in.leaders[k] = in.next + int32(i)
		e.hlinkFirst = true
		if e.x != nil {
			e.x.hlinkLead = -1
		}
	}
}

// sendNext lists and sends the next directory's list.
func (in *incSender) sendNext() error {
	d := in.todo[len(in.todo)-1]
	in.todo = in.todo[:len(in.todo)-1]
	return in.sendList(d, in.listDir(in.dirs.get(d)))
}

// sendAhead sends lists until incLookahead entries are listed ahead of
// the receiver and the receiver has something to say
// (sender.c:send_files, io.c:perform_io with extra_flist_sending_enabled).
// The first list with a single entry is followed by one more
// (flist.c:send_file_list).
func (in *incSender) sendAhead() error {
	for !in.eof && (in.ahead < incLookahead || !in.s.dm.ready() && in.ahead < incMaxLookahead || in.ahead == 1 && len(in.lists) == 1) {
		if err := in.ctx.Err(); err != nil {
			return err
		}
		if err := in.sendNext(); err != nil {
			return err
		}
		if err := in.s.out.flush(); err != nil {
			return fmt.Errorf("send file list: %w", in.s.cause(err))
		}
	}
	return nil
}

// done drops the oldest list when the receiver finished it
// (sender.c:send_files, NDX_DONE): it reports whether lists remain, in
// which case the NDX_DONE is echoed and the phase goes on.
func (in *incSender) done() bool {
	if len(in.lists) == 0 {
		return false
	}
	l := in.lists[0]
	in.ahead -= len(l.entries)
	// The receiver is done with the directory too: only a list in
	// flight names its directory (entry), and every directory has one
	// list, so rsync's dir_flist need not hold it any more. Without
	// this the sender held every directory of the tree to the end.
	in.dirs.drop(l.parent)
	in.lists[0] = nil
	in.lists = in.lists[1:]
	return len(in.lists) > 0
}

// entry returns the entry the receiver names by ndx: an entry of a list
// not yet finished, or start-1 of a list, its directory.
func (in *incSender) entry(ndx int32) (*entry, error) {
	i := sort.Search(len(in.lists), func(i int) bool {
		l := in.lists[i]
		return ndx < l.start+int32(len(l.entries))
	})
	if i < len(in.lists) {
		l := in.lists[i]
		switch {
		case ndx >= l.start:
			return l.entries[ndx-l.start], nil
		case ndx == l.start-1:
			return in.dirs.get(l.parent), nil
		}
	}
	return nil, &ExitError{Code: ExitStreamIO, Msg: fmt.Sprintf("invalid file index %d (no such file list)", ndx)}
}

// limit is one more than the highest index sent.
func (in *incSender) limit() int {
	return int(in.next) - 1
}

// dirTable holds the directories of incSender.dirs by index, in chunks
// of dirChunk: a chunk whose directories were all dropped is freed. One
// slice of every directory sent took 8 bytes a directory to the end of
// the push (8 MB at 10^6 directories) and, at each growth, its old and
// new arrays at once.
type dirTable struct {
	chunks [][]*entry
	// live counts the directories of each chunk not yet dropped.
	live []int32
	n    int32 // directories added
}

// dirChunk is the number of directories in a dirTable chunk (8 KiB).
const dirChunk = 1024

func (t *dirTable) len() int32 { return t.n }

// add appends e; its index is the old len.
func (t *dirTable) add(e *entry) {
	c := int(t.n / dirChunk)
	if c == len(t.chunks) {
		t.chunks = append(t.chunks, make([]*entry, dirChunk))
		t.live = append(t.live, 0)
	}
	t.chunks[c][t.n%dirChunk] = e
	t.live[c]++
	t.n++
}

// get returns the directory i, nil once dropped.
func (t *dirTable) get(i int32) *entry {
	c := t.chunks[i/dirChunk]
	if c == nil {
		return nil
	}
	return c[i%dirChunk]
}

// drop forgets the directory i, and its chunk once it is full and all
// its directories were dropped.
func (t *dirTable) drop(i int32) {
	k := int(i / dirChunk)
	c := t.chunks[k]
	if c == nil || c[i%dirChunk] == nil {
		return
	}
	c[i%dirChunk] = nil
	t.live[k]--
	if t.live[k] == 0 && int32(k+1)*dirChunk <= t.n {
		t.chunks[k] = nil
	}
}

// readEntryAttrs reads the ACLs and xattrs of entries (-A, -X), several
// at once; an entry's failure is left in its attrErr.
func (b *listBuilder) readEntryAttrs(entries []*entry) {
	if b.fl.attrs == nil || len(entries) == 0 {
		return
	}
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range min(attrWorkers, len(entries)) {
		wg.Go(func() {
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= len(entries) {
					return
				}
				if b.tick != nil {
					b.tick()
				}
				entries[k].setAttrErr(b.fl.attrs.readEntry(entries[k], b.opts))
			}
		})
	}
	wg.Wait()
}

// errNotWholeTree: IncRecurse was asked for a push of other paths.
var errNotWholeTree = errors.New("incremental recursion needs a push of the whole tree (\".\" recursive)")
