package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/ops"
)

// Exit codes of gsync verify.
const (
	verifyEqual   = 0 // every target equals its source
	verifyDiffers = 1 // a target differed (with --repair: and was repaired)
	verifyFailed  = 3 // a target could not be compared, or still differs after --repair
)

// verifyFlags are gsync verify's own flags.
type verifyFlags struct {
	checksum, repair, json bool
}

// runVerify is "gsync verify [flags] SRC TARGET..." and "gsync verify
// --config FILE": the mirror's flags, plus --checksum, --repair and
// --json. It compares each target with its source (mirror.Verify) and
// prints the differences (ops.PrintVerify).
func runVerify(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	cmd, cfg := newCommand(stdout, stderr, sigs)
	var vf verifyFlags
	cmd.Use = "gsync verify [flags] SRC TARGET [TARGET...] | gsync verify [flags] --config FILE"
	cmd.Short = "Compare targets with their source; print each difference as rsync -i does"
	cmd.Long = `gsync verify compares each TARGET with SRC over the same connection a
mirror uses (a dry-run itemized push to rsync daemon and ssh targets, a
walk of a local target), with the same excludes, filters, delete mode and
attribute flags, and prints every difference in rsync's itemize format
(rsync -i), then a summary line per target. It changes nothing, unless
--repair.

Exit status: 0 every target is equal, 1 a target differed (with --repair:
and is equal now), 2 usage or configuration error, 3 a target could not
be compared or still differs after --repair.`
	f := cmd.Flags()
	// --checksum (-c) is the mirror's rsync option (rsyncopts.Sender); here
	// it says how to compare.
	f.Lookup("checksum").Usage = "compare the content of files (rsync -c), not their size and mtime"
	f.BoolVar(&vf.repair, "repair", false, "make each target that differs equal (a full sync; with --checksum the files whose content differs are resent) and report what was fixed")
	f.BoolVar(&vf.json, "json", false, "print the report as JSON")
	code := verifyEqual
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if !c.Flags().Changed("log-level") {
			cfg.logLevel = "warn" // the report is the output
		}
		vf.checksum = cfg.sender.Checksum
		cfgs, err := syncsOf(cfg, args)
		if err != nil {
			return err
		}
		code, err = verify(cfgs, vf, stdout, stderr, sigs)
		return err
	}
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		if c := exitCode(err, stderr); c == exitUsage {
			return c
		}
		return verifyFailed
	}
	return code
}

// syncsOf is the syncs a subcommand (check, verify, explain) runs on:
// those of --config FILE, or SRC and TARGET... from args (and --target).
func syncsOf(cfg *config, args []string) ([]*config, error) {
	if cfg.configFile != "" {
		return syncConfigs(cfg)
	}
	cfg.source = args[0]
	cfg.targets = append(append([]string(nil), args[1:]...), cfg.extraTargets...)
	return []*config{cfg}, nil
}

// syncConfigs reads the syncs of an lsyncd config for gsync verify and
// gsync check.
func syncConfigs(native *config) ([]*config, error) {
	lc, err := lsyncdconf.LoadFile(native.configFile)
	if err != nil {
		return nil, usageError{Err: err}
	}
	cfgs := make([]*config, len(lc.Syncs))
	for i := range lc.Syncs {
		c, _, err := syncConfig(&lc.Syncs[i], lc.Settings, i+1)
		if err != nil {
			return nil, usageError{Err: err}
		}
		c.logLevel, c.logFormat = native.logLevel, native.logFormat
		c.where = lc.Syncs[i].Where()
		cfgs[i] = c
	}
	return groupSyncs(cfgs), nil
}

// located prefixes a configuration error with where the sync is in its
// lsyncd config ("file:line: "), keeping it a configuration error.
func (c *config) located(err error) error {
	if c.where == "" || err == nil {
		return err
	}
	var ce mirror.ConfigError
	if errors.As(err, &ce) {
		return mirror.ConfigError{Err: fmt.Errorf("%s: %w", c.where, err)}
	}
	return fmt.Errorf("%s: %w", c.where, err)
}

// verify runs the compare of every sync of cfgs and prints the report;
// it returns the exit code.
func verify(cfgs []*config, vf verifyFlags, stdout, stderr io.Writer, sigs <-chan os.Signal) (int, error) {
	log, err := newLogger(stderr, cfgs[0].logLevel, cfgs[0].logFormat)
	if err != nil {
		return 0, err
	}
	ctx, cancel := signalContext(sigs)
	defer cancel()
	var reports []mirror.VerifyReport
	for _, c := range cfgs {
		if err := c.validateTargets(); err != nil {
			return 0, err
		}
		mc, err := mirrorConfig(c, make([]*mirror.Status, len(c.targets)), log, nil)
		if err != nil {
			return 0, c.located(err)
		}
		rs, err := mirror.Verify(ctx, mc, mirror.VerifyOptions{Checksum: vf.checksum, Repair: vf.repair})
		if err != nil {
			var ce mirror.ConfigError
			if errors.As(err, &ce) {
				return 0, c.located(err)
			}
			return verifyFailed, err
		}
		reports = append(reports, rs...)
	}
	if vf.json {
		if err := ops.PrintVerifyJSON(stdout, reports); err != nil {
			return verifyFailed, err
		}
	} else {
		ops.PrintVerify(stdout, reports)
	}
	code := verifyEqual
	for _, r := range reports {
		switch {
		case r.Err != nil:
			fmt.Fprintf(stderr, "gsync verify: %s: %v\n", r.Target, r.Err)
			code = verifyFailed
		case r.Repaired && len(r.Remaining) > 0:
			fmt.Fprintf(stderr, "gsync verify: %s: %d difference(s) left after the repair\n", r.Target, len(r.Remaining))
			code = verifyFailed
		case r.Differs() && code == verifyEqual:
			code = verifyDiffers
		}
	}
	return code, nil
}

// signalContext returns a context canceled by the first signal on sigs
// (check and verify stop their connections on SIGINT/SIGTERM); its
// goroutine ends when the context does.
func signalContext(sigs <-chan os.Signal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
