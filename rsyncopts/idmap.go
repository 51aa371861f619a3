package rsyncopts

import (
	"fmt"
	"os/user"
	"path"
	"strconv"
	"strings"
)

// IDMap is a parsed rsync --usermap or --groupmap value: rules FROM:TO,
// the first that matches an entry's owner (or group) wins
// (uidlist.c:parse_name_map, recv_add_id). The zero value maps nothing.
type IDMap struct {
	rules []idRule
}

// idRule is one FROM:TO pair.
type idRule struct {
	kind   idMatch
	name   string // idName, idWild: the name or pattern
	lo, hi uint64 // idNum, idRange
	to     string // a name, or a number
}

// idMatch says how a rule's FROM matches.
type idMatch uint8

const (
	idNum   idMatch = iota // one number
	idRange                // N-M
	idName                 // a name
	idWild                 // a wildcard name pattern (*, ?, [...]); "*" matches every entry
)

// IsZero reports whether m has no rules (no --usermap or --groupmap).
func (m IDMap) IsZero() bool { return len(m.rules) == 0 }

// ParseIDMap parses rsync's --usermap / --groupmap syntax: a comma list of
// FROM:TO, where FROM is a number, a range N-M, a name, or a wildcard
// pattern of names (*, ?, [...]), and TO a name or a number. TO names are
// resolved when an entry is mapped (MapUser, MapGroup), on the receiving
// side, as rsync does. "" is no map.
func ParseIDMap(s string) (IDMap, error) {
	var m IDMap
	if s == "" {
		return m, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		r, err := parseIDRule(part)
		if err != nil {
			return IDMap{}, fmt.Errorf("invalid id map %q: %q: %w", s, part, err)
		}
		m.rules = append(m.rules, r)
	}
	return m, nil
}

// parseIDRule parses one FROM:TO.
func parseIDRule(part string) (idRule, error) {
	from, to, ok := strings.Cut(part, ":")
	if !ok {
		return idRule{}, fmt.Errorf("no colon")
	}
	if to == "" {
		return idRule{}, fmt.Errorf("no name after the colon")
	}
	r := idRule{to: to}
	if isDigits(to) {
		if _, err := parseID(to); err != nil {
			return idRule{}, err
		}
	}
	switch {
	case from != "" && from[0] >= '0' && from[0] <= '9':
		return r, r.parseNumbers(from)
	case strings.ContainsAny(from, "*[?"):
		if _, err := path.Match(from, ""); err != nil {
			return idRule{}, fmt.Errorf("bad pattern %q: %w", from, err)
		}
		r.kind, r.name = idWild, from
	default:
		r.kind, r.name = idName, from
	}
	return r, nil
}

// parseNumbers parses a FROM of N or N-M.
func (r *idRule) parseNumbers(from string) error {
	lo, hi, isRange := strings.Cut(from, "-")
	if !isDigits(lo) || isRange && !isDigits(hi) {
		return fmt.Errorf("invalid number %q", from)
	}
	var err error
	if r.lo, err = parseID(lo); err != nil {
		return err
	}
	r.kind, r.hi = idNum, r.lo
	if isRange {
		r.kind = idRange
		if r.hi, err = parseID(hi); err != nil {
			return err
		}
	}
	return nil
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// parseID parses a decimal user or group id.
func parseID(s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid id number %q", s)
	}
	return v, nil
}

// match reports whether r matches the entry's id and name ("" when the
// sender has none, as with --numeric-ids or an id without a name).
func (r idRule) match(id uint32, name string) bool {
	switch r.kind {
	case idNum:
		return uint64(id) == r.lo
	case idRange:
		// uidlist.c:recv_add_id tests "id < lo || id > max": a range
		// whose max is 0 compares as a single number.
		if r.hi == 0 {
			return uint64(id) == r.lo
		}
		return uint64(id) >= r.lo && uint64(id) <= r.hi
	case idName:
		return r.name == name
	}
	ok, _ := path.Match(r.name, name)
	return ok
}

// UnknownNameError is a TO name the receiving system does not know.
// rsync reports it ("Unknown --usermap name on receiver") and ignores the
// rule.
type UnknownNameError struct {
	Option string // "--usermap" or "--groupmap"
	Name   string
}

func (e *UnknownNameError) Error() string {
	return fmt.Sprintf("unknown %s name on receiver: %s", e.Option, e.Name)
}

// MapUser returns the owner that an entry owned by uid (whose sender-side
// user name is name, "" for none) gets on the receiver, as
// uidlist.c:recv_add_id does for --usermap. Rules whose TO names no user
// are skipped and reported in errs (rsync does the same). Without a
// matching rule a named owner is looked up by name, else kept.
func (m IDMap) MapUser(uid uint32, name string) (id uint32, errs []error) {
	return m.mapID(uid, name, "--usermap", lookupUser)
}

// MapGroup is MapUser for --groupmap.
func (m IDMap) MapGroup(gid uint32, name string) (id uint32, errs []error) {
	return m.mapID(gid, name, "--groupmap", lookupGroup)
}

func (m IDMap) mapID(id uint32, name, option string, lookup func(string) (uint32, bool)) (uint32, []error) {
	var errs []error
	for _, r := range m.rules {
		to, ok := r.resolve(lookup)
		if !ok {
			// parse_name_map drops the rule before any entry is mapped.
			errs = append(errs, &UnknownNameError{Option: option, Name: r.to})
			continue
		}
		if r.match(id, name) {
			return to, errs
		}
	}
	if name != "" && id != 0 {
		if v, ok := lookup(name); ok {
			return v, errs
		}
	}
	return id, errs
}

// resolve returns the id that r's TO names.
func (r idRule) resolve(lookup func(string) (uint32, bool)) (uint32, bool) {
	if isDigits(r.to) {
		v, err := parseID(r.to)
		return uint32(v), err == nil
	}
	return lookup(r.to)
}

func lookupUser(name string) (uint32, bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(u.Uid, 10, 32)
	return uint32(v), err == nil
}

func lookupGroup(name string) (uint32, bool) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(v), err == nil
}
