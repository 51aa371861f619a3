package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/ops"
)

// isStatusCommand reports whether argv is "gsync status ...". "gsync
// status TARGET" with a directory named status is a mirror command line.
func isStatusCommand(args []string) bool { return isSubcommand(args, "status") }

// isSubcommand reports whether argv is "gsync NAME ...": a mirror
// command line whose SRC is a directory NAME (followed by a TARGET) is
// not.
func isSubcommand(args []string, name string) bool {
	if len(args) == 0 || args[0] != name {
		return false
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			if fi, err := os.Stat(name); err == nil && fi.IsDir() {
				return false
			}
		}
	}
	return true
}

// runStatus is "gsync status [--json] [--socket PATH]": it asks the
// running gsync processes (all of this user's default sockets, or the one
// at PATH) what they are doing.
func runStatus(args []string, stdout, stderr io.Writer) int {
	f := pflag.NewFlagSet("gsync status", pflag.ContinueOnError)
	f.SetOutput(stderr)
	asJSON := f.Bool("json", false, "print JSON")
	socket := f.String("socket", "", "ask the gsync serving this control socket `PATH` (default: every gsync of this user, in "+control.DefaultDir()+")")
	f.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gsync status [--json] [--socket PATH]\n\nShows the state of every target of the running gsync processes.\n\n%s", f.FlagUsages())
	}
	if err := f.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(stderr, "gsync status: unexpected argument %q\n", f.Arg(0))
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var all []control.Status
	if *socket != "" {
		st, err := control.Query(ctx, *socket)
		if err != nil {
			fmt.Fprintf(stderr, "gsync status: %v (is gsync running with --control-socket %s?)\n", err, *socket)
			return exitFailure
		}
		all = []control.Status{st}
	} else {
		var err error
		if all, err = control.QueryDir(ctx, control.DefaultDir()); err != nil {
			fmt.Fprintf(stderr, "gsync status: %v\n", err)
			return exitFailure
		}
		if len(all) == 0 {
			fmt.Fprintf(stderr, "gsync status: no running gsync found in %s (a gsync started with --control-socket PATH is asked with --socket PATH)\n", control.DefaultDir())
			return exitFailure
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			fmt.Fprintf(stderr, "gsync status: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	ops.PrintStatus(stdout, all, time.Now())
	return exitOK
}
