package main

import (
	"fmt"
	"slices"

	"github.com/spf13/pflag"

	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/rsyncopts"
)

// attrFlag is one of rsync's attribute options on gsync's command line,
// in rsync's spelling.
type attrFlag struct {
	long, short string
	usage       string
	valued      bool
	negatable   bool
}

// attrFlags are registered in this order; -a's set is gsync's default.
var attrFlags = []attrFlag{
	{"archive", "a", "keep what rsync -a keeps: symlinks, modes, mtimes, owner, group, devices, specials (the default)", false, false},
	{"links", "l", "copy symlinks as symlinks (--no-links: skip them)", false, true},
	{"perms", "p", "keep modes (--no-perms: the target keeps its own; new entries get the source's less the umask)", false, true},
	{"times", "t", "keep mtimes", false, true},
	{"owner", "o", "keep the owner (by name unless --numeric-ids; needs a root receiver)", false, true},
	{"group", "g", "keep the group", false, true},
	{"devices", "", "copy device files", false, true},
	{"specials", "", "copy FIFOs and sockets", false, true},
	{"D", "D", "rsync's -D: --devices --specials (--no-D: neither)", false, true},
	{"hard-links", "H", "keep hard links: names of one inode stay one inode", false, true},
	{"acls", "A", "keep POSIX ACLs (implies --perms)", false, true},
	{"xattrs", "X", "keep extended attributes (all but system.*; a non-root receiver keeps user.* only)", false, true},
	{"sparse", "S", "turn runs of zeros into holes on the target", false, true},
	{"numeric-ids", "", "keep owners and groups by number, not by name", false, true},
	{"chown", "", "set owner and group on the target, `USER:GROUP` (rsync's --chown)", true, false},
	{"chmod", "", "change modes as they are sent, rsync's `CHMOD` syntax (e.g. D2775,F664; repeatable)", true, false},
	{"usermap", "", "map owners on the target, `FROM:TO,...` (rsync's --usermap)", true, false},
	{"groupmap", "", "map groups on the target, `FROM:TO,...` (rsync's --groupmap)", true, false},
}

// attrValue is a flag.Value that applies its option to the attributes
// the moment the flag is parsed, so that later flags win as in rsync
// ("-a --no-owner" and "--no-owner -a" differ).
type attrValue struct {
	attrs  *rsyncopts.Attrs
	opt    rsyncopts.Option
	valued bool
}

func (v *attrValue) String() string { return "" }

func (v *attrValue) Set(s string) error {
	o := v.opt
	if v.valued {
		o.Value = s
	} else if s != "true" {
		return fmt.Errorf("takes no value")
	}
	return v.attrs.Set(o)
}

func (v *attrValue) Type() string {
	if v.valued {
		return "string"
	}
	return "bool"
}

// registerAttrFlags adds rsync's attribute options to f; each applies to
// a as it is parsed. The --no-X forms of the one-letter options (--no-o)
// are accepted and hidden from the help.
func registerAttrFlags(f *pflag.FlagSet, a *rsyncopts.Attrs) {
	for _, af := range attrFlags {
		v := &attrValue{attrs: a, opt: rsyncopts.Option{Name: af.long, Kind: rsyncopts.Attr, Word: "--" + af.long}, valued: af.valued}
		fl := f.VarPF(v, af.long, af.short, af.usage)
		if !af.valued {
			fl.NoOptDefVal = "true"
		}
		if !af.negatable {
			continue
		}
		no := &attrValue{attrs: a, opt: rsyncopts.Option{Name: af.long, No: true, Kind: rsyncopts.Attr, Word: "--no-" + af.long}}
		nf := f.VarPF(no, "no-"+af.long, "", "")
		nf.NoOptDefVal = "true"
		nf.Hidden = true
		if af.short != "" && af.short != af.long {
			ns := &attrValue{attrs: a, opt: rsyncopts.Option{Name: af.long, No: true, Kind: rsyncopts.Attr, Word: "--no-" + af.short}}
			f.VarPF(ns, "no-"+af.short, "", "").NoOptDefVal = "true"
			f.Lookup("no-" + af.short).Hidden = true
		}
	}
}

// lsyncdAttrs turns a sync's rsync = {...} table (after lsyncd's defaults
// and archive were applied: default.rsync alone is -lts) and its _extra
// words into the attributes gsync keeps. Options of _extra that are gsync
// settings or change nothing are returned for the caller; unknown and
// unsupported ones are errors naming them.
func lsyncdAttrs(r lsyncdconf.RsyncOpts) (rsyncopts.Attrs, []rsyncopts.Option, error) {
	a := rsyncopts.Attrs{
		NoLinks: !r.On("links"), NoPerms: !r.On("perms"), NoTimes: !r.On("times"),
		NoOwner: !r.On("owner"), NoGroup: !r.On("group"),
		NoDevices: !r.On("devices"), NoSpecials: !r.On("specials"),
		HardLinks: r.On("hard_links"), ACLs: r.On("acls"), XAttrs: r.On("xattrs"), Sparse: r.On("sparse"),
	}
	if a.ACLs {
		a.NoPerms = false // rsync -A implies -p
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

// attrKeys are lsyncd's rsync keys that lsyncdAttrs honours.
var attrKeys = []string{"links", "perms", "times", "owner", "group", "devices", "specials",
	"hard_links", "acls", "xattrs", "sparse", "chmod", "chown", "usermap", "groupmap", "_extra"}

func isAttrKey(k string) bool { return slices.Contains(attrKeys, k) }
