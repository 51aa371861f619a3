package rsyncopts

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Sender holds rsync's sender-side transfer options as given, in
// options.c's semantics: --bwlimit, --checksum (-c), --whole-file (-W),
// --max-size, --min-size, --safe-links, --remove-source-files,
// --delete-excluded and the options that follow symlinks (--copy-links,
// --copy-unsafe-links, --copy-dirlinks). The zero value is rsync's
// default (no limit, quick check, delta transfer to remote targets, no
// size bounds, symlinks kept whatever they point to). Sender is
// comparable.
type Sender struct {
	// BwLimit is --bwlimit in bytes per second (0: none). rsync rounds it
	// to whole KiB per second (options.c: bwlimit = (size + 512) / 1024);
	// BwLimitKiB returns that.
	BwLimit int64
	// Checksum (-c) compares regular files by a whole-file checksum, not
	// by size and mtime, to decide which ones to send.
	Checksum bool
	// WholeFile (-W) sends whole files, no delta: the receiver sends no
	// block checksums. rsync's default for remote targets is delta
	// transfer; a local target always copies whole files.
	WholeFile bool
	// MaxSize and MinSize are --max-size and --min-size in bytes (-1:
	// none): regular files larger than MaxSize, or smaller than MinSize,
	// are neither sent nor deleted on the target (generator.c:
	// recv_generator).
	MaxSize, MinSize int64
	// SafeLinks (--safe-links): the receiver ignores symlinks that are
	// absolute or climb out of the tree (util1.c:unsafe_symlink).
	SafeLinks bool
	// CopyLinks (-L, --copy-links) sends every symlink as what it points
	// to, a file or a directory with its contents; a link that points
	// nowhere is an error for that entry ("symlink has no referent").
	// CopyUnsafeLinks (--copy-unsafe-links) does so only for links that
	// point out of the tree (util1.c:unsafe_symlink), and CopyDirlinks
	// (-k, --copy-dirlinks) only for links to directories (flist.c:
	// readlink_stat, link_stat).
	CopyLinks       bool
	CopyUnsafeLinks bool
	CopyDirlinks    bool
	// RemoveSourceFiles (--remove-source-files): a regular file the
	// receiver confirmed (sent, or already up to date there) is removed
	// from the source, if it did not change since it was listed
	// (sender.c:successful_send).
	RemoveSourceFiles bool
	// DeleteExcluded (--delete-excluded): where deletes are allowed,
	// excluded paths are deleted on the target too; the excludes only
	// keep them from being sent (rsync sends the receiver none of them).
	DeleteExcluded bool
	// sizesSet tells a zero Sender (no bounds) from MaxSize = MinSize = 0.
	sizesSet uint8
}

// The bits of Sender.sizesSet.
const (
	maxSizeSet = 1 << iota
	minSizeSet
)

// senderOptions are the option names Sender.Set takes.
var senderOptions = []string{"bwlimit", "checksum", "whole-file", "max-size", "min-size", "safe-links", "remove-source-files", "delete-excluded",
	"copy-links", "copy-unsafe-links", "copy-dirlinks"}

// IsSender reports whether the option name is one of the sender-side
// options Sender.Set takes.
func IsSender(name string) bool {
	for _, n := range senderOptions {
		if n == name {
			return true
		}
	}
	return false
}

