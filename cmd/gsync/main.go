// Command gsync keeps a remote (or local) copy of a directory tree in sync
// with the source, within seconds, like lsyncd: it watches the tree, collects
// changes for a short delay and pushes them.
//
// Usage:
//
//	gsync [flags] SRC TARGET
//
// See the README for targets, flags and examples.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gsync/gsync/mirror"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // runtime failure (fatal transport error, startup sync failed)
	exitUsage   = 2 // bad command line or configuration
	// exitDeleteLimit: a --once sync whose deletions --max-delete held
	// back, rsync's own code for it (errcode.h: RERR_DEL_LIMIT).
	exitDeleteLimit = 25
	exitSIGINT      = 130
	exitSIGTERM     = 143
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks errors in the command line or configuration (exit 2).
type usageError = mirror.ConfigError

func usagef(format string, a ...any) error { return usageError{Err: fmt.Errorf(format, a...)} }

// signalExit is returned by the mirror loop when a signal ended it.
type signalExit struct{ sig os.Signal }

func (e signalExit) Error() string { return "stopped by " + e.sig.String() }

// run executes gsync with argv (without the program name) and returns the
// process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, handledSignals...)
	defer signal.Stop(sigs)

	if isStatusCommand(args) {
		return runStatus(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "verify" { // a source named verify is ./verify
		return runVerify(args[1:], stdout, stderr, sigs)
	}
	if len(args) > 0 && args[0] == "check" { // a source named check is ./check
		return runCheck(args[1:], stdout, stderr, sigs)
	}
	if len(args) > 0 && args[0] == "explain" { // a source named explain is ./explain
		return runExplain(args[1:], stdout, stderr, sigs)
	}
	if code, ok := runLsyncd(args, stdout, stderr, sigs); ok {
		return code // an lsyncd command line or config file (lsyncd.go)
	}
	cmd := newRootCommand(stdout, stderr, sigs)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var se signalExit
	if errors.As(err, &se) {
		if se.sig == syscall.SIGINT {
			return exitSIGINT
		}
		return exitSIGTERM
	}
	fmt.Fprintf(stderr, "gsync: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	if onlyDeleteLimit(err) {
		return exitDeleteLimit
	}
	return exitFailure
}

// onlyDeleteLimit reports whether err, and every error joined in it,
// is a sync whose deletions a --max-delete limit held back (any other
// failure makes the exit 1).
func onlyDeleteLimit(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		for _, e := range errs {
			if !onlyDeleteLimit(e) {
				return false
			}
		}
		return len(errs) > 0
	}
	return mirror.IsDeleteLimit(err)
}
