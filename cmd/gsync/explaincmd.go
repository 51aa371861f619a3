package main

import (
	"context"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/ops"
)

// runExplain is "gsync explain [flags] PATH SRC TARGET..." and "gsync
// explain [flags] --config FILE PATH": which rule decides PATH, whether
// it is watched, and what a change to it does on each target
// (mirror.Explain, ops.PrintExplain). It connects to nothing.
func runExplain(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) int {
	cmd, cfg := newCommand(stdout, stderr, sigs)
	cmd.Use = "gsync explain [flags] PATH SRC TARGET [TARGET...] | gsync explain [flags] --config FILE PATH"
	cmd.Short = "Say which rule decides a path, whether it is watched, and what a change to it does"
	cmd.Long = `gsync explain says, for one PATH (relative to SRC, or an absolute path
inside it; it need not exist), which exclude or filter rule decides it and
where that rule was given (a flag, an exclude file's line, the lsyncd
config's line), whether its directory is watched, and what a change to it
does on each target, with the same flags (or --config) as the mirror. It
connects to nothing. Exit status 0, or 2 with the problem.`
	cmd.Args = func(c *cobra.Command, args []string) error {
		switch {
		case cfg.configFile != "" && len(args) != 1:
			return usagef("with --config give PATH only (got %d argument(s))", len(args))
		case cfg.configFile == "" && len(args) < 3:
			return usagef("want PATH SRC TARGET..., got %d argument(s)", len(args))
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		cfgs, err := syncsOf(cfg, args[1:])
		if err != nil {
			return err
		}
		log, err := newLogger(stderr, "error", cfg.logFormat)
		if err != nil {
			return err
		}
		shown := 0
		var first error
		for _, c := range cfgs {
			mc, err := mirrorConfig(c, make([]*mirror.Status, len(c.targets)), log, nil)
			if err != nil {
				return c.located(err)
			}
			e, err := mirror.Explain(mc, args[0])
			if err != nil {
				if first == nil {
					first = c.located(err)
				}
				continue
			}
			if shown > 0 {
				io.WriteString(stdout, "\n")
			}
			ops.PrintExplain(stdout, e)
			shown++
		}
		if shown == 0 {
			return first
		}
		return nil
	}
	cmd.SetArgs(args)
	return exitCode(cmd.ExecuteContext(context.Background()), stderr)
}