// Set applies one sender-side option, later ones overriding earlier ones
// as in rsync.
func (s *Sender) Set(o Option) error {
	on := !o.No
	switch o.Name {
	case "bwlimit":
		if o.No {
			s.BwLimit = 0
			return nil
		}
		// options.c: OPT_BWLIMIT, parse_size_arg(arg, 'K', "bwlimit",
		// 512, -1, True): K by default, at least 512 bytes, 0 = none.
		n, err := ParseSize(o.Value, 'K')
		if err != nil {
			return fmt.Errorf("%s: %w", o.Word, err)
		}
		if n != 0 && n < 512 {
			return fmt.Errorf("%s: --bwlimit=%s is too small (min: 512 or 0 for unlimited)", o.Word, o.Value)
		}
		s.BwLimit = n
	case "checksum":
		s.Checksum = on
	case "whole-file":
		s.WholeFile = on
	case "max-size", "min-size":
		// options.c: OPT_MAX_SIZE, OPT_MIN_SIZE: bytes by default.
		n, err := ParseSize(o.Value, 'b')
		if err != nil {
			return fmt.Errorf("%s: %w", o.Word, err)
		}
		if o.Name == "max-size" {
			s.MaxSize, s.sizesSet = n, s.sizesSet|maxSizeSet
		} else {
			s.MinSize, s.sizesSet = n, s.sizesSet|minSizeSet
		}
	case "safe-links":
		s.SafeLinks = on
	case "copy-links":
		s.CopyLinks = on
	case "copy-unsafe-links":
		s.CopyUnsafeLinks = on
	case "copy-dirlinks":
		s.CopyDirlinks = on
	case "remove-source-files":
		s.RemoveSourceFiles = on
	case "delete-excluded":
		s.DeleteExcluded = on
	default:
		return fmt.Errorf("rsync option %s is not a sender option", o.Word)
	}
	return nil
}

// FollowsLinks reports whether an option makes the sender follow
// symlinks under SRC (-L, --copy-unsafe-links, -k), reading what they
// point to, wherever that is.
func (s Sender) FollowsLinks() bool { return s.CopyLinks || s.CopyUnsafeLinks || s.CopyDirlinks }

// FollowWords names the options FollowsLinks reports, as rsync spells
// them, for the startup warning.
func (s Sender) FollowWords() []string {
	var w []string
	if s.CopyLinks {
		w = append(w, "--copy-links")
	}
	if s.CopyUnsafeLinks {
		w = append(w, "--copy-unsafe-links")
	}
	if s.CopyDirlinks {
		w = append(w, "--copy-dirlinks")
	}
	return w
}

// Max is the --max-size bound in bytes, -1 when none was given.
func (s Sender) Max() int64 {
	if s.sizesSet&maxSizeSet == 0 {
		return -1
	}
	return s.MaxSize
}

// Min is the --min-size bound in bytes, -1 when none was given.
func (s Sender) Min() int64 {
	if s.sizesSet&minSizeSet == 0 {
		return -1
	}
	return s.MinSize
}

// SkipSize reports whether a regular file of size bytes lies outside
// --max-size / --min-size (generator.c:recv_generator skips it: not sent,
// not deleted).
func (s Sender) SkipSize(size int64) bool {
	if m := s.Max(); m >= 0 && size > m {
		return true
	}
	if m := s.Min(); m >= 0 && size < m {
		return true
	}
	return false
}

// BwLimitKiB is the bandwidth limit in KiB per second as rsync keeps it
// (options.c: bwlimit = (size + 512) / 1024), 0 for none.
func (s Sender) BwLimitKiB() int {
	if s.BwLimit == 0 {
		return 0
	}
	return int((s.BwLimit + 512) / 1024)
}

