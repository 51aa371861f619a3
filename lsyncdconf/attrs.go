package lsyncdconf

import (
	"fmt"
	"slices"

	"github.com/gsync/gsync/rsyncopts"
)

// Attrs turns a sync's rsync = {...} table (after lsyncd's defaults
// and archive were applied: default.rsync alone is -lts) and its _extra
// words into the attributes gsync keeps. Options of _extra that are gsync
// settings or change nothing are returned for the caller; unknown and
// unsupported ones are errors naming them.
func (r RsyncOpts) Attrs() (rsyncopts.Attrs, []rsyncopts.Option, error) {
	a := rsyncopts.Attrs{
		NoLinks: !r.On("links"), NoPerms: !r.On("perms"), NoTimes: !r.On("times"),
		NoOwner: !r.On("owner"), NoGroup: !r.On("group"),
		NoDevices: !r.On("devices"), NoSpecials: !r.On("specials"),
		HardLinks: r.On("hard_links"), XAttrs: r.On("xattrs"), Sparse: r.On("sparse"),
		Executability: r.On("executability"),
	}
	if r.On("acls") {
		// Through Set, which knows that -A implies -p.
		if err := a.Set(rsyncopts.Option{Name: "acls", Kind: rsyncopts.Attr, Word: "rsync.acls"}); err != nil {
			return a, nil, err
		}
	}
	for _, k := range []string{"chmod", "chown", "usermap", "groupmap"} {
		if v, ok := r.Str[k]; ok {
			if err := a.Set(rsyncopts.Option{Name: k, Value: v, Kind: rsyncopts.Attr, Word: "rsync." + k}); err != nil {
				return a, nil, fmt.Errorf("rsync.%s: %w", k, err)
			}
		}
	}
	opts, err := rsyncopts.Parse(r.Extra)
	if err != nil {
		return a, nil, fmt.Errorf("rsync._extra: %w", err)
	}
	var rest []rsyncopts.Option
	for _, o := range opts {
		switch o.Kind {
		case rsyncopts.Attr:
			if err := a.Set(o); err != nil {
				return a, nil, fmt.Errorf("rsync._extra: %w", err)
			}
		case rsyncopts.Unsupported:
			return a, nil, fmt.Errorf("rsync._extra: %s is not supported by gsync; remove it (or use gsync's own setting for it, see gsync --help)", o.Word)
		default:
			rest = append(rest, o)
		}
	}
	if err := a.Check(); err != nil {
		return a, nil, err
	}
	return a, rest, nil
}

// attrKeys are lsyncd's rsync keys that Attrs honours.
var attrKeys = []string{"links", "perms", "times", "owner", "group", "devices", "specials",
	"hard_links", "acls", "xattrs", "sparse", "executability", "chmod", "chown", "usermap", "groupmap", "_extra"}

// IsAttrKey reports whether k is one of the rsync keys Attrs honours.
func IsAttrKey(k string) bool { return slices.Contains(attrKeys, k) }
