package treediff

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The names under which Linux stores POSIX ACLs as extended attributes.
const (
	XattrACLAccess  = "system.posix_acl_access"
	XattrACLDefault = "system.posix_acl_default"
)

// The tags of POSIX ACL entries in the kernel's xattr format
// (include/uapi/linux/posix_acl.h).
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20

	aclVersion     = 2
	aclUndefinedID = 0xffffffff
)

// ParseACL turns the short text form of a POSIX ACL, as setfacl(1) takes
// it ("u::rwx,u:12345:r-x,g::r-x,g:2:rw-,m::rwx,o::r--"; user, group,
// mask and other may be spelled out; ids are numbers), into the kernel's
// xattr value for XattrACLAccess or XattrACLDefault. The entries are
// sorted as the kernel wants them; it checks the rest (a mask is needed
// when there are named entries).
func ParseACL(text string) ([]byte, error) {
	type entry struct {
		tag  uint16
		perm uint16
		id   uint32
	}
	var es []entry
	for _, f := range strings.Split(text, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		parts := strings.Split(f, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("ACL entry %q: want TAG:ID:PERM", f)
		}
		perm, err := parsePerm(parts[2])
		if err != nil {
			return nil, fmt.Errorf("ACL entry %q: %w", f, err)
		}
		e := entry{perm: perm, id: aclUndefinedID}
		named := parts[1] != ""
		switch parts[0] {
		case "u", "user":
			e.tag = aclUserObj
			if named {
				e.tag = aclUser
			}
		case "g", "group":
			e.tag = aclGroupObj
			if named {
				e.tag = aclGroup
			}
		case "m", "mask":
			e.tag = aclMask
		case "o", "other":
			e.tag = aclOther
		default:
			return nil, fmt.Errorf("ACL entry %q: unknown tag %q", f, parts[0])
		}
		if named {
			if e.tag != aclUser && e.tag != aclGroup {
				return nil, fmt.Errorf("ACL entry %q: only user and group entries take an id", f)
			}
			id, err := strconv.ParseUint(parts[1], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("ACL entry %q: id: %w", f, err)
			}
			e.id = uint32(id)
		}
		es = append(es, e)
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].tag != es[j].tag {
			return es[i].tag < es[j].tag
		}
		return es[i].id < es[j].id
	})
	b := make([]byte, 4, 4+8*len(es))
	binary.LittleEndian.PutUint32(b, aclVersion)
	for _, e := range es {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b, nil
}

func parsePerm(s string) (uint16, error) {
	if len(s) != 3 {
		return 0, fmt.Errorf("permissions %q: want three of rwx-", s)
	}
	var p uint16
	for i, want := range "rwx" {
		switch rune(s[i]) {
		case want:
			p |= 4 >> i
		case '-':
		default:
			return 0, fmt.Errorf("permissions %q: want three of rwx-", s)
		}
	}
	return p, nil
}

// FormatACL renders the kernel's xattr value of a POSIX ACL in the short
// text form ParseACL reads; ok is false when b is not such a value.
func FormatACL(b []byte) (text string, ok bool) {
	if len(b) < 4 || (len(b)-4)%8 != 0 || binary.LittleEndian.Uint32(b) != aclVersion {
		return "", false
	}
	var parts []string
	for off := 4; off < len(b); off += 8 {
		tag := binary.LittleEndian.Uint16(b[off:])
		perm := binary.LittleEndian.Uint16(b[off+2:])
		id := binary.LittleEndian.Uint32(b[off+4:])
		var name string
		switch tag {
		case aclUserObj:
			name = "u:"
		case aclUser:
			name = "u:" + strconv.FormatUint(uint64(id), 10)
		case aclGroupObj:
			name = "g:"
		case aclGroup:
			name = "g:" + strconv.FormatUint(uint64(id), 10)
		case aclMask:
			name = "m:"
		case aclOther:
			name = "o:"
		default:
			return "", false
		}
		p := []byte("---")
		for i, c := range "rwx" {
			if perm&(4>>i) != 0 {
				p[i] = byte(c)
			}
		}
		parts = append(parts, name+":"+string(p))
	}
	return strings.Join(parts, ","), true
}
