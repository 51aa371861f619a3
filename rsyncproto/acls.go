package rsyncproto

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// POSIX ACLs for -A (acls.c). The sender reads each listed entry's access
// ACL (and a directory's default ACL), strips what the mode already says
// and sends it after the entry's file-list record; an ACL sent before is
// sent as its index in the list of sent ACLs (one list per ACL type).

// aclNoEntry marks an absent permission object (acls.c NO_ENTRY).
const aclNoEntry = 0x80

// aclNameIsUser flags a named-user entry in idAccess.access (acls.c
// NAME_IS_USER); without it the entry names a group.
const aclNameIsUser = 1 << 31

// Flags of a literal ACL on the wire (acls.c XMIT_*_OBJ, XMIT_NAME_LIST)
// and of a named entry's access value (XFLAG_NAME_IS_USER).
const (
	aclXmitUserObj  = 1 << 0
	aclXmitGroupObj = 1 << 1
	aclXmitMaskObj  = 1 << 2
	aclXmitOtherObj = 1 << 3
	aclXmitNameList = 1 << 4

	aclXflagNameFollows = 0x0001
	aclXflagNameIsUser  = 0x0002
)

// idAccess is one named entry: a uid or gid and its permission bits, with
// aclNameIsUser for a user.
type idAccess struct {
	id     uint32
	access uint32
}

// rsyncACL is acls.c's rsync_acl: the four permission objects
// (aclNoEntry when absent) and the named entries, users first, in the
// order the system lists them.
type rsyncACL struct {
	userObj, groupObj, maskObj, otherObj uint8
	names                                []idAccess
}

// emptyACL is an ACL without any entry (acls.c empty_rsync_acl): an
// absent default ACL.
func emptyACL() rsyncACL {
	return rsyncACL{userObj: aclNoEntry, groupObj: aclNoEntry, maskObj: aclNoEntry, otherObj: aclNoEntry}
}

// fakeACL is the ACL a mode alone implies (acls.c:rsync_acl_fake_perms):
// what a file without an extended ACL is sent as.
func fakeACL(mode uint32) rsyncACL {
	a := emptyACL()
	a.userObj = uint8(mode>>6) & 7
	a.groupObj = uint8(mode>>3) & 7
	a.otherObj = uint8(mode) & 7
	return a
}

// stripPerms removes what the receiver can rebuild from mode
// (acls.c:rsync_acl_strip_perms, Linux branch).
func (a *rsyncACL) stripPerms(mode uint32) {
	a.userObj = aclNoEntry
	if a.maskObj == aclNoEntry {
		a.groupObj = aclNoEntry
	} else {
		groupPerms := uint8(mode>>3) & 7
		if a.groupObj == groupPerms {
			a.groupObj = aclNoEntry
		}
		if len(a.names) != 0 && a.maskObj == groupPerms {
			a.maskObj = aclNoEntry
		}
	}
	a.otherObj = aclNoEntry
}

// key is a's identity for the cache of sent ACLs (acls.c:rsync_acl_equal).
func (a *rsyncACL) key() string {
	var sb strings.Builder
	sb.Grow(4 + 16*len(a.names))
	sb.WriteByte(a.userObj)
	sb.WriteByte(a.groupObj)
	sb.WriteByte(a.maskObj)
	sb.WriteByte(a.otherObj)
	for _, n := range a.names {
		sb.WriteString(strconv.FormatUint(uint64(n.id), 36))
		sb.WriteByte(':')
		sb.WriteString(strconv.FormatUint(uint64(n.access), 36))
		sb.WriteByte(',')
	}
	return sb.String()
}

// Tags of the Linux ACL xattr format (linux/posix_acl.h, posix_acl_xattr.h).
const (
	aclTagUserObj  = 0x01
	aclTagUser     = 0x02
	aclTagGroupObj = 0x04
	aclTagGroup    = 0x08
	aclTagMask     = 0x10
	aclTagOther    = 0x20

	aclXattrVersion = 2
	aclXattrHeader  = 4
	aclXattrEntry   = 8
	// maxACLEntries bounds the entries parsed from one ACL; Linux file
	// systems store at most a few hundred (an xattr value is at most
	// 64 KiB: 8,191 entries).
	maxACLEntries = 8191
)

// Names of the xattrs Linux keeps POSIX ACLs in.
const (
	xattrACLAccess  = "system.posix_acl_access"
	xattrACLDefault = "system.posix_acl_default"
)

// parseACLXattr reads the value of system.posix_acl_access or
// system.posix_acl_default into an ACL, as libacl's acl_get_file and
// acls.c:unpack_smb_acl do: duplicates of a permission object after the
// first are ignored, unknown tags too.
func parseACLXattr(b []byte) (rsyncACL, error) {
	a := emptyACL()
	if len(b) < aclXattrHeader || (len(b)-aclXattrHeader)%aclXattrEntry != 0 {
		return a, fmt.Errorf("parse ACL: %d bytes is not a Linux ACL", len(b))
	}
	if v := binary.LittleEndian.Uint32(b); v != aclXattrVersion {
		return a, fmt.Errorf("parse ACL: version %d", v)
	}
	n := (len(b) - aclXattrHeader) / aclXattrEntry
	if n > maxACLEntries {
		return a, fmt.Errorf("parse ACL: %d entries", n)
	}
	for i := 0; i < n; i++ {
		p := b[aclXattrHeader+i*aclXattrEntry:]
		tag := binary.LittleEndian.Uint16(p)
		perm := uint8(binary.LittleEndian.Uint16(p[2:])) & 7
		id := binary.LittleEndian.Uint32(p[4:])
		a.addEntry(tag, perm, id)
	}
	return a, nil
}

