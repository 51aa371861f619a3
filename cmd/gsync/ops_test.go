package main

import (
	"bufio"
	"io"
	"os"
	"strings"
	"testing"
)

// TestSystemdUnitCommandLine checks that the ExecStart line of the unit
// in contrib/ is a command line gsync accepts.
func TestSystemdUnitCommandLine(t *testing.T) {
	f, err := os.Open("../../contrib/gsync@.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var exec []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "ExecStart="); ok {
			exec = strings.Fields(strings.ReplaceAll(v, "%i", "www"))
		}
	}
	if len(exec) < 2 || exec[0] != "/usr/local/bin/gsync" {
		t.Fatalf("ExecStart = %q", exec)
	}
	cmd := newRootCommand(io.Discard, io.Discard, nil)
	if err := cmd.ParseFlags(exec[1:]); err != nil {
		t.Fatalf("gsync refuses the unit's flags %q: %v", exec[1:], err)
	}
	if v, _ := cmd.Flags().GetString("config"); v != "/etc/gsync/www.conf.lua" {
		t.Errorf("--config = %q", v)
	}
	if v, _ := cmd.Flags().GetString("control-socket"); !strings.HasPrefix(v, "/run/gsync/") {
		t.Errorf("--control-socket = %q: gsync status looks in /run/gsync for root", v)
	}
	if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
		t.Errorf("unit command line: %v", err)
	}
}

// TestHookEnvDropsPassword: hooks inherit gsync's environment but the
// rsync daemon password.
func TestHookEnvDropsPassword(t *testing.T) {
	t.Setenv("RSYNC_PASSWORD", "s3cret")
	t.Setenv("GSYNC_TEST_KEEP", "yes")
	env := strings.Join(hookEnv(), "\n")
	if strings.Contains(env, "s3cret") || !strings.Contains(env, "GSYNC_TEST_KEEP=yes") {
		t.Errorf("hook environment:\n%s", env)
	}
}
