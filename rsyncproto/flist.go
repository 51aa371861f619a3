package rsyncproto

import (
	"bytes"
	"sort"
	"strings"
)

// Unix st_mode type bits as they travel on the wire (rsync.h, to_wire_mode).
const (
	sIFMT   = 0o170000
	sIFSOCK = 0o140000
	sIFLNK  = 0o120000
	sIFREG  = 0o100000
	sIFBLK  = 0o060000
	sIFDIR  = 0o040000
	sIFCHR  = 0o020000
	sIFIFO  = 0o010000
)

// XMIT flag bits (rsync.h).
const (
	xmitTopDir          = 1 << 0
	xmitSameMode        = 1 << 1
	xmitExtendedFlags   = 1 << 2 // 28+; SAME_RDEV_pre28 below
	xmitSameRdevPre28   = 1 << 2
	xmitSameUID         = 1 << 3
	xmitSameGID         = 1 << 4
	xmitSameName        = 1 << 5
	xmitLongName        = 1 << 6
	xmitSameTime        = 1 << 7
	xmitSameRdevMajor   = 1 << 8
	xmitNoContentDir    = 1 << 8
	xmitHlinked         = 1 << 9
	xmitSameDevPre30    = 1 << 10
	xmitUserNameFollows = 1 << 10
	xmitRdevMinor8Pre30 = 1 << 11
	xmitGroupNameFollow = 1 << 11
	xmitHlinkFirst      = 1 << 12
	xmitIOErrorEndList  = 1 << 12
	xmitModNsec         = 1 << 13
)

// Compat flags (compat.c).
const (
	cfIncRecurse        = 1 << 0
	cfSymlinkTimes      = 1 << 1
	cfSymlinkIconv      = 1 << 2
	cfSafeFlist         = 1 << 3
	cfAvoidXattrOptim   = 1 << 4
	cfChksumSeedFix     = 1 << 5
	cfInplacePartialDir = 1 << 6
	cfVarintFlistFlags  = 1 << 7
	cfID0Names          = 1 << 8
)

// io_error bits (rsync.h).
const (
	ioErrGeneral  = 1 << 0
	ioErrVanished = 1 << 1
	ioErrDelLimit = 1 << 2
)

// entry is one file-list entry. It holds what every entry has; the
// fields most entries leave empty (a symlink's target, a device's
// numbers, --checksum, -A, -X, -H, followed links) are in x, nil for a
// plain file or directory: the sender keeps tens of thousands of
// entries listed ahead of the receiver (incMaxLookahead), and with all
// the fields inline an entry took 208 bytes (TestEntrySize).
type entry struct {
	name     string // wire name, relative, "." for the root
	size     int64
	mtime    int64
	dev, ino uint64 // identity, checked when the entry is opened
	x        *entryExt
	mode     uint32 // Unix st_mode
	nsec     int32
	uid, gid uint32
	// followed: the entry is a symlink listed as its referent.
	followed  bool
	topDir    bool // XMIT_TOP_DIR on a directory
	noContent bool // XMIT_NO_CONTENT_DIR (protocol >= 30)
	mountDir  bool // a mount point OneFileSystem did not walk (sender only)
	// hard links
	hlinked    bool // member of a hard-link group
	hlinkFirst bool // first member in send order (protocol >= 30)
}

// entryExt holds the entry fields that only some entries use; read them
// through the entry's accessors, which give the zero values without x.
type entryExt struct {
	link string // symlink target
	// real is the absolute path, every symlink resolved, of an entry
	// reached through a followed symlink (-L, --copy-unsafe-links, -k):
	// the followed link itself or anything below it; "" for the others,
	// which are opened beneath the root by name.
	real    string
	sum     []byte // --checksum digest
	rdevMaj uint32
	rdevMin uint32
	rdevRaw uint32 // raw 32-bit dev_t for protocol < 28
	// hlinkLead is the send-order index of the hard-link group's leader,
	// -1 if leader (protocol >= 30).
	hlinkLead int32
	// -A and -X (read by the builder; nil when not asked or not read)
	acls *entryACLs
	// xattrs is the entry's xattr set as read; once the entry is sent,
	// the sent set it shares with entries of equal sets (xattrEncoder).
	xattrs xattrSet
	// attrErr is why the entry's ACLs or xattrs could not be read
	// (listBuilder.readAttrs leaves it out then).
	attrErr error
}