// ParseSize parses an rsync size argument (options.c:parse_size_arg):
// a decimal number with an optional fraction, then an optional suffix
// b, k, m, g, t or p (def when none; either case), powers of 1024, or of
// 1000 with a trailing "b" ("kb"), or 1024 with "ib" ("KiB"); then an
// optional "+1" or "-1".
func ParseSize(arg string, def byte) (int64, error) {
	i := 0
	for i < len(arg) && arg[i] >= '0' && arg[i] <= '9' {
		i++
	}
	if i < len(arg) && arg[i] == '.' {
		for i++; i < len(arg) && arg[i] >= '0' && arg[i] <= '9'; i++ {
		}
	}
	num, rest := arg[:i], arg[i:]
	bad := fmt.Errorf("--size %q is invalid: want a number with an optional suffix (b, k, m, g, t, p; kb for powers of 1000)", arg)
	if num == "" || num == "." {
		return 0, bad
	}
	suf := def
	if rest != "" && rest[0] != '+' && rest[0] != '-' {
		suf, rest = rest[0], rest[1:]
	}
	reps := strings.IndexByte("bkmgtp", lower(suf))
	if reps < 0 {
		return 0, bad
	}
	mult := 1024.0
	switch {
	case rest != "" && (rest[0] == 'b' || rest[0] == 'B'):
		mult, rest = 1000, rest[1:]
	case rest == "" || rest[0] == '+' || rest[0] == '-':
	case len(rest) >= 2 && strings.EqualFold(rest[:2], "ib"):
		rest = rest[2:]
	default:
		return 0, bad
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, bad
	}
	size := f * math.Pow(mult, float64(reps))
	if size >= math.MaxInt64/2 {
		return 0, fmt.Errorf("--size %q is too large", arg)
	}
	n := int64(size)
	switch rest {
	case "":
	case "+1":
		n++
	case "-1":
		n--
	default:
		return 0, bad
	}
	if n < 0 {
		return 0, fmt.Errorf("--size %q is too small", arg)
	}
	return n, nil
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// senderFlags are the sender-side options on gsync's command line.
var senderFlags = []struct {
	long, short, usage string
	valued, hidden     bool
}{
	{"bwlimit", "", "limit the rate file data is sent at, `RATE` in KiB/s or with a suffix (5m: 5 MiB/s; 0: none), as rsync's --bwlimit", true, false},
	{"no-bwlimit", "", "", false, true},
	{"checksum", "c", "decide which files to send by whole-file checksum, not size and mtime (reads every file on both sides)", false, false},
	{"no-checksum", "", "", false, true},
	{"whole-file", "W", "send whole files, no delta transfer (rsync targets; a local target always copies whole files)", false, false},
	{"no-whole-file", "", "", false, true},
	{"no-W", "", "", false, true},
	{"max-size", "", "do not send regular files larger than `SIZE` (rsync suffixes: 500k, 1.5m, 2g)", true, false},
	{"min-size", "", "do not send regular files smaller than `SIZE`", true, false},
	{"safe-links", "", "the target ignores symlinks that are absolute or point out of the tree", false, false},
	{"copy-links", "L", "send every symlink as what it points to (a file, or a directory with its contents; follows links out of SRC)", false, false},
	{"copy-unsafe-links", "", "send symlinks that point out of the tree as what they point to; the others stay links", false, false},
	{"copy-dirlinks", "k", "send symlinks to directories as directories", false, false},
	{"delete-excluded", "", "also delete excluded paths on the target (where --delete allows deleting)", false, false},
	{"remove-source-files", "", "remove each file from SRC once the target confirmed it (moves files; one target, --delete false or running)", false, false},
}

// senderValue is a flag.Value applying its option to a Sender as the
// flag is parsed, so that later flags win as in rsync.
type senderValue struct {
	s      *Sender
	opt    Option
	valued bool
}

func (v *senderValue) String() string { return "" }

func (v *senderValue) Set(s string) error {
	o := v.opt
	if v.valued {
		o.Value = s
	} else if s != "true" {
		return fmt.Errorf("takes no value")
	}
	return v.s.Set(o)
}

func (v *senderValue) Type() string {
	if v.valued {
		return "string"
	}
	return "bool"
}

// RegisterSenderFlags adds rsync's sender-side options to f; each
// applies to s as it is parsed.
func RegisterSenderFlags(f *pflag.FlagSet, s *Sender) {
	for _, sf := range senderFlags {
		name, no := sf.long, false
		if base, ok := strings.CutPrefix(name, "no-"); ok {
			name, no = base, true
			if name == "W" {
				name = "whole-file"
			}
		}
		v := &senderValue{s: s, opt: Option{Name: name, No: no, Kind: Setting, Word: "--" + sf.long}, valued: sf.valued}
		fl := f.VarPF(v, sf.long, sf.short, sf.usage)
		if !sf.valued {
			fl.NoOptDefVal = "true"
		}
		fl.Hidden = sf.hidden
	}
}
