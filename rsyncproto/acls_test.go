package rsyncproto

import (
	"bytes"
	"encoding/binary"
	"testing"
)

type aclEnt struct {
	tag  uint16
	perm uint16
	id   uint32
}

// aclXattr builds a Linux ACL xattr value (posix_acl_xattr.h).
func aclXattr(version uint32, ents ...aclEnt) []byte {
	b := binary.LittleEndian.AppendUint32(nil, version)
	for _, e := range ents {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

const undefID = 0xffffffff

func TestParseACLXattr(t *testing.T) {
	v := aclXattr(2,
		aclEnt{aclTagUserObj, 6, undefID},
		aclEnt{aclTagUserObj, 7, undefID}, // a duplicate is ignored
		aclEnt{aclTagUser, 6, 12345},
		aclEnt{aclTagUser, 0o17, 0}, // perm bits beyond rwx are dropped
		aclEnt{aclTagGroupObj, 4, undefID},
		aclEnt{aclTagGroup, 5, 65534},
		aclEnt{0x40, 7, 1}, // an unknown tag is ignored
		aclEnt{aclTagMask, 7, undefID},
		aclEnt{aclTagOther, 1, undefID})
	a, err := parseACLXattr(v)
	if err != nil {
		t.Fatal(err)
	}
	want := rsyncACL{userObj: 6, groupObj: 4, maskObj: 7, otherObj: 1,
		names: []idAccess{{12345, 6 | aclNameIsUser}, {0, 7 | aclNameIsUser}, {65534, 5}}}
	if a.key() != want.key() {
		t.Errorf("parsed %+v, want %+v", a, want)
	}
	for _, bad := range [][]byte{nil, {2, 0, 0}, aclXattr(1), append(aclXattr(2), 1, 2, 3)} {
		if _, err := parseACLXattr(bad); err == nil {
			t.Errorf("parsed %x without an error", bad)
		}
	}
}

// TestStripPerms follows acls.c:rsync_acl_strip_perms case by case.
func TestStripPerms(t *testing.T) {
	for _, c := range []struct {
		name string
		in   rsyncACL
		mode uint32
		want rsyncACL
	}{
		{"minimal", fakeACL(0o754), 0o754, emptyACL()},
		{"mask equal to the group bits is dropped with names",
			rsyncACL{6, 4, 6, 4, []idAccess{{7, 6 | aclNameIsUser}}}, 0o664,
			rsyncACL{aclNoEntry, 4, aclNoEntry, aclNoEntry, []idAccess{{7, 6 | aclNameIsUser}}}},
		{"group equal to the group bits is dropped",
			rsyncACL{6, 6, 6, 4, []idAccess{{7, 6}}}, 0o664,
			rsyncACL{aclNoEntry, aclNoEntry, aclNoEntry, aclNoEntry, []idAccess{{7, 6}}}},
		{"mask without names stays",
			rsyncACL{6, 4, 6, 4, nil}, 0o664,
			rsyncACL{aclNoEntry, 4, 6, aclNoEntry, nil}},
		{"mask other than the group bits stays",
			rsyncACL{6, 4, 4, 4, []idAccess{{7, 6}}}, 0o674,
			rsyncACL{aclNoEntry, 4, 4, aclNoEntry, []idAccess{{7, 6}}}},
	} {
		got := c.in
		got.stripPerms(c.mode)
		if got.key() != c.want.key() {
			t.Errorf("%s: got %+v want %+v", c.name, got, c.want)
		}
	}
}

// TestACLEncoder checks the bytes of acls.c:send_rsync_acl, the cache of
// sent ACLs (per type) and the ids handed to the id lists.
func TestACLEncoder(t *testing.T) {
	var users, groups []uint32
	enc := newACLEncoder(false, func(id uint32) string { users = append(users, id); return "" }, func(id uint32) string { groups = append(groups, id); return "" })
	file := &entryACLs{access: rsyncACL{6, 4, 6, 4, []idAccess{{12345, 6 | aclNameIsUser}, {65534, 4}}}}
	got := enc.appendEntry(nil, sIFREG|0o664, file)
	want := []byte{0, aclXmitGroupObj | aclXmitNameList, 4, 2}
	want = appendVarint(want, 12345)
	want = append(want, 6<<2|aclXflagNameIsUser)
	want = appendVarint(want, 65534)
	want = append(want, 4<<2)
	if !bytes.Equal(got, want) {
		t.Errorf("literal ACL % x, want % x", got, want)
	}
	if len(users) != 1 || users[0] != 12345 || len(groups) != 1 || groups[0] != 65534 {
		t.Errorf("ids for the lists: users %v groups %v", users, groups)
	}
	// The same ACL again: its index + 1.
	if got := enc.appendEntry(nil, sIFREG|0o664, file); !bytes.Equal(got, []byte{1}) {
		t.Errorf("repeated ACL % x, want 01", got)
	}
	// No ACLs read: the mode's minimal ACL, stripped to nothing (a new
	// access ACL: index 1 is taken).
	if got := enc.appendEntry(nil, sIFREG|0o600, nil); !bytes.Equal(got, []byte{0, 0}) {
		t.Errorf("minimal ACL % x, want 00 00", got)
	}
	if got := enc.appendEntry(nil, sIFREG|0o755, nil); !bytes.Equal(got, []byte{2}) {
		t.Errorf("second minimal ACL % x, want 02", got)
	}
	// A directory: access, then default (the default list has its own
	// indexes; an absent default ACL is the empty one).
	def := rsyncACL{7, 5, aclNoEntry, 0, nil}
	dir := &entryACLs{access: fakeACL(0o755), def: &def}
	want = []byte{2, 0, aclXmitUserObj | aclXmitGroupObj | aclXmitOtherObj, 7, 5, 0}
	if got := enc.appendEntry(nil, sIFDIR|0o755, dir); !bytes.Equal(got, want) {
		t.Errorf("directory ACLs % x, want % x", got, want)
	}
	if got := enc.appendEntry(nil, sIFDIR|0o700, nil); !bytes.Equal(got, []byte{2, 0, 0}) {
		t.Errorf("directory without ACLs % x, want 02 00 00", got)
	}
	// --numeric-ids: no ids for the lists.
	users, groups = nil, nil
	num := newACLEncoder(true, func(id uint32) string { users = append(users, id); return "" }, func(id uint32) string { groups = append(groups, id); return "" })
	num.appendEntry(nil, sIFREG|0o664, file)
	if len(users)+len(groups) != 0 {
		t.Errorf("numeric ids: users %v groups %v", users, groups)
	}
}

// TestACLIDLists: with -A, the ids of named ACL entries are in the id
// lists at the end of the file list even without -o and -g
// (uidlist.c:send_id_lists), with their names.
func TestACLIDLists(t *testing.T) {
	name := func(prefix string) func(uint32) string {
		return func(id uint32) string {
			if id == 12345 {
				return "" // an id without a name is left out of the list
			}
			return prefix + string(rune('a'+id%26))
		}
	}
	e := &entry{name: "f", mode: sIFREG | 0o664, x: &entryExt{acls: &entryACLs{access: rsyncACL{6, 4, 6, 4,
		[]idAccess{{12345, 6 | aclNameIsUser}, {65534, 6 | aclNameIsUser}, {54321, 4}}}}}}
	for _, numeric := range []bool{false, true} {
		o := flistOpts{proto: 31, varint: true, acls: true, numericIDs: numeric}
		enc := newFlistEncoder(o, name("user-"), name("group-"))
		b := enc.appendEntry(nil, e)
		n := len(b)
		b = enc.appendEnd(b, 0, true)
		tail := b[n:]
		want := []byte{0, 0} // end of list, io_error
		if !numeric {
			want = appendVarint(want, 65534)
			want = append(want, byte(len(name("user-")(65534))))
			want = append(want, name("user-")(65534)...)
			want = append(want, 0)
			want = appendVarint(want, 54321)
			want = append(want, byte(len(name("group-")(54321))))
			want = append(want, name("group-")(54321)...)
			want = append(want, 0)
		}
		if !bytes.Equal(tail, want) {
			t.Errorf("numeric %v: end of list % x, want % x", numeric, tail, want)
		}
	}
}