// ext returns e's extension, made on first use, for setting its fields.
func (e *entry) ext() *entryExt {
	if e.x == nil {
		e.x = &entryExt{hlinkLead: -1}
	}
	return e.x
}

// link is the target of the symlink e ("" for other entries).
func (e *entry) link() string {
	if e.x == nil {
		return ""
	}
	return e.x.link
}

// realPath is entryExt.real: the real path of an entry reached through a
// followed symlink, else "".
func (e *entry) realPath() string {
	if e.x == nil {
		return ""
	}
	return e.x.real
}

// sum is e's --checksum digest (nil when none).
func (e *entry) sum() []byte {
	if e.x == nil {
		return nil
	}
	return e.x.sum
}

// rdev is a device's numbers: major, minor and the raw pre-28 dev_t.
func (e *entry) rdev() (major, minor, raw uint32) {
	if e.x == nil {
		return 0, 0, 0
	}
	return e.x.rdevMaj, e.x.rdevMin, e.x.rdevRaw
}

// hlinkLead is the send-order index of e's hard-link leader, -1 when e
// leads (or is no hard link).
func (e *entry) hlinkLead() int32 {
	if e.x == nil {
		return -1
	}
	return e.x.hlinkLead
}

// acls is e's ACLs as read (-A); nil for none beyond its mode.
func (e *entry) acls() *entryACLs {
	if e.x == nil {
		return nil
	}
	return e.x.acls
}

// xattrs is e's xattr set (-X).
func (e *entry) xattrs() xattrSet {
	if e.x == nil {
		return nil
	}
	return e.x.xattrs
}

// attrErr is why e's ACLs or xattrs could not be read, nil if they were.
func (e *entry) attrErr() error {
	if e.x == nil {
		return nil
	}
	return e.x.attrErr
}

// setAttrErr records the outcome of reading e's ACLs and xattrs.
func (e *entry) setAttrErr(err error) {
	if err != nil || e.x != nil {
		e.ext().attrErr = err
	}
}

func (e *entry) isDir() bool  { return e.mode&sIFMT == sIFDIR }
func (e *entry) isReg() bool  { return e.mode&sIFMT == sIFREG }
func (e *entry) isLink() bool { return e.mode&sIFMT == sIFLNK }
func (e *entry) isDev() bool {
	t := e.mode & sIFMT
	return t == sIFCHR || t == sIFBLK
}
func (e *entry) isSpecial() bool {
	t := e.mode & sIFMT
	return t == sIFIFO || t == sIFSOCK
}

// flistOpts selects the optional entry fields, mirroring the server argv.
type flistOpts struct {
	proto      int
	varint     bool // CF_VARINT_FLIST_FLAGS
	id0Names   bool // CF_ID0_NAMES
	owner      bool
	group      bool
	numericIDs bool
	devices    bool // --devices
	specials   bool // --specials
	hardLinks  bool
	checksum   bool
	csumLen    int
	noLinks    bool // no -l: symlinks are listed without their target
	acls       bool // -A (protocol >= 30)
	xattrs     bool // -X (protocol >= 30)
	// inline: incremental recursion; no id lists end the file list,
	// the first entry (or ACL entry) with an id carries its name
	// (flist.c:send_file_entry, XMIT_USER_NAME_FOLLOWS).
	inline bool
}

// hardLinkOf is a hard-link group: device and inode.
type hardLinkOf struct{ dev, ino uint64 }

// flistEncoder writes entries with the session-wide "previous entry" state
// of flist.c:send_file_entry.
type flistEncoder struct {
	o        flistOpts
	lastName string
	mode     uint32
	mtime    int64
	uid, gid uint32
	rdev     uint32 // pre-28 raw rdev
	rdevMaj  uint32
	dev      uint64
	haveDev  bool
	userName func(uint32) string
	grpName  func(uint32) string
	uids     map[uint32]string
	gids     map[uint32]string
	uidOrder []uint32
	gidOrder []uint32
	acl      *aclEncoder   // -A
	xattr    *xattrEncoder // -X
	// listStart is the ndx of the first entry of the list being encoded
	// (incremental recursion; 0 otherwise): a hard link whose leader is
	// in an earlier list carries its attributes in full.
	listStart int32
}

