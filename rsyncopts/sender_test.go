package rsyncopts

import (
	"testing"

	"github.com/spf13/pflag"
)

// TestParseSize: rsync's size arguments (options.c:parse_size_arg), with
// the values rsync 3.2.7's --max-size and --bwlimit take them for.
func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		def  byte
		want int64
	}{
		{"100", 'b', 100},
		{"100", 'K', 102400},
		{"5m", 'K', 5 << 20},
		{"5M", 'b', 5 << 20},
		{"1.5k", 'b', 1536},
		{"2kb", 'b', 2000},
		{"2KiB", 'b', 2048},
		{"1g", 'b', 1 << 30},
		{"1k+1", 'b', 1025},
		{"1k-1", 'b', 1023},
		{"0", 'K', 0},
		{"1t", 'b', 1 << 40},
	} {
		got, err := ParseSize(tc.arg, tc.def)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q, %c) = %d, %v; want %d", tc.arg, tc.def, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "x", "5q", "5kx", "1k+2", "-1", "1.5.5"} {
		if n, err := ParseSize(bad, 'b'); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, n)
		}
	}
}

// TestSenderSet: the sender options from lsyncd _extra words and from
// gsync's own flags end up the same, later ones winning.
func TestSenderSet(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  Sender
		max   int64
		min   int64
	}{
		{nil, Sender{}, -1, -1},
		{[]string{"--bwlimit=2m"}, Sender{BwLimit: 2 << 20}, -1, -1},
		{[]string{"--bwlimit", "100", "--no-bwlimit"}, Sender{}, -1, -1},
		{[]string{"-cW", "--safe-links"}, Sender{Checksum: true, WholeFile: true, SafeLinks: true}, -1, -1},
		{[]string{"-W", "--no-whole-file", "-c", "--no-checksum"}, Sender{}, -1, -1},
		{[]string{"--max-size=1k", "--min-size", "10"}, Sender{MaxSize: 1024, MinSize: 10, sizesSet: maxSizeSet | minSizeSet}, 1024, 10},
		{[]string{"--max-size=0"}, Sender{sizesSet: maxSizeSet}, 0, -1},
		{[]string{"-L", "--copy-unsafe-links", "-k"}, Sender{CopyLinks: true, CopyUnsafeLinks: true, CopyDirlinks: true}, -1, -1},
		{[]string{"--copy-links", "--copy-dirlinks"}, Sender{CopyLinks: true, CopyDirlinks: true}, -1, -1},
	} {
		opts, err := Parse(tc.words)
		if err != nil {
			t.Fatalf("%q: %v", tc.words, err)
		}
		var s Sender
		for _, o := range opts {
			if !IsSender(o.Name) || o.Kind != Setting {
				t.Fatalf("%q: %s is not a sender setting", tc.words, o.Word)
			}
			if err := s.Set(o); err != nil {
				t.Fatalf("%q: %v", tc.words, err)
			}
		}
		if s != tc.want || s.Max() != tc.max || s.Min() != tc.min {
			t.Errorf("%q: got %+v (max %d min %d), want %+v (max %d min %d)", tc.words, s, s.Max(), s.Min(), tc.want, tc.max, tc.min)
		}
		// The same words as gsync flags.
		var f Sender
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		RegisterSenderFlags(fs, &f)
		if err := fs.Parse(tc.words); err != nil {
			t.Fatalf("flags %q: %v", tc.words, err)
		}
		if f != s {
			t.Errorf("flags %q: got %+v, want %+v", tc.words, f, s)
		}
	}
	for _, bad := range []string{"--bwlimit=100b", "--max-size=lots"} {
		opts, err := Parse([]string{bad})
		if err != nil {
			t.Fatal(err)
		}
		var s Sender
		if err := s.Set(opts[0]); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if w := (Sender{CopyDirlinks: true, CopyLinks: true}).FollowWords(); len(w) != 2 || w[0] != "--copy-links" || w[1] != "--copy-dirlinks" {
		t.Errorf("FollowWords = %q", w)
	}
	if (Sender{SafeLinks: true}).FollowsLinks() || !(Sender{CopyUnsafeLinks: true}).FollowsLinks() {
		t.Error("FollowsLinks wrong")
	}
	if k := (Sender{BwLimit: 2 << 20}).BwLimitKiB(); k != 2048 {
		t.Errorf("BwLimitKiB of 2m = %d, want 2048", k)
	}
	if s := (Sender{MaxSize: 10, MinSize: 2, sizesSet: maxSizeSet | minSizeSet}); s.SkipSize(10) || !s.SkipSize(11) || !s.SkipSize(1) || s.SkipSize(2) {
		t.Error("SkipSize does not keep the bounds inclusive")
	}
}
