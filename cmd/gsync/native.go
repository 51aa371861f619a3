package main

import (
	"io"
	"os"
	"time"

	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/ops"
)

// runNative runs gsync's own command line: one source, its targets.
func runNative(cfg *config, stderr io.Writer, sigs <-chan os.Signal) error {
	w, reopen, closeLog, err := openLogOutput(stderr, cfg.logFile)
	if err != nil {
		return err
	}
	defer closeLog()
	log, err := newLogger(w, cfg.logLevel, cfg.logFormat)
	if err != nil {
		return err
	}
	if cfg.once && cfg.logFile == "" && ops.IsTerminal(stderr) {
		cfg.progress = stderr
	}
	po := procOptions{processOptions: cfg.processOptions, once: cfg.once, reopenLog: reopen}
	_, err = runProcess([]*config{cfg}, po, log, sigs, nil, nil)
	return err
}

// runConfigFile runs gsync --config FILE: the syncs of an lsyncd config,
// with the process flags of the command line.
func runConfigFile(cfg *config, stderr io.Writer, sigs <-chan os.Signal) error {
	cl := &lsyncdconf.Config{Settings: lsyncdconf.Settings{StatusInterval: 10 * time.Second}}
	return runLsyncdConfig(cl, cfg.configFile, cfg, stderr, sigs)
}

// openLogOutput returns where logs go: stderr, or the file named by
// --log-file, opened for appending; reopen (nil without a file) reopens it
// after logrotate moved it away (SIGUSR1).
func openLogOutput(stderr io.Writer, path string) (w io.Writer, reopen func() error, closeLog func(), err error) {
	if path == "" {
		return stderr, nil, func() {}, nil
	}
	lf, err := ops.OpenLogFile(path)
	if err != nil {
		return nil, nil, nil, usagef("--log-file: %v", err)
	}
	return lf, lf.Reopen, func() { lf.Close() }, nil
}
