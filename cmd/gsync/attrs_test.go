package main

import (
	"strings"
	"testing"

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
		{"_extra unsupported", `_extra = { "--bwlimit=100" }`, lts, "", "--bwlimit=100 is not supported"},
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
