package rsyncproto

import (
	"fmt"
	"strings"
)

// The compressions a sender can use, by rsync's names (compat.c:
// valid_compressions_items).
const (
	CompressAuto  = "auto"  // -z: negotiated at protocol 31 (zlib with peers that cannot negotiate)
	CompressZstd  = "zstd"  // one zstd stream for the whole session, flushed per token
	CompressLZ4   = "lz4"   // independent LZ4 blocks
	CompressZlibx = "zlibx" // raw deflate per file, matched data not in the history
	CompressZlib  = "zlib"  // raw deflate per file, matched data in the history (rsync's classic -z)
)

// ourCompressions is the compression list we offer, strongest first, as
// an rsync 3.2+ client offers it (compat.c:get_default_nno_list leaves
// "none" out on the client).
const ourCompressions = "zstd lz4 zlibx zlib"

// CheckCompress validates a compression choice as rsync's
// --compress-choice takes it ("" and "none" are no compression).
func CheckCompress(choice string) error {
	switch choice {
	case "", CompressAuto, CompressZstd, CompressLZ4, CompressZlibx, CompressZlib:
		return nil
	}
	return fmt.Errorf("unknown compression %q: want one of auto, %s", choice, strings.ReplaceAll(ourCompressions, " ", ", "))
}

// compressArgs are the server argv words for o's compression but its
// level (options.c:server_options): 'z' in the short options for -z and
// --compress-choice=zlib, and the choice.
func compressArgs(o *Options) (short bool, long []string) {
	short = o.Compress == CompressAuto || o.Compress == CompressZlib
	switch o.Compress {
	case CompressZlibx:
		long = append(long, "--new-compress")
	case CompressZlib:
		long = append(long, "--old-compress")
	case CompressZstd, CompressLZ4:
		long = append(long, "--compress-choice="+o.Compress)
	}
	return short, long
}

// pickCompress chooses our most preferred compression that the peer
// listed (compat.c:parse_negotiate_str: the best of our ranks among the
// names the peer sent).
func pickCompress(theirs string) string {
	for _, ours := range strings.Fields(ourCompressions) {
		for _, t := range strings.Fields(theirs) {
			if t == ours {
				return ours
			}
		}
	}
	return ""
}

// zstd's level range and default (ZSTD_minCLevel, ZSTD_maxCLevel,
// ZSTD_CLEVEL_DEFAULT of libzstd 1.5).
const (
	zstdMinLevel     = -(1 << 17)
	zstdMaxLevel     = 22
	zstdDefaultLevel = 3
)

// compressLevel is token.c:init_compression_level: the level the codec
// runs at, and whether the level turns compression off (zlib and zlibx at
// level 0, which the receiver concludes alike).
func compressLevel(codec string, level int, set bool) (int, bool) {
	lo, hi, def := 0, 0, 0
	switch codec {
	case CompressZlib, CompressZlibx:
		lo, hi, def = 1, 9, 6
		if set && level == 0 {
			return 0, false
		}
		if set && level == -1 { // Z_DEFAULT_COMPRESSION
			level = def
		}
	case CompressZstd:
		lo, hi, def = zstdMinLevel, zstdMaxLevel, zstdDefaultLevel
		if level == 0 {
			set = false
		}
	}
	if !set {
		return def, true
	}
	return min(max(level, lo), hi), true
}

// skipSuffixes is rsync's default --skip-compress list (rsync.1.md, the
// source of default-dont-compress.h).
const skipSuffixes = "3g2/3gp/7z/aac/ace/apk/avi/bz2/deb/dmg/ear/f4v/flac/flv/gpg/gz/iso/jar/jpeg/jpg/" +
	"lrz/lz/lz4/lzma/lzo/m1a/m1v/m2a/m2ts/m2v/m4a/m4b/m4p/m4r/m4v/mka/mkv/mov/mp1/mp2/mp3/mp4/" +
	"mpa/mpeg/mpg/mpv/mts/odb/odf/odg/odi/odm/odp/ods/odt/oga/ogg/ogm/ogv/ogx/opus/otg/oth/otp/" +
	"ots/ott/oxt/png/qt/rar/rpm/rz/rzip/spx/squashfs/sxc/sxd/sxg/sxm/sxw/sz/tbz/tbz2/tgz/tlz/ts/" +
	"txz/tzo/vob/war/webm/webp/xz/z/zip/zst"

// skipList is a parsed --skip-compress list: the file suffixes (without
// the dot, lower case) sent with the least compression. Words with a
// letter class ("mp[34]") are kept as patterns.
type skipList struct {
	words    map[string]bool
	patterns []string
}

// parseSkipList parses rsync's --skip-compress value: suffixes
// separated by '/', each with optional letter classes ("mp[34]"),
// matched without regard to case (token.c:add_nocompress_suffixes,
// add_suffix: a word is cut at 32 characters; "[]" matches nothing; a
// class of one character and an unclosed '[' are a literal '[').
func parseSkipList(list string) *skipList {
	l := &skipList{words: map[string]bool{}}
	for _, w := range strings.Split(list, "/") {
		if w == "" {
			continue
		}
		w = asciiLower(w)
		if len(w) > 32 {
			w = w[:32]
		}
		if strings.IndexByte(w, '[') >= 0 {
			l.patterns = append(l.patterns, w)
		} else {
			l.words[w] = true
		}
	}
	return l
}

// asciiLower lowers ASCII letters only, as rsync's toLower does for
// the suffixes.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// matchSuffix matches a suffix against one pattern word of the list
// (the walk token.c:set_compression does in add_suffix's tree).
func matchSuffix(p, s string) bool {
	for p != "" {
		if s == "" {
			return false
		}
		if p[0] == '[' {
			if i := strings.IndexByte(p[1:], ']'); i >= 0 && i != 1 {
				if i == 0 || strings.IndexByte(p[1:1+i], s[0]) < 0 {
					return false
				}
				p, s = p[2+i:], s[1:]
				continue
			}
		}
		if p[0] != s[0] {
			return false
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}

// skips reports whether the file name (a path; its last element
// counts) has a suffix on the list (token.c:set_compression: the text
// after the last dot, not a leading one).
func (l *skipList) skips(name string) bool {
	if l == nil {
		return false
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return false
	}
	suf := asciiLower(name[i+1:])
	if l.words[suf] {
		return true
	}
	for _, p := range l.patterns {
		if matchSuffix(p, suf) {
			return true
		}
	}
	return false
}
