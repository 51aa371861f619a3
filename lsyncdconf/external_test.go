package lsyncdconf

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExternal: a sync whose rsync.binary is not a plain rsync gets the
// arguments lsyncd 2.2.3 builds (default-rsync.lua: rsync.prepare, init,
// action; default-rsyncssh.lua: rsyncssh.prepare).
func TestExternal(t *testing.T) {
	cfg, err := Load("c.lua", `
sync { default.rsync, source = "/src", target = "h::m/dir",
       rsync = { binary = "/usr/local/bin/rsync-and-notify", archive = true, compress = true,
                 bwlimit = 100, _extra = { "--omit-dir-times", "-v" }, timeout = 30 } }
sync { default.rsyncssh, source = "/src", host = "u@h", targetdir = "/d",
       rsync = { binary = "/opt/wrap.sh" },
       ssh = { port = 2222, identityFile = "/k", options = { B = "2", A = "1" }, _extra = { "-4" } } }
sync { default.rsync, source = "/src", target = "/t/", rsync = { binary = "/usr/local/bin/rsync" } }
sync { default.direct, source = "/src", target = "/t", rsync = { binary = "wrapper", devices = true } }
`)
	if err != nil {
		t.Fatal(err)
	}
	e0 := cfg.Syncs[0].External()
	want0 := &External{Binary: "/usr/local/bin/rsync-and-notify", Kind: KindRsync, Target: "h::m/dir/",
		Computed: []string{"-zglopstD", "--omit-dir-times", "-v", "--bwlimit=100", "--timeout=30"}}
	if diff := cmp.Diff(want0, e0); diff != "" {
		t.Errorf("rsync (-want +got):\n%s", diff)
	}
	want1 := &External{Binary: "/opt/wrap.sh", Kind: KindRsyncSSH, Target: "u@h:/d/",
		Computed: []string{"-lst", "--rsh=ssh -i /k -o A=1 -o B=2 -p 2222"}}
	if diff := cmp.Diff(want1, cfg.Syncs[1].External()); diff != "" {
		t.Errorf("rsyncssh (-want +got):\n%s", diff)
	}
	if e := cfg.Syncs[2].External(); e != nil {
		t.Errorf("a plain rsync delegates: %+v", e)
	}
	if e := cfg.Syncs[3].External(); e == nil || e.Kind != KindDirect || cmp.Diff([]string{"-lst", "--devices"}, e.Computed) != "" {
		t.Errorf("direct = %+v", e)
	}

	args, stdin := e0.StartupArgs("/src", nil, nil, true)
	if diff := cmp.Diff([]string{"--delete", "--ignore-errors", "-zglopstD", "--omit-dir-times", "-v", "--bwlimit=100", "--timeout=30", "-r", "/src/", "h::m/dir/"}, args); diff != "" || stdin != "" {
		t.Errorf("startup (-want +got):\n%s stdin %q", diff, stdin)
	}
	args, stdin = e0.StartupArgs("/src/", []string{"*.o", "/cache/"}, nil, false)
	if diff := cmp.Diff(append([]string{"--exclude-from=-"}, append(e0.Computed, "-r", "/src/", "h::m/dir/")...), args); diff != "" || stdin != "*.o\n/cache/" {
		t.Errorf("startup with excludes (-want +got):\n%s stdin %q", diff, stdin)
	}
	args, stdin = e0.StartupArgs("/src", []string{"*.o"}, []string{"+ /a/", "- /*"}, true)
	if args[0] != "--filter=. -" || args[1] != "--delete" || stdin != "+ /a/\n- /*\n- *.o" {
		t.Errorf("startup with filters: %q stdin %q", args, stdin)
	}

	list := IncludeList([]string{"/d1/d2/f", EscapePattern("/x[1]*?"), "/gone/***", "/gone/", "/d1/g"})
	wantList := []string{"/d1/d2/f", "/d1/d2/", "/d1/", "/", `/x\[1\]\*\?`, "/gone/***", "/gone/", "/d1/g"}
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("include list (-want +got):\n%s", diff)
	}
	args, stdin = e0.BatchArgs("/src", list, true)
	wantArgs := append(append([]string(nil), e0.Computed...), "-r", "--delete", "--ignore-errors", "--force", "--from0", "--include-from=-", "--exclude=*", "/src/", "h::m/dir/")
	if diff := cmp.Diff(wantArgs, args); diff != "" || stdin != "/d1/d2/f\x00/d1/d2/\x00/d1/\x00/\x00/x\\[1\\]\\*\\?\x00/gone/***\x00/gone/\x00/d1/g" {
		t.Errorf("batch (-want +got):\n%s stdin %q", diff, stdin)
	}
}
