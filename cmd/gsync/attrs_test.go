package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/rsyncopts"
)

// TestLsyncdAttrs: lsyncd's rsync = {...} keys and _extra become the same
// attributes lsyncd's rsync command line would have kept.
func TestLsyncdAttrs(t *testing.T) {
	lts := rsyncopts.Attrs{NoPerms: true, NoOwner: true, NoGroup: true, NoDevices: true, NoSpecials: true}
	for _, tc := range []struct {
		name, rsync string
		want        rsyncopts.Attrs
		ignored     string
		err         string
	}{
		{"default.rsync is -lts", "", lts, "", ""},
		{"archive", "archive = true", rsyncopts.Attrs{}, "", ""},
		{"archive without owner", "archive = true, owner = false, perms = false", rsyncopts.Attrs{NoOwner: true, NoPerms: true}, "", ""},
		{"times off", "times = false, links = false", rsyncopts.Attrs{NoPerms: true, NoOwner: true, NoGroup: true, NoDevices: true, NoSpecials: true, NoTimes: true, NoLinks: true}, "", ""},
		{"acls xattrs", "archive = true, acls = true, xattrs = true, hard_links = true, sparse = true",
			rsyncopts.Attrs{ACLs: true, XAttrs: true, HardLinks: true, Sparse: true}, "", ""},
		{"acls imply perms", "acls = true", rsyncopts.Attrs{NoOwner: true, NoGroup: true, NoDevices: true, NoSpecials: true, ACLs: true}, "", ""},
		{"valued keys", `archive = true, chown = "nobody:nogroup", chmod = "F644"`,
			rsyncopts.Attrs{Usermap: "*:nobody", Groupmap: "*:nogroup", Chmod: "F644"}, "", ""},
		{"_extra", `archive = true, _extra = { "--numeric-ids", "-H", "--no-specials", "-v", "--timeout=7" }`,
			rsyncopts.Attrs{NumericIDs: true, HardLinks: true, NoSpecials: true}, "-v", ""},
		{"_extra unsupported", `_extra = { "--fuzzy" }`, lts, "", "--fuzzy is not supported"},
		{"_extra unknown", `_extra = { "--frob" }`, lts, "", "unknown rsync option --frob"},
		{"bad chmod", `chmod = "Q+w"`, lts, "", "chmod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := lsyncdconf.Load("c.lua", `sync{ default.rsync, source = "/src", target = "h::m", rsync = { `+tc.rsync+` } }`)
			if err != nil {
				t.Fatal(err)
			}
			c, ignored, err := syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{}, 1)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.attrs != tc.want {
				t.Errorf("attrs %+v, want %+v", c.attrs, tc.want)
			}
			if got := strings.Join(ignored, " "); got != tc.ignored {
				t.Errorf("ignored %q, want %q", got, tc.ignored)
			}
		})
	}
}