func newFlistEncoder(o flistOpts, userName, groupName func(uint32) string) *flistEncoder {
	if userName == nil {
		userName = func(uint32) string { return "" }
	}
	if groupName == nil {
		groupName = func(uint32) string { return "" }
	}
	f := &flistEncoder{o: o, userName: userName, grpName: groupName,
		uids: map[uint32]string{}, gids: map[uint32]string{}}
	if o.acls {
		f.acl = newACLEncoder(o.numericIDs,
			func(id uint32) string { return f.inlineName(f.addID(f.uids, &f.uidOrder, id, f.userName)) },
			func(id uint32) string { return f.inlineName(f.addID(f.gids, &f.gidOrder, id, f.grpName)) })
	}
	if o.xattrs {
		f.xattr = newXattrEncoder()
	}
	return f
}

// appendEntry encodes e and, with -A and -X, its ACLs and xattrs
// (flist.c:send_file_name: send_file_entry, send_acl, send_xattr; a
// symlink has no ACLs). ndx is e's index in send order (ndx_start is 0:
// no incremental recursion).
func (f *flistEncoder) appendEntry(b []byte, e *entry) []byte {
	b = f.appendRecord(b, e)
	if f.acl != nil && !e.isLink() {
		b = f.acl.appendEntry(b, e.mode, e.acls())
	}
	if f.xattr != nil {
		var sent xattrSet
		b, sent = f.xattr.appendSet(b, e.xattrs())
		if len(sent) > 0 {
			e.ext().xattrs = sent
		}
	}
	return b
}

