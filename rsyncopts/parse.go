package rsyncopts

import (
	"fmt"
	"strings"
)

// Kind says what gsync does with an rsync option.
type Kind int

// The kinds of rsync option.
const (
	// Attr options change Attrs (Set applies them).
	Attr Kind = iota + 1
	// NoEffect options change nothing on the target with gsync (verbose
	// output, -r, -s): accepted, and worth a warning at most.
	NoEffect
	// Setting options are gsync settings of their own (--dry-run,
	// --timeout, ..., and the compression options, which Compress.Set
	// takes): the caller maps them.
	Setting
	// Unsupported options are rsync options gsync does not implement:
	// refused by name.
	Unsupported
)

// spec is one rsync option: its long name, its one-letter form (0:
// none), whether it takes a value, and its kind.
type spec struct {
	long   string
	short  byte
	valued bool
	kind   Kind
}

// specs lists the rsync options gsync knows (options.c:long_options).
var specs = []spec{
	{"archive", 'a', false, Attr},
	{"links", 'l', false, Attr}, {"perms", 'p', false, Attr}, {"times", 't', false, Attr},
	{"owner", 'o', false, Attr}, {"group", 'g', false, Attr}, {"devices", 0, false, Attr},
	{"specials", 0, false, Attr}, {"D", 'D', false, Attr},
	{"hard-links", 'H', false, Attr}, {"acls", 'A', false, Attr}, {"xattrs", 'X', false, Attr},
	{"sparse", 'S', false, Attr}, {"numeric-ids", 0, false, Attr}, {"executability", 'E', false, Attr},
	{"chown", 0, true, Attr}, {"chmod", 0, true, Attr}, {"usermap", 0, true, Attr}, {"groupmap", 0, true, Attr},

	{"recursive", 'r', false, NoEffect}, {"verbose", 'v', false, NoEffect}, {"quiet", 'q', false, NoEffect},
	{"human-readable", 'h', false, NoEffect}, {"progress", 0, false, NoEffect}, {"stats", 0, false, NoEffect},
	{"itemize-changes", 'i', false, NoEffect}, {"protect-args", 's', false, NoEffect},
	{"secluded-args", 0, false, NoEffect},
	{"ignore-errors", 0, false, NoEffect}, {"8-bit-output", '8', false, NoEffect},
	{"mkpath", 0, false, NoEffect},
	{"force", 0, false, NoEffect},

	{"dry-run", 'n', false, Setting}, {"one-file-system", 'x', false, Setting},
	{"timeout", 0, true, Setting}, {"delete", 0, false, Setting},
	// Filter rules in rsync's meaning: the caller's (filter.Spec, in
	// order with the command line's own).
	{"exclude", 0, true, Setting}, {"exclude-from", 0, true, Setting}, {"include", 0, true, Setting},
	{"include-from", 0, true, Setting}, {"filter", 'f', true, Setting}, {"F", 'F', false, Setting},
	// Compression (Compress.Set).
	{"compress", 'z', false, Setting}, {"compress-choice", 0, true, Setting}, {"zc", 0, true, Setting},
	{"compress-level", 0, true, Setting}, {"zl", 0, true, Setting}, {"skip-compress", 0, true, Setting},
	{"old-compress", 0, false, Setting}, {"new-compress", 0, false, Setting},
	// Receiver options (Receiver.Set).
	{"backup", 'b', false, Setting}, {"backup-dir", 0, true, Setting}, {"suffix", 0, true, Setting},
	{"temp-dir", 'T', true, Setting}, {"partial", 0, false, Setting}, {"P", 'P', false, Setting},
	{"partial-dir", 0, true, Setting}, {"inplace", 0, false, Setting}, {"append", 0, false, Setting},
	{"append-verify", 0, false, Setting}, {"update", 'u', false, Setting}, {"existing", 0, false, Setting},
	{"ignore-non-existing", 0, false, Setting}, {"ignore-existing", 0, false, Setting},
	{"delay-updates", 0, false, Setting}, {"delete-before", 0, false, Setting},
	{"delete-during", 0, false, Setting}, {"del", 0, false, Setting}, {"delete-delay", 0, false, Setting},
	{"delete-after", 0, false, Setting}, {"omit-dir-times", 'O', false, Setting},
	{"omit-link-times", 'J', false, Setting}, {"prune-empty-dirs", 'm', false, Setting},
	{"fsync", 0, false, Setting},
	// Sender-side options (Sender.Set).
	{"bwlimit", 0, true, Setting}, {"checksum", 'c', false, Setting}, {"whole-file", 'W', false, Setting},
	{"max-size", 0, true, Setting}, {"min-size", 0, true, Setting}, {"safe-links", 0, false, Setting},
	{"remove-source-files", 0, false, Setting}, {"delete-excluded", 0, false, Setting},
	{"copy-links", 'L', false, Setting}, {"copy-unsafe-links", 0, false, Setting},
	{"copy-dirlinks", 'k', false, Setting},
	{"keep-dirlinks", 'K', false, Setting},                           // Receiver.Set
	{"cvs-exclude", 'C', false, Setting},                             // the caller's filter rules (filter.Options.CVSExclude)
	{"files-from", 0, true, Setting}, {"from0", '0', false, Setting}, // the caller's rules

	{"rsh", 'e', true, Unsupported}, {"rsync-path", 0, true, Unsupported}, {"password-file", 0, true, Unsupported},
	{"port", 0, true, Unsupported},
	{"size-only", 0, false, Unsupported}, {"ignore-times", 'I', false, Unsupported},
	{"max-delete", 0, true, Unsupported},
	{"fuzzy", 'y', false, Unsupported},
	{"compare-dest", 0, true, Unsupported}, {"copy-dest", 0, true, Unsupported},
	{"link-dest", 0, true, Unsupported}, {"modify-window", '@', true, Unsupported},
	{"super", 0, false, Unsupported},
	{"fake-super", 0, false, Unsupported}, {"atimes", 'U', false, Unsupported},
	{"crtimes", 'N', false, Unsupported}, {"open-noatime", 0, false, Unsupported},
	{"iconv", 0, true, Unsupported}, {"checksum-choice", 0, true, Unsupported},
	{"block-size", 'B', true, Unsupported}, {"relative", 'R', false, Unsupported},
	{"dirs", 'd', false, Unsupported},
	{"ipv4", '4', false, Unsupported}, {"ipv6", '6', false, Unsupported},
	{"info", 0, true, Unsupported}, {"debug", 0, true, Unsupported}, {"log-file", 0, true, Unsupported},
	{"out-format", 0, true, Unsupported},
	{"write-batch", 0, true, Unsupported},
	{"preallocate", 0, false, Unsupported}, {"max-alloc", 0, true, Unsupported},
}

