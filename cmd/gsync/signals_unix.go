//go:build unix

package main

import (
	"os"
	"syscall"
)

// handledSignals are the signals gsync acts on: stop, full sync or
// reload, reopen the log file.
var handledSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1}

// sigReopenLog is the signal that reopens --log-file.
var sigReopenLog os.Signal = syscall.SIGUSR1
