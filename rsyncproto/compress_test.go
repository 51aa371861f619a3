package rsyncproto

import "testing"

// TestSkipList: rsync's --skip-compress words (token.c:add_suffix,
// set_compression): the suffix after the last dot of the last path
// element, without regard to case; letter classes; rsync's default list.
func TestSkipList(t *testing.T) {
	l := parseSkipList("gz/JPG/mp[34]/[a/x[]y/t[b]z")
	for name, want := range map[string]bool{
		"a.gz": true, "dir/b.GZ": true, "x.jpg": true, "x.Jpg": true, "song.mp3": true, "song.mp4": true,
		"song.mp5": false, "a.tar.gz": true, "a.gz.txt": false, ".gz": false, "gz": false, "a.": false,
		"dir.gz/file": false, "x.[a": true, "x.xy": false, "x.x[]y": false,
		// A class of one letter is a literal '[' word (add_suffix).
		"x.tbz": false, "x.t[b]z": true,
	} {
		if got := l.skips(name); got != want {
			t.Errorf("skips(%q) = %v, want %v", name, got, want)
		}
	}
	def := parseSkipList(skipSuffixes)
	for name, want := range map[string]bool{"a.7z": true, "b.ZST": true, "c.squashfs": true, "d.txt": false, "e.log": false} {
		if got := def.skips(name); got != want {
			t.Errorf("default list: skips(%q) = %v, want %v", name, got, want)
		}
	}
	if parseSkipList("").skips("a.gz") {
		t.Error("an empty list skips a.gz")
	}
	var none *skipList
	if none.skips("a.gz") {
		t.Error("a nil list skips a.gz")
	}
}

// TestCompressLevel: token.c:init_compression_level's defaults, ranges
// and the level that turns zlib off.
func TestCompressLevel(t *testing.T) {
	for _, tc := range []struct {
		codec string
		level int
		set   bool
		want  int
		on    bool
	}{
		{CompressZlib, 0, false, 6, true},
		{CompressZlib, 0, true, 0, false},
		{CompressZlibx, 0, true, 0, false},
		{CompressZlib, -1, true, 6, true},
		{CompressZlib, 12, true, 9, true},
		{CompressZlibx, 1, true, 1, true},
		{CompressZstd, 0, false, 3, true},
		{CompressZstd, 0, true, 3, true},
		{CompressZstd, 30, true, 22, true},
		{CompressZstd, -7, true, -7, true},
		{CompressLZ4, 5, true, 0, true},
	} {
		got, on := compressLevel(tc.codec, tc.level, tc.set)
		if got != tc.want || on != tc.on {
			t.Errorf("compressLevel(%s, %d, %v) = %d, %v; want %d, %v", tc.codec, tc.level, tc.set, got, on, tc.want, tc.on)
		}
	}
}

func TestPickCompress(t *testing.T) {
	for theirs, want := range map[string]string{
		"zstd lz4 zlibx zlib none": "zstd",
		"lz4 zlibx zlib none":      "lz4",
		"zlib zlibx":               "zlibx",
		"zlib":                     "zlib",
		"none":                     "",
		"":                         "",
	} {
		if got := pickCompress(theirs); got != want {
			t.Errorf("pickCompress(%q) = %q, want %q", theirs, got, want)
		}
	}
}
