package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/gsync/gsync/control"
)

// isStatusCommand reports whether argv is "gsync status ...". "gsync
// status TARGET" with a directory named status is a mirror command line.
func isStatusCommand(args []string) bool {
	if len(args) == 0 || args[0] != "status" {
		return false
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			if fi, err := os.Stat("status"); err == nil && fi.IsDir() {
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
	printStatus(stdout, all, time.Now())
	return exitOK
}

// printStatus writes one block per process, one row per target.
func printStatus(w io.Writer, all []control.Status, now time.Time) {
	for i, st := range all {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "gsync %s, pid %d, up %s\n", st.Version, st.PID, now.Sub(st.Started).Round(time.Second))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SYNC\tSOURCE\tTARGET\tSTATE\tQUEUE\tLAST SUCCESS\tFILES\tBYTES\tWATCHES\tOVERFLOWS")
		for _, t := range st.Targets {
			state := t.State
			if t.NextAttempt != nil {
				state += " in " + t.NextAttempt.Sub(now).Round(time.Second).String()
			}
			if t.InFlight > 0 {
				state += fmt.Sprintf(" (%d)", t.InFlight)
			}
			last := "never"
			if t.LastSuccess != nil {
				last = t.LastSuccess.Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\n", t.Sync, t.Source, t.Target, state, t.Queue,
				last, t.FilesPushed, t.BytesPushed, t.Watches, t.Overflows)
		}
		tw.Flush()
		for _, t := range st.Targets {
			if t.LastError != "" {
				at := ""
				if t.LastErrorAt != nil {
					at = " at " + t.LastErrorAt.Format("15:04:05")
				}
				fmt.Fprintf(w, "  %s last error%s: %s\n", t.Sync, at, oneLine(t.LastError))
			}
			for _, f := range t.FailingPaths {
				fmt.Fprintf(w, "  %s failing path /%s: %d failure(s), next attempt in %s: %s\n", t.Sync,
					strings.TrimPrefix(f.Path, "/"), f.Failures, max(f.NextAttempt.Sub(now), 0).Round(time.Second), oneLine(f.LastError))
			}
		}
	}
}
