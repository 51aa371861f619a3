package rsyncproto

import (
	"crypto/md5"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Extended attributes for -X (xattrs.c). The sender lists each entry's
// xattrs (all namespaces but system.*, sorted by name), sends the set
// after the entry's file-list record, a set sent before as its index, and
// a value longer than maxFullDatum as its MD5 only. The receiver asks for
// the full values it needs when it itemizes the entry
// (sender.c:send_files, recv_xattr_request); the sender re-reads and sends
// them with its echo of the item (send_xattr_request).

// maxFullDatum: longer values travel as their checksum first
// (xattrs.c MAX_FULL_DATUM).
const maxFullDatum = 32

// States of an abbreviated value (xattrs.c XSTATE_*).
const (
	xstateAbbrev = 1 // sent as its checksum
	xstateDone   = 2 // its full value was sent
	xstateTodo   = 3 // the receiver asked for it
)

// Namespaces the sender leaves out (xattrs.c:rsync_xal_get, Linux): the
// system namespace (ACLs are -A's business) unless Options.XattrFilter
// rules, and always rsync's own "user.rsync.%..." names (sent only with
// -XX, which gsync does not offer).
const (
	xattrSystemPrefix = "system."
	xattrRsyncPrefix  = "user.rsync."
)

// xattrSkipped reports whether the sender leaves the xattr name out by
// rsync's default rule, which rsync's x filter rules replace (but for
// its own names).
func xattrSkipped(name string) bool {
	return strings.HasPrefix(name, xattrSystemPrefix) || rsyncOwnXattr(name)
}

// rsyncOwnXattr reports whether name is one of rsync's own
// "user.rsync.%..." names.
func rsyncOwnXattr(name string) bool {
	return len(name) > len(xattrRsyncPrefix) && name[len(xattrRsyncPrefix)] == '%' && strings.HasPrefix(name, xattrRsyncPrefix)
}

// xattrSent reports whether the sender lists the xattr name of the
// entry rel (xattrs.c:rsync_xal_get): with x filter rules
// (Options.XattrFilter ruling) they alone decide, rsync's own names
// aside; without, every name but the system namespace's.
func (o *Options) xattrSent(rel, name string) bool {
	if o.XattrFilter != nil {
		if excluded, ruled := o.XattrFilter(rel, name); ruled {
			return !excluded && !rsyncOwnXattr(name)
		}
	}
	return !xattrSkipped(name)
}

// xattr is one attribute as listed: its name, its value's length and
// either the value (up to maxFullDatum bytes) or its MD5.
type xattr struct {
	name  string
	size  int
	datum []byte // the value, or its checksum when size > maxFullDatum
	state uint8  // xstate* of an abbreviated value, in the sent set
}

func (x *xattr) abbreviated() bool { return x.size > maxFullDatum }

// xattrSet is the xattrs of one entry, sorted by name; the item number
// the receiver asks by is the index plus one (xattrs.c rsync_xa.num).
type xattrSet []xattr

// newXattr makes the listed form of a value; a long one travels as its
// MD5 at every protocol that has xattrs (compat.c: xattr_sum_nni is
// parse_csum_name(NULL), md5 from protocol 30 on; sum_init seeds no MD5).
func newXattr(name string, value []byte) xattr {
	x := xattr{name: name, size: len(value), datum: value}
	if x.abbreviated() {
		sum := md5.Sum(value)
		x.datum, x.state = sum[:], xstateAbbrev
	}
	return x
}

// sortXattrs sorts a set by name (xattrs.c:rsync_xal_compare_names, strcmp).
func sortXattrs(s xattrSet) {
	sort.Slice(s, func(i, j int) bool { return s[i].name < s[j].name })
}

// key is the set's identity for the cache of sent sets
// (xattrs.c:find_matching_xattr: names, lengths, values or checksums).
func (s xattrSet) key() string {
	var b []byte
	for i := range s {
		b = strconv.AppendInt(b, int64(len(s[i].name)), 10)
		b = append(append(append(b, ':'), s[i].name...), 0)
		b = strconv.AppendInt(b, int64(s[i].size), 10)
		b = append(append(b, ':'), s[i].datum...)
	}
	return string(b)
}

// xattrEncoder is the sender's list of sets sent so far (xattrs.c
// rsync_xal_l): a set equal to one sent before is sent as its index, and
// entries with equal sets share the sent set, with its abbreviation
// states, as in rsync.
type xattrEncoder struct {
	index map[string]int32
	sent  []xattrSet
}

func newXattrEncoder() *xattrEncoder { return &xattrEncoder{index: map[string]int32{}} }

// appendSet appends the set s of one entry (xattrs.c:send_xattr) and
// returns the sent set the entry refers to from now on.
func (x *xattrEncoder) appendSet(b []byte, s xattrSet) ([]byte, xattrSet) {
	k := s.key()
	if ndx, ok := x.index[k]; ok {
		return appendVarint(b, ndx+1), x.sent[ndx]
	}
	b = appendVarint(b, 0)
	b = appendVarint(b, int32(len(s)))
	for i := range s {
		b = appendVarint(b, int32(len(s[i].name)+1))
		b = appendVarint(b, int32(s[i].size))
		b = append(b, s[i].name...)
		b = append(b, 0)
		b = append(b, s[i].datum...)
	}
	x.index[k] = int32(len(x.sent))
	x.sent = append(x.sent, s)
	return b, s
}

// readXattrRequest reads the receiver's request for full values of the
// sent set s (xattrs.c:recv_xattr_request, sender side): item numbers as
// deltas, ended by 0. Each must name an abbreviated value not asked for
// before; it is marked to be sent. The request is peer input: every
// number is checked, and since each accepted one changes a state, a
// request holds at most len(s) numbers before its end.
func readXattrRequest(r *wireReader, s xattrSet) error {
	num := int64(0)
	for {
		rel := r.varint()
		if r.err != nil {
			return r.err
		}
		if rel == 0 {
			return nil
		}
		num += int64(rel)
		if num < 1 || num > int64(len(s)) || num > math.MaxInt32 {
			return fmt.Errorf("xattr request for item %d of %d: %w", num, len(s), errProtocol)
		}
		x := &s[num-1]
		if !x.abbreviated() || x.state != xstateAbbrev {
			return fmt.Errorf("xattr request for item %d (%q), not an abbreviated value: %w", num, EscapeText(x.name), errProtocol)
		}
		x.state = xstateTodo
	}
}

// appendXattrReply sends the full values the receiver asked for
// (xattrs.c:send_xattr_request, sender side): for each, its item number
// as a delta, its length and the value, re-read by read (a value that
// cannot be read again is sent empty and reported in errs); a 0 byte
// ends the list.
func appendXattrReply(b []byte, s xattrSet, read func(name string) ([]byte, error)) ([]byte, []error) {
	var errs []error
	prior := 0
	for i := range s {
		x := &s[i]
		if !x.abbreviated() || x.state != xstateTodo {
			continue
		}
		x.state = xstateDone
		b = appendVarint(b, int32(i+1-prior))
		prior = i + 1
		v, err := read(x.name)
		if err != nil {
			errs = append(errs, fmt.Errorf("re-read xattr %q: %w", EscapeText(x.name), err))
			v = nil
		}
		b = appendVarint(b, int32(len(v)))
		b = append(b, v...)
	}
	return append(b, 0), errs
}