// negatable lists the options with an rsync --no-OPTION form that gsync
// honours (options.c: the "no-" entries of long_options).
var negatable = map[string]bool{
	"links": true, "perms": true, "times": true, "owner": true, "group": true, "devices": true,
	"specials": true, "D": true, "hard-links": true, "acls": true, "xattrs": true, "sparse": true,
	"numeric-ids": true, "recursive": true, "verbose": true, "protect-args": true, "whole-file": true,
	"human-readable": true, "progress": true, "partial": true, "one-file-system": true,
	"ignore-errors": true, "compress": true, "checksum": true, "bwlimit": true,
	"backup": true, "inplace": true, "append": true, "update": true, "existing": true,
	"ignore-existing": true, "delay-updates": true, "omit-dir-times": true, "omit-link-times": true,
	"prune-empty-dirs": true, "fsync": true,
}

// Option is one rsync option as written, after parsing.
type Option struct {
	Name  string // the long name ("owner"; "D" and "P" for -D and -P)
	No    bool   // the --no-OPTION form
	Value string // for options taking a value
	Kind  Kind
	// Word is what the user wrote, for messages.
	Word string
}

// Parse splits rsync option words ("-aAX", "--no-owner", "--chmod=F644",
// "--chmod", "F644") into options, in order. An unknown option, a missing
// value or a word that is not an option is an error naming it.
func Parse(words []string) ([]Option, error) {
	var out []Option
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case strings.HasPrefix(w, "--") && len(w) > 2:
			name, val, hasVal := strings.Cut(w[2:], "=")
			o, err := long(name, w)
			if err != nil {
				return nil, err
			}
			if o.Kind != 0 && specFor(o.Name).valued && !o.No { // --no-bwlimit takes no value
				if !hasVal {
					if i+1 >= len(words) {
						return nil, fmt.Errorf("rsync option %s needs a value", w)
					}
					i++
					val = words[i]
				}
				o.Value = val
			} else if hasVal {
				return nil, fmt.Errorf("rsync option --%s takes no value (got %q)", name, w)
			}
			out = append(out, o)
		case strings.HasPrefix(w, "-") && len(w) > 1 && w != "--":
			for j := 1; j < len(w); j++ {
				s, ok := shortSpec(w[j])
				if !ok {
					return nil, fmt.Errorf("unknown rsync option -%c (in %q)", w[j], w)
				}
				o := Option{Name: s.long, Kind: s.kind, Word: w}
				if s.valued {
					// The rest of the word, or the next word, is the value.
					if j+1 < len(w) {
						o.Value = w[j+1:]
					} else if i+1 < len(words) {
						i++
						o.Value = words[i]
					} else {
						return nil, fmt.Errorf("rsync option -%c needs a value", w[j])
					}
					out = append(out, o)
					break
				}
				out = append(out, o)
			}
		default:
			return nil, fmt.Errorf("%q is not an rsync option (gsync takes only options here, no paths)", w)
		}
	}
	return out, nil
}