// addEntry stores one parsed ACL entry (acls.c:unpack_smb_acl).
func (a *rsyncACL) addEntry(tag uint16, perm uint8, id uint32) {
	setOnce := func(p *uint8) {
		if *p == aclNoEntry {
			*p = perm
		}
	}
	switch tag {
	case aclTagUserObj:
		setOnce(&a.userObj)
	case aclTagGroupObj:
		setOnce(&a.groupObj)
	case aclTagMask:
		setOnce(&a.maskObj)
	case aclTagOther:
		setOnce(&a.otherObj)
	case aclTagUser:
		a.names = append(a.names, idAccess{id: id, access: uint32(perm) | aclNameIsUser})
	case aclTagGroup:
		a.names = append(a.names, idAccess{id: id, access: uint32(perm)})
	}
}

// entryACLs are the ACLs read for one listed entry: the access ACL as
// read (fakeACL of the mode when the file has no extended one) and, for a
// directory, the default ACL (emptyACL when it has none).
type entryACLs struct {
	access rsyncACL
	def    *rsyncACL
}

// aclCache is the sender's list of ACLs sent so far, one per ACL type
// (acls.c access_acl_list, default_acl_list): an equal ACL is sent as its
// index. It never holds two equal ACLs, so a map finds the same index as
// acls.c:find_matching_rsync_acl.
type aclCache struct {
	index map[string]int32
}

// aclEncoder appends the ACLs of entries (acls.c:send_acl) and hands the
// ids of named entries to addUser and addGroup, which put them in the id
// lists at the end of the file list (uidlist.c:add_uid, add_gid).
type aclEncoder struct {
	access, def aclCache
	numericIDs  bool
	// addUser and addGroup record a named entry's id; they return its
	// name when it goes inline (incremental recursion, first use).
	addUser  func(id uint32) string
	addGroup func(id uint32) string
}

func newACLEncoder(numericIDs bool, addUser, addGroup func(uint32) string) *aclEncoder {
	return &aclEncoder{access: aclCache{index: map[string]int32{}}, def: aclCache{index: map[string]int32{}},
		numericIDs: numericIDs, addUser: addUser, addGroup: addGroup}
}

// appendEntry appends the ACLs of a listed non-symlink entry with the
// (possibly --chmod'ed) mode: acls.c:send_acl. A nil acls (an entry whose
// ACLs were not read) is sent as its mode's minimal ACL.
func (c *aclEncoder) appendEntry(b []byte, mode uint32, acls *entryACLs) []byte {
	acc := fakeACL(mode)
	if acls != nil {
		acc = acls.access // a copy: stripping changes the objects only
	}
	acc.stripPerms(mode)
	b = c.appendOne(b, &acc, &c.access)
	if mode&sIFMT == sIFDIR {
		def := emptyACL()
		if acls != nil && acls.def != nil {
			def = *acls.def
		}
		b = c.appendOne(b, &def, &c.def)
	}
	return b
}

// appendOne is acls.c:send_rsync_acl: the index+1 of an ACL sent before,
// or 0 and the ACL.
func (c *aclEncoder) appendOne(b []byte, a *rsyncACL, cache *aclCache) []byte {
	k := a.key()
	if ndx, ok := cache.index[k]; ok {
		return appendVarint(b, ndx+1)
	}
	cache.index[k] = int32(len(cache.index))
	b = appendVarint(b, 0)
	var flags byte
	if a.userObj != aclNoEntry {
		flags |= aclXmitUserObj
	}
	if a.groupObj != aclNoEntry {
		flags |= aclXmitGroupObj
	}
	if a.maskObj != aclNoEntry {
		flags |= aclXmitMaskObj
	}
	if a.otherObj != aclNoEntry {
		flags |= aclXmitOtherObj
	}
	if len(a.names) > 0 {
		flags |= aclXmitNameList
	}
	b = append(b, flags)
	for _, obj := range []uint8{a.userObj, a.groupObj, a.maskObj, a.otherObj} {
		if obj != aclNoEntry {
			b = appendVarint(b, int32(obj))
		}
	}
	if flags&aclXmitNameList != 0 {
		b = c.appendNames(b, a.names)
	}
	return b
}

// appendNames is acls.c:send_ida_entries: without incremental recursion
// the ids join the id lists; with it, an id's first use carries its name
// (XFLAG_NAME_FOLLOWS).
func (c *aclEncoder) appendNames(b []byte, names []idAccess) []byte {
	b = appendVarint(b, int32(len(names)))
	for _, n := range names {
		xbits := (n.access &^ aclNameIsUser) << 2
		var name string
		if n.access&aclNameIsUser != 0 {
			xbits |= aclXflagNameIsUser
			if !c.numericIDs {
				name = c.addUser(n.id)
			}
		} else if !c.numericIDs {
			name = c.addGroup(n.id)
		}
		b = appendVarint(b, int32(n.id))
		if name != "" {
			b = appendVarint(b, int32(xbits|aclXflagNameFollows))
			b = appendIDName(b, name)
			continue
		}
		b = appendVarint(b, int32(xbits))
	}
	return b
}
