package main

import (
	"testing"

	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/watcher"
)

// TestActionSyncsNotSerialized: syncs with actions write nothing
// themselves, so syncs naming the same target are not made to take turns
// with them (their "target" is only a string for the actions).
func TestActionSyncsNotSerialized(t *testing.T) {
	dir := t.TempDir()
	cfg, err := lsyncdconf.Load("t.lua", `
sync { source = "`+dir+`", target = "`+dir+`/t/", onCreate = "true" }
sync { source = "`+dir+`", target = "`+dir+`/t/", onModify = "true" }
sync { default.direct, source = "`+dir+`", target = "`+dir+`/t/sub" }`)
	if err != nil {
		t.Fatal(err)
	}
	var cfgs []*config
	for i := range cfg.Syncs {
		c, _, err := syncConfig(&cfg.Syncs[i], cfg.Settings, i+1)
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, c)
	}
	if groups := serializeOverlaps(cfgs); len(groups) != 0 {
		t.Errorf("serialized: %q", groups)
	}
	if cfgs[0].actions == nil || cfgs[0].deleteMode.String() != "running" || cfgs[0].writes != watcher.WritesCloseWrite {
		t.Errorf("sync 1 = %+v", cfgs[0])
	}
}