// long resolves a long option name, with its --no- form.
func long(name, word string) (Option, error) {
	if s := specFor(name); s.kind != 0 {
		return Option{Name: s.long, Kind: s.kind, Word: word}, nil
	}
	if base, ok := strings.CutPrefix(name, "no-"); ok {
		if len(base) == 1 {
			if s, ok := shortSpec(base[0]); ok {
				base = s.long
			}
		}
		if s := specFor(base); s.kind != 0 && negatable[base] {
			return Option{Name: s.long, No: true, Kind: s.kind, Word: word}, nil
		}
	}
	return Option{}, fmt.Errorf("unknown rsync option --%s", name)
}

func specFor(long string) spec {
	for _, s := range specs {
		if s.long == long {
			return s
		}
	}
	return spec{}
}

func shortSpec(c byte) (spec, bool) {
	for _, s := range specs {
		if s.short == c {
			return s, true
		}
	}
	return spec{}, false
}

// Set applies one Attr option to a, in rsync's order semantics (a later
// option overrides an earlier one: "-a --no-o" keeps no owner, "--no-o -a"
// keeps it). Options of other kinds are an error: the caller handles them.
func (a *Attrs) Set(o Option) error {
	on := !o.No
	switch o.Name {
	case "archive":
		// -a is -rlptgoD (options.c: case 'a').
		a.NoLinks, a.NoPerms, a.NoTimes, a.NoOwner, a.NoGroup, a.NoDevices, a.NoSpecials = false, false, false, false, false, false, false
	case "links":
		a.NoLinks = !on
	case "perms":
		a.NoPerms = !on
	case "times":
		a.NoTimes = !on
	case "owner":
		a.NoOwner = !on
	case "group":
		a.NoGroup = !on
	case "devices":
		a.NoDevices = !on
	case "specials":
		a.NoSpecials = !on
	case "D":
		a.NoDevices, a.NoSpecials = !on, !on
	case "hard-links":
		a.HardLinks = on
	case "acls":
		a.ACLs = on
		if on {
			a.NoPerms = false // options.c: case 'A' sets preserve_perms
		}
	case "xattrs":
		a.XAttrs = on
	case "sparse":
		a.Sparse = on
	case "numeric-ids":
		a.NumericIDs = on
	case "executability":
		a.Executability = on
	case "chmod":
		if a.Chmod != "" {
			// rsync adds each --chmod to the list (options.c:
			// parse_chmod appends).
			a.Chmod += ","
		}
		a.Chmod += o.Value
	case "usermap":
		if a.Usermap != "" {
			return fmt.Errorf("--usermap given twice (or with --chown): rsync allows one")
		}
		a.Usermap = o.Value
	case "groupmap":
		if a.Groupmap != "" {
			return fmt.Errorf("--groupmap given twice (or with --chown): rsync allows one")
		}
		a.Groupmap = o.Value
	case "chown":
		return a.setChown(o.Value)
	default:
		return fmt.Errorf("rsync option %s is not an attribute option", o.Word)
	}
	return nil
}

// setChown is options.c's OPT_CHOWN: USER:GROUP becomes --usermap=*:USER
// and --groupmap=*:GROUP, and turns -o / -g on.
func (a *Attrs) setChown(v string) error {
	user, group, hasGroup := strings.Cut(v, ":")
	if user != "" {
		if a.Usermap != "" {
			return fmt.Errorf("--chown=%s conflicts with an earlier --usermap or --chown", v)
		}
		a.Usermap, a.NoOwner = "*:"+user, false
	}
	if hasGroup && group != "" {
		if a.Groupmap != "" {
			return fmt.Errorf("--chown=%s conflicts with an earlier --groupmap or --chown", v)
		}
		a.Groupmap, a.NoGroup = "*:"+group, false
	}
	if user == "" && group == "" {
		return fmt.Errorf("--chown=%q names no user and no group; want USER, USER:GROUP or :GROUP", v)
	}
	return nil
}

// Check validates the valued attributes (--chmod, --usermap, --groupmap)
// once, when the configuration is read, so that the targets can rely on
// them.
func (a Attrs) Check() error {
	if a.Chmod != "" {
		if _, err := ParseChmod(a.Chmod); err != nil {
			return err
		}
	}
	if a.Usermap != "" {
		if _, err := ParseIDMap(a.Usermap); err != nil {
			return fmt.Errorf("--usermap: %w", err)
		}
	}
	if a.Groupmap != "" {
		if _, err := ParseIDMap(a.Groupmap); err != nil {
			return fmt.Errorf("--groupmap: %w", err)
		}
	}
	return nil
}