// appendRecord encodes e's file-list record (flist.c:send_file_entry).
func (f *flistEncoder) appendRecord(b []byte, e *entry) []byte {
	o := &f.o
	var xflags uint32
	switch {
	case e.isDir():
		if o.proto >= 30 {
			if e.noContent {
				xflags = xmitNoContentDir
			} else if e.topDir {
				xflags = xmitTopDir
			}
		} else if e.topDir {
			xflags = xmitTopDir
		}
	}
	if e.mode == f.mode {
		xflags |= xmitSameMode
	} else {
		f.mode = e.mode
	}
	var rdevMaj, rdevMin uint32
	sendRdev := false
	var rdevRaw uint32
	if o.devices && e.isDev() {
		sendRdev = true
		rdevMaj, rdevMin, rdevRaw = e.rdev()
		if o.proto < 28 {
			if rdevRaw == f.rdev {
				xflags |= xmitSameRdevPre28
			} else {
				f.rdev = rdevRaw
			}
		} else {
			if rdevMaj == f.rdevMaj {
				xflags |= xmitSameRdevMajor
			} else {
				f.rdevMaj = rdevMaj
			}
			if o.proto < 30 && rdevMin <= 0xff {
				xflags |= xmitRdevMinor8Pre30
			}
		}
	} else if o.specials && e.isSpecial() && o.proto < 31 {
		sendRdev = true
		if o.proto < 28 {
			xflags |= xmitSameRdevPre28
		} else {
			rdevMaj, rdevMin = f.rdevMaj, 0
			xflags |= xmitSameRdevMajor
			if o.proto < 30 {
				xflags |= xmitRdevMinor8Pre30
			}
		}
	} else if o.proto < 28 {
		f.rdev = 0
	}
	var userName, groupName string // inline names (incremental recursion)
	if !o.owner || (e.uid == f.uid && f.lastName != "") {
		xflags |= xmitSameUID
	} else {
		f.uid = e.uid
		if !o.numericIDs {
			if userName = f.inlineName(f.addID(f.uids, &f.uidOrder, e.uid, f.userName)); userName != "" {
				xflags |= xmitUserNameFollows
			}
		}
	}
	if !o.group || (e.gid == f.gid && f.lastName != "") {
		xflags |= xmitSameGID
	} else {
		f.gid = e.gid
		if !o.numericIDs {
			if groupName = f.inlineName(f.addID(f.gids, &f.gidOrder, e.gid, f.grpName)); groupName != "" {
				xflags |= xmitGroupNameFollow
			}
		}
	}
	if e.mtime == f.mtime {
		xflags |= xmitSameTime
	} else {
		f.mtime = e.mtime
	}
	if e.nsec != 0 && o.proto >= 31 {
		xflags |= xmitModNsec
	}
	if e.hlinked && o.hardLinks {
		if o.proto >= 30 {
			if e.hlinkFirst {
				xflags |= xmitHlinkFirst
			}
		} else if f.haveDev && e.dev == f.dev {
			if o.proto >= 28 {
				xflags |= xmitSameDevPre30
			}
		} else {
			f.dev, f.haveDev = e.dev, true
		}
		xflags |= xmitHlinked
	}
	l1 := 0
	for l1 < len(f.lastName) && l1 < len(e.name) && l1 < 255 && e.name[l1] == f.lastName[l1] {
		l1++
	}
	l2 := len(e.name) - l1
	if l1 > 0 {
		xflags |= xmitSameName
	}
	if l2 > 255 {
		xflags |= xmitLongName
	}
	switch {
	case o.varint:
		if xflags == 0 {
			b = appendVarint(b, xmitExtendedFlags)
		} else {
			b = appendVarint(b, int32(xflags))
		}
	case o.proto >= 28:
		if xflags == 0 && !e.isDir() {
			xflags |= xmitTopDir
		}
		if xflags&0xff00 != 0 || xflags == 0 {
			xflags |= xmitExtendedFlags
			b = appendShort(b, uint16(xflags))
		} else {
			b = append(b, byte(xflags))
		}
	default:
		if xflags&0xff == 0 {
			if e.isDir() {
				xflags |= xmitLongName
			} else {
				xflags |= xmitTopDir
			}
		}
		b = append(b, byte(xflags))
	}
	if xflags&xmitSameName != 0 {
		b = append(b, byte(l1))
	}
	if xflags&xmitLongName != 0 {
		b = appendVarint30(b, int32(l2), o.proto)
	} else {
		b = append(b, byte(l2))
	}
	b = append(b, e.name[l1:]...)
	f.lastName = e.name
	if o.hardLinks && o.proto >= 30 && e.hlinked && !e.hlinkFirst {
		// flist.c:send_file_entry: the leader's index; a leader in this
		// list gives the rest, one in an earlier list does not.
		lead := e.hlinkLead()
		b = appendVarint(b, lead)
		if lead >= f.listStart {
			return b
		}
	}
	if o.proto >= 30 {
		b = appendVarlong(b, e.size, 3)
	} else {
		b = appendLongint(b, e.size)
	}
	if xflags&xmitSameTime == 0 {
		if o.proto >= 30 {
			b = appendVarlong(b, e.mtime, 4)
		} else {
			b = appendInt(b, int32(e.mtime))
		}
	}
	if xflags&xmitModNsec != 0 {
		b = appendVarint(b, e.nsec)
	}
	if xflags&xmitSameMode == 0 {
		b = appendInt(b, int32(e.mode))
	}
	if o.owner && xflags&xmitSameUID == 0 {
		b = appendVarint30(b, int32(e.uid), o.proto)
		if userName != "" {
			b = appendIDName(b, userName)
		}
	}
	if o.group && xflags&xmitSameGID == 0 {
		b = appendVarint30(b, int32(e.gid), o.proto)
		if groupName != "" {
			b = appendIDName(b, groupName)
		}
	}
	if sendRdev {
		if o.proto < 28 {
			if xflags&xmitSameRdevPre28 == 0 {
				b = appendInt(b, int32(rdevRaw))
			}
		} else {
			if xflags&xmitSameRdevMajor == 0 {
				b = appendVarint30(b, int32(rdevMaj), o.proto)
			}
			switch {
			case o.proto >= 30:
				b = appendVarint(b, int32(rdevMin))
			case xflags&xmitRdevMinor8Pre30 != 0:
				b = append(b, byte(rdevMin))
			default:
				b = appendInt(b, int32(rdevMin))
			}
		}
	}
	if e.isLink() && !o.noLinks {
		link := e.link()
		b = appendVarint30(b, int32(len(link)), o.proto)
		b = append(b, link...)
	}
	if o.hardLinks && e.hlinked && o.proto < 30 {
		if o.proto < 26 {
			b = appendInt(b, int32(e.dev+1))
			b = appendInt(b, int32(e.ino))
		} else {
			if xflags&xmitSameDevPre30 == 0 {
				b = appendLongint(b, int64(e.dev+1))
			}
			b = appendLongint(b, int64(e.ino))
		}
	}
	if o.checksum && (e.isReg() || o.proto < 28) {
		s := e.sum()
		if len(s) != o.csumLen {
			s = make([]byte, o.csumLen)
		}
		b = append(b, s...)
	}
	return b
}

