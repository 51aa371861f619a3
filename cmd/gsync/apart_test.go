package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// TestTargetApartLsyncdConfig: an lsyncd config whose target contains
// its source is refused too (exit 2 with gsync --config), and the source
// is left alone.
func TestTargetApartLsyncdConfig(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(base, "backup", "www")
	testutil.WriteRel(t, src, "precious")
	conf := filepath.Join(base, "c.lua")
	os.WriteFile(conf, []byte(`sync{ default.direct, source = "`+src+`", target = "`+filepath.Join(base, "backup")+`", delay = 0 }`), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"--once", "--control-socket", "none", "--config", conf}, &out, &errb); code != exitUsage {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, errb.String())
	}
	if !strings.Contains(errb.String(), "contains the source") {
		t.Errorf("stderr does not say why:\n%s", errb.String())
	}
	if !testutil.Exists(filepath.Join(src, "precious")) {
		t.Fatal("the source was deleted")
	}
}
