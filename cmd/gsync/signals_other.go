//go:build !unix

package main

import (
	"os"
	"syscall"
)

// handledSignals are the signals gsync acts on.
var handledSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP}

// sigReopenLog: there is no SIGUSR1 here; nothing reopens the log file.
var sigReopenLog os.Signal = nil
