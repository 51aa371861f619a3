package rsyncopts

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Compress holds rsync's compression options as given: -z
// (--compress), --compress-choice (--zc), --compress-level (--zl),
// --skip-compress and the older --old-compress / --new-compress, in
// options.c's semantics. The zero value compresses nothing (rsync's
// default). Compress is comparable.
type Compress struct {
	// Z counts -z: once asks for a negotiated compression (classic zlib
	// with peers that cannot negotiate), twice for zlibx (options.c).
	Z int
	// Choice is --compress-choice: auto, zstd, lz4, zlibx, zlib or none
	// ("" when not given).
	Choice string
	// Level is --compress-level when LevelSet; a level alone turns
	// compression on, as in rsync.
	Level    int
	LevelSet bool
	// Skip is --skip-compress ("gz/jpg/mp[34]") when SkipSet; rsync's
	// default suffix list applies otherwise.
	Skip    string
	SkipSet bool
}

// compressOptions are the option names Compress.Set takes.
var compressOptions = []string{"compress", "compress-choice", "zc", "compress-level", "zl",
	"skip-compress", "old-compress", "new-compress"}

// IsCompress reports whether the option name is one of rsync's
// compression options (Compress.Set takes it).
func IsCompress(name string) bool {
	for _, n := range compressOptions {
		if n == name {
			return true
		}
	}
	return false
}

// Set applies one compression option, later ones overriding earlier
// ones as in rsync (options.c: 'z', OPT_OLD_COMPRESS, OPT_NEW_COMPRESS,
// OPT_NO_COMPRESS, and the compress-choice and compress-level values).
func (c *Compress) Set(o Option) error {
	switch o.Name {
	case "compress":
		if o.No {
			c.Z, c.Choice = 0, "" // --no-compress keeps a given level
		} else {
			c.Z++
		}
	case "old-compress":
		c.Choice = "zlib"
	case "new-compress":
		c.Choice = "zlibx"
	case "compress-choice", "zc":
		v := strings.ToLower(o.Value)
		switch v {
		case "auto", "none", "zstd", "lz4", "zlibx", "zlib":
		default:
			return fmt.Errorf("%s: unknown compression %q: want auto, zstd, lz4, zlibx, zlib or none", o.Word, o.Value)
		}
		c.Choice = v
	case "compress-level", "zl":
		n, err := strconv.Atoi(strings.TrimSpace(o.Value))
		if err != nil {
			return fmt.Errorf("%s: want a number, got %q", o.Word, o.Value)
		}
		c.Level, c.LevelSet = n, true
	case "skip-compress":
		c.Skip, c.SkipSet = o.Value, true
	default:
		return fmt.Errorf("rsync option %s is not a compression option", o.Word)
	}
	return nil
}

// Codec is the compression asked for (options.c:parse_arguments after
// the loop): "" for none, "auto" to negotiate, or a codec's name.
func (c Compress) Codec() string {
	switch {
	case c.Choice == "none":
		return ""
	case c.Choice != "" && c.Choice != "auto":
		return c.Choice
	case c.Z > 1:
		return "zlibx"
	case c.Z == 1 || c.LevelSet:
		return "auto"
	}
	return ""
}

// compressFlags are the compression options on gsync's command line.
var compressFlags = []struct {
	long, short, usage string
	valued, hidden     bool
}{
	{"compress", "z", "compress file data sent to daemon and ssh targets (-zz: zlibx); the codec is negotiated: zstd with rsync 3.2 and newer, zlib with older peers", false, false},
	{"no-compress", "", "", false, true},
	{"compress-choice", "", "compress with `CODEC`: zstd, lz4, zlibx, zlib, auto (negotiated) or none; implies -z", true, false},
	{"zc", "", "same as --compress-choice `CODEC`", true, false},
	{"compress-level", "", "compression `LEVEL` (zlib 1-9, default 6, 0: off; zstd -131072 to 22, default 3); implies -z", true, false},
	{"zl", "", "same as --compress-level `LEVEL`", true, false},
	{"skip-compress", "", "file `SUFFIXES` sent with the least compression, e.g. gz/jpg/mp[34] (default: rsync's list of compressed formats; zlib and zlibx only)", true, false},
	{"old-compress", "", "", false, true},
	{"new-compress", "", "", false, true},
}

// compressValue is a flag.Value applying its option to a Compress as the
// flag is parsed, so that later flags win as in rsync.
type compressValue struct {
	c      *Compress
	opt    Option
	valued bool
}

func (v *compressValue) String() string { return "" }

func (v *compressValue) Set(s string) error {
	o := v.opt
	if v.valued {
		o.Value = s
	} else if s != "true" {
		return fmt.Errorf("takes no value")
	}
	return v.c.Set(o)
}

func (v *compressValue) Type() string {
	if v.valued {
		return "string"
	}
	return "bool"
}

// RegisterCompressFlags adds rsync's compression options to f; each
// applies to c as it is parsed.
func RegisterCompressFlags(f *pflag.FlagSet, c *Compress) {
	for _, cf := range compressFlags {
		name, no := cf.long, false
		if base, ok := strings.CutPrefix(name, "no-"); ok {
			name, no = base, true
		}
		v := &compressValue{c: c, opt: Option{Name: name, No: no, Kind: Setting, Word: "--" + cf.long}, valued: cf.valued}
		fl := f.VarPF(v, cf.long, cf.short, cf.usage)
		if !cf.valued {
			fl.NoOptDefVal = "true"
		}
		fl.Hidden = cf.hidden
	}
}
