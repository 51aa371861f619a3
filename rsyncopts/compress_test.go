package rsyncopts

import (
	"testing"

	"github.com/spf13/pflag"
)

// TestCompressCodec: the compression rsync's option parser ends up with
// (options.c:parse_arguments) for lsyncd _extra words.
func TestCompressCodec(t *testing.T) {
	for _, tc := range []struct {
		words []string
		codec string
		level int
		set   bool
	}{
		{nil, "", 0, false},
		{[]string{"-z"}, "auto", 0, false},
		{[]string{"-zz"}, "zlibx", 0, false},
		{[]string{"--compress", "--zc=ZSTD"}, "zstd", 0, false},
		{[]string{"--zc", "lz4"}, "lz4", 0, false},
		{[]string{"--compress-choice=auto"}, "", 0, false},
		{[]string{"-z", "--zc=none"}, "", 0, false},
		{[]string{"-z", "--no-compress"}, "", 0, false},
		{[]string{"-z", "--no-z"}, "", 0, false},
		{[]string{"--zl=3"}, "auto", 3, true},
		{[]string{"-z", "--compress-level", "9", "--zl=1"}, "auto", 1, true},
		{[]string{"-z", "--old-compress"}, "zlib", 0, false},
		{[]string{"--new-compress"}, "zlibx", 0, false},
		{[]string{"-z", "--zl=5", "--no-compress"}, "auto", 5, true}, // rsync keeps the level
	} {
		opts, err := Parse(tc.words)
		if err != nil {
			t.Fatalf("%q: %v", tc.words, err)
		}
		var c Compress
		for _, o := range opts {
			if !IsCompress(o.Name) || o.Kind != Setting {
				t.Fatalf("%q: %s is not a compression setting", tc.words, o.Word)
			}
			if err := c.Set(o); err != nil {
				t.Fatalf("%q: %v", tc.words, err)
			}
		}
		if c.Codec() != tc.codec || c.Level != tc.level || c.LevelSet != tc.set {
			t.Errorf("%q: codec %q level %d (set %v), want %q %d (%v)", tc.words, c.Codec(), c.Level, c.LevelSet, tc.codec, tc.level, tc.set)
		}
	}
	for _, bad := range [][]string{{"--zc=brotli"}, {"--zl=high"}} {
		opts, err := Parse(bad)
		if err != nil {
			t.Fatal(err)
		}
		var c Compress
		if err := c.Set(opts[0]); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestCompressFlags: gsync's own command line takes the same options,
// later ones winning.
func TestCompressFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want Compress
	}{
		{[]string{"-z"}, Compress{Z: 1}},
		{[]string{"-zz"}, Compress{Z: 2}},
		{[]string{"--zc=zstd", "--zl", "7", "--skip-compress=gz/zip"}, Compress{Choice: "zstd", Level: 7, LevelSet: true, Skip: "gz/zip", SkipSet: true}},
		{[]string{"--compress", "--compress-choice", "zlib", "--no-compress"}, Compress{}},
		{[]string{"--skip-compress="}, Compress{SkipSet: true}},
	} {
		f := pflag.NewFlagSet("t", pflag.ContinueOnError)
		var c Compress
		RegisterCompressFlags(f, &c)
		if err := f.Parse(tc.args); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if c != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.args, c, tc.want)
		}
	}
}
