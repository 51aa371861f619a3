package rsyncopts

import (
	"fmt"

	"github.com/spf13/pflag"
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
	{"executability", "E", "with --no-perms: keep whether files are executable (rsync's -E)", false, false},
	{"chown", "", "set owner and group on the target, `USER:GROUP` (rsync's --chown)", true, false},
	{"chmod", "", "change modes as they are sent, rsync's `CHMOD` syntax (e.g. D2775,F664; repeatable)", true, false},
	{"usermap", "", "map owners on the target, `FROM:TO,...` (rsync's --usermap)", true, false},
	{"groupmap", "", "map groups on the target, `FROM:TO,...` (rsync's --groupmap)", true, false},
}

// attrValue is a flag.Value that applies its option to the attributes
// the moment the flag is parsed, so that later flags win as in rsync
// ("-a --no-owner" and "--no-owner -a" differ).
type attrValue struct {
	attrs  *Attrs
	opt    Option
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

// RegisterFlags adds rsync's attribute options to f; each applies to
// a as it is parsed. The --no-X forms of the one-letter options (--no-o)
// are accepted and hidden from the help.
func RegisterFlags(f *pflag.FlagSet, a *Attrs) {
	for _, af := range attrFlags {
		v := &attrValue{attrs: a, opt: Option{Name: af.long, Kind: Attr, Word: "--" + af.long}, valued: af.valued}
		fl := f.VarPF(v, af.long, af.short, af.usage)
		if !af.valued {
			fl.NoOptDefVal = "true"
		}
		if !af.negatable {
			continue
		}
		no := &attrValue{attrs: a, opt: Option{Name: af.long, No: true, Kind: Attr, Word: "--no-" + af.long}}
		nf := f.VarPF(no, "no-"+af.long, "", "")
		nf.NoOptDefVal = "true"
		nf.Hidden = true
		if af.short != "" && af.short != af.long {
			ns := &attrValue{attrs: a, opt: Option{Name: af.long, No: true, Kind: Attr, Word: "--no-" + af.short}}
			f.VarPF(ns, "no-"+af.short, "", "").NoOptDefVal = "true"
			f.Lookup("no-" + af.short).Hidden = true
		}
	}
}
