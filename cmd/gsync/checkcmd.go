package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/ops"
)

// checkFailed is gsync check's exit status when a target check failed.
const checkFailed = 3

// runCheck is "gsync check [flags] SRC TARGET..." and "gsync check
// --config FILE": it loads and validates everything a mirror would use,
// checks each target without changing it (mirror.Check) and prints what
// it would run (ops.PrintCheck).
func runCheck(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	cmd, cfg := newCommand(stdout, stderr, sigs)
	cmd.Use = "gsync check [flags] SRC TARGET [TARGET...] | gsync check [flags] --config FILE"
	cmd.Short = "Check a configuration and its targets without changing anything"
	cmd.Long = `gsync check loads and validates what a mirror would use (flags or an
lsyncd config, exclude and filter files, password files, ssh keys and
known_hosts), connects to each target as the mirror would (host keys,
authentication, the module or remote rsync accepting a dry-run push of
the root directory) without changing it, and prints the settings and the
command line each target would run.

Exit status: 0 everything checked is fine, 2 a usage or configuration
error (an lsyncd config's names its file:line), 3 a target check failed.`
	code := exitOK
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if !c.Flags().Changed("log-level") {
			cfg.logLevel = "warn"
		}
		cfgs, err := syncsOf(cfg, args)
		if err != nil {
			return err
		}
		code, err = check(cfgs, stdout, stderr, sigs)
		return err
	}
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		if c := exitCode(err, stderr); c == exitUsage {
			return c
		}
		return checkFailed
	}
	return code
}

// check checks every sync of cfgs and prints the report; it returns the
// exit code.
func check(cfgs []*config, stdout, stderr io.Writer, sigs <-chan os.Signal) (int, error) {
	log, err := newLogger(stderr, cfgs[0].logLevel, cfgs[0].logFormat)
	if err != nil {
		return 0, err
	}
	ctx, cancel := signalContext(sigs)
	defer cancel()
	var reports []mirror.CheckReport
	for _, c := range cfgs {
		if err := c.validateTargets(); err != nil {
			return 0, err
		}
		mc, err := mirrorConfig(c, make([]*mirror.Status, len(c.targets)), log, nil)
		if err != nil {
			return 0, c.located(err)
		}
		for _, h := range mc.Hooks {
			if err := h.Check(); err != nil {
				return 0, c.located(usagef("--on-push: %v", err))
			}
		}
		rs, err := mirror.Check(ctx, mc)
		if err != nil {
			var ce mirror.ConfigError
			if errors.As(err, &ce) {
				return 0, c.located(err)
			}
			return checkFailed, c.located(err)
		}
		reports = append(reports, rs...)
	}
	ops.PrintCheck(stdout, reports)
	targets := 0
	for _, r := range reports {
		targets++
		if r.Err != nil {
			fmt.Fprintf(stderr, "gsync check: %v\n", r.Err)
			return checkFailed, nil
		}
	}
	fmt.Fprintf(stdout, "gsync check: ok (%d sync(s), %d target(s))\n", len(cfgs), targets)
	return exitOK, nil
}

// validateTargets validates the sync's target options and those of each
// target that has its own (an lsyncd sync{} per host), as the mirror
// would at startup; the error names the config line.
func (c *config) validateTargets() error {
	if err := c.targetOptions.validate(); err != nil {
		return c.located(err)
	}
	for _, tc := range c.targetCfgs {
		if err := tc.targetOptions.validate(); err != nil {
			return tc.located(err)
		}
	}
	return nil
}