// addID records id and its name the first time it is sent
// (uidlist.c:add_uid, add_gid) and returns the name then; "" after.
func (f *flistEncoder) addID(m map[uint32]string, order *[]uint32, id uint32, lookup func(uint32) string) string {
	if _, ok := m[id]; ok {
		return ""
	}
	name := lookup(id)
	m[id] = name
	*order = append(*order, id)
	return name
}

// inlineName is the name an entry carries inline: only with incremental
// recursion, where no id lists are sent.
func (f *flistEncoder) inlineName(name string) string {
	if !f.o.inline {
		return ""
	}
	return name
}

// appendIDName appends an inline id name: a length byte and the name,
// cut at 255 bytes (flist.c:send_file_entry).
func appendIDName(b []byte, name string) []byte {
	if len(name) > 255 {
		name = name[:255]
	}
	b = append(b, byte(len(name)))
	return append(b, name...)
}

// appendEnd writes the end-of-list marker, the id lists and (protocol < 30)
// the io_error int (flist.c:write_end_of_flist, send_file_list).
func (f *flistEncoder) appendEnd(b []byte, ioError int32, safeFlist bool) []byte {
	o := &f.o
	switch {
	case o.varint:
		b = appendVarint(b, 0)
		if safeFlist {
			b = appendVarint(b, ioError)
		} else {
			b = appendVarint(b, 0)
		}
	case ioError != 0 && safeFlist:
		b = appendShort(b, xmitExtendedFlags|xmitIOErrorEndList)
		b = appendVarint(b, ioError)
	default:
		b = append(b, 0)
	}
	if !o.numericIDs && !o.inline {
		// uidlist.c:send_id_lists: ACL entries' ids are in the lists too.
		if o.owner || o.acls {
			b = f.appendIDList(b, f.uids, f.uidOrder, f.userName)
		}
		if o.group || o.acls {
			b = f.appendIDList(b, f.gids, f.gidOrder, f.grpName)
		}
	}
	if o.proto < 30 {
		b = appendInt(b, ioError)
	}
	return b
}

// appendIDList is uidlist.c:send_one_list.
func (f *flistEncoder) appendIDList(b []byte, m map[uint32]string, order []uint32, lookup func(uint32) string) []byte {
	one := func(b []byte, id uint32, name string) []byte {
		if len(name) > 255 {
			name = name[:255]
		}
		b = appendVarint30(b, int32(id), f.o.proto)
		b = append(b, byte(len(name)))
		return append(b, name...)
	}
	for _, id := range order {
		if id != 0 && m[id] != "" {
			b = one(b, id, m[id])
		}
	}
	if f.o.id0Names {
		return one(b, 0, lookup(0))
	}
	return appendVarint30(b, 0, f.o.proto)
}

func appendVarint30(b []byte, v int32, proto int) []byte {
	if proto < 30 {
		return appendInt(b, v)
	}
	return appendVarint(b, v)
}

// compareNames orders wire names the way the receiver sorts its list
// (flist.c:f_name_cmp). From protocol 29 on, paths compare component by
// component, files before directories at each level, a directory as if its
// name ended in "/", and "." first; below 29 the full paths compare bytewise.
func compareNames(a string, aDir bool, b string, bDir bool, proto int) int {
	if proto < 29 {
		return strings.Compare(a, b)
	}
	if a == b {
		return 0
	}
	if a == "." {
		return -1
	}
	if b == "." {
		return 1
	}
	for {
		ai := strings.IndexByte(a, '/')
		bi := strings.IndexByte(b, '/')
		ac, bc := a, b
		aIsDir, bIsDir := aDir, bDir
		if ai >= 0 {
			ac, aIsDir = a[:ai], true
		}
		if bi >= 0 {
			bc, bIsDir = b[:bi], true
		}
		if aIsDir != bIsDir {
			if aIsDir {
				return 1
			}
			return -1
		}
		if ac != bc {
			if aIsDir {
				return bytes.Compare(append([]byte(ac), '/'), append([]byte(bc), '/'))
			}
			return strings.Compare(ac, bc)
		}
		// Same component: the shorter path is the directory itself.
		if ai < 0 {
			return -1
		}
		if bi < 0 {
			return 1
		}
		a, b = a[ai+1:], b[bi+1:]
	}
}

// sortEntries sorts list in the receiver's order for protocol proto.
func sortEntries(list []*entry, proto int) {
	sort.SliceStable(list, func(i, j int) bool {
		return compareNames(list[i].name, list[i].isDir(), list[j].name, list[j].isDir(), proto) < 0
	})
}