// TestLsyncdSender: lsyncd's sender-side keys (bwlimit, checksum,
// whole_file) and _extra's sender options reach the target's
// rsyncopts.Sender, _extra after the keys as on lsyncd's command line.
func TestLsyncdSender(t *testing.T) {
	for _, tc := range []struct {
		name, rsync string
		bw          int64
		checksum    bool
		wholeFile   bool
		max, min    int64
		err         string
	}{
		{"none", "", 0, false, false, -1, -1, ""},
		{"keys", `bwlimit = 100, checksum = true, whole_file = true`, 100 << 10, true, true, -1, -1, ""},
		{"number with suffix", `bwlimit = "2m"`, 2 << 20, false, false, -1, -1, ""},
		{"_extra", `_extra = { "--max-size=1m", "--min-size", "1k", "-c", "--bwlimit=50" }`, 50 << 10, true, false, 1 << 20, 1 << 10, ""},
		{"_extra overrides the key", `bwlimit = 100, _extra = { "--no-bwlimit", "--no-W" }, whole_file = true`, 0, false, false, -1, -1, ""},
		{"bad bwlimit", `bwlimit = "fast"`, 0, false, false, -1, -1, "rsync.bwlimit"},
		{"bad max-size", `_extra = { "--max-size=huge" }`, 0, false, false, -1, -1, "--max-size=huge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := lsyncdconf.Load("c.lua", `sync{ default.rsync, source = "/src", target = "h::m", rsync = { `+tc.rsync+` } }`)
			if err != nil {
				t.Fatal(err)
			}
			c, ignored, err := syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{}, 1)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := c.sender
			if s.BwLimit != tc.bw || s.Checksum != tc.checksum || s.WholeFile != tc.wholeFile || s.Max() != tc.max || s.Min() != tc.min {
				t.Errorf("sender %+v (max %d, min %d), want bw %d checksum %v whole-file %v max %d min %d",
					s, s.Max(), s.Min(), tc.bw, tc.checksum, tc.wholeFile, tc.max, tc.min)
			}
			if len(ignored) > 0 {
				t.Errorf("ignored %q", ignored)
			}
		})
	}
	cfg, err := lsyncdconf.Load("c.lua", `sync{ default.rsync, source = "/src", target = "h::m", rsync = { delete_excluded = true, _extra = { "--remove-source-files" } } }`)
	if err != nil {
		t.Fatal(err)
	}
	c, ignored, err := syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{}, 1)
	if err != nil || !c.sender.DeleteExcluded || !c.sender.RemoveSourceFiles || len(ignored) > 0 {
		t.Errorf("delete_excluded and --remove-source-files: %+v, ignored %q, %v", c.sender, ignored, err)
	}
	// The symlink keys (lsyncd passes -k, -L, -K, --copy-unsafe-links).
	cfg, err = lsyncdconf.Load("c.lua", `sync{ default.rsync, source = "/src", target = "h::m", rsync = { copy_links = true, copy_unsafe_links = true, copy_dirlinks = true, keep_dirlinks = true } }`)
	if err != nil {
		t.Fatal(err)
	}
	c, ignored, err = syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{}, 1)
	if err != nil || !c.sender.CopyLinks || !c.sender.CopyUnsafeLinks || !c.sender.CopyDirlinks || !c.receiver.KeepDirlinks || len(ignored) > 0 {
		t.Errorf("copy_links, copy_unsafe_links, copy_dirlinks, keep_dirlinks: sender %+v, receiver %+v, ignored %q, %v", c.sender, c.receiver, ignored, err)
	}
	cfg, err = lsyncdconf.Load("c.lua", `sync{ default.rsync, source = "/src", target = "h::m", rsync = { _extra = { "-LkK", "--copy-unsafe-links" } } }`)
	if err != nil {
		t.Fatal(err)
	}
	c, ignored, err = syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{}, 1)
	if err != nil || !c.sender.CopyLinks || !c.sender.CopyUnsafeLinks || !c.sender.CopyDirlinks || !c.receiver.KeepDirlinks || len(ignored) > 0 {
		t.Errorf("_extra -LkK --copy-unsafe-links: sender %+v, receiver %+v, ignored %q, %v", c.sender, c.receiver, ignored, err)
	}
}

// TestLsyncdExtraFilters: rsync's filter options in _extra are rules in
// rsync's meaning, in their order (-F and -FF included), as lsyncd hands
// them to rsync; the config's own exclude keeps lsyncd's dialect.
func TestLsyncdExtraFilters(t *testing.T) {
	cfg, err := lsyncdconf.Load("c.lua", `sync{ default.rsync, source = "/src", target = "h::m", exclude = { "*.tmp" },
  rsync = { _extra = { "--exclude=*.log", "-FF", "--filter", "P /keep/", "--include=/a/", "--exclude-from=/x", "--include-from", "/y" } } }`)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := syncConfig(&cfg.Syncs[0], lsyncdconf.Settings{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []filter.Spec{{Kind: filter.SpecExclude, Arg: "*.log"}, {Kind: filter.SpecF}, {Kind: filter.SpecF},
		{Kind: filter.SpecFilter, Arg: "P /keep/"}, {Kind: filter.SpecInclude, Arg: "/a/"},
		{Kind: filter.SpecExcludeFrom, Arg: "/x"}, {Kind: filter.SpecIncludeFrom, Arg: "/y"}}
	if !slices.Equal(c.rules, want) {
		t.Errorf("rules = %+v, want %+v", c.rules, want)
	}
	if !slices.Equal(c.excludes, []string{"*.tmp"}) {
		t.Errorf("excludes = %q, want lsyncd's *.tmp", c.excludes)
	}
}
