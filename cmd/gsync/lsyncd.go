package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/ops"
	"github.com/gsync/gsync/rsyncopts"
	"github.com/gsync/gsync/watcher"
)

// lsyncdUsage is printed by -help.
const lsyncdUsage = `gsync also runs lsyncd command lines and layer-4 Lua configs:

  gsync [OPTIONS] CONFIGFILE
  gsync [OPTIONS] -rsync SRC TARGET ...
  gsync [OPTIONS] -rsyncssh SRC HOST TARGETDIR ...
  gsync [OPTIONS] -direct SRC TARGETDIR ...

OPTIONS: -delay SECS, -insist, -log all|scarce|CATEGORY, -logfile FILE,
-nodaemon (accepted; gsync always stays in the foreground), -onepass,
-pidfile FILE, -sshopts "SSH OPTIONS", -version, -help.
See "gsync --help" for gsync's own flags.
`

// runLsyncd runs argv if it is an lsyncd command line (see
// lsyncdconf.IsLsyncdArgs); handled is false otherwise.
func runLsyncd(args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) (code int, handled bool) {
	// "gsync DIR" is a native command line missing its TARGET, not a config.
	if len(args) == 1 {
		if fi, err := os.Stat(args[0]); err == nil && fi.IsDir() {
			return 0, false
		}
	}
	cl, file, handled, err := lsyncdconf.ParseArgs(args)
	if !handled {
		return 0, false
	}
	if err != nil {
		return lsyncdExit(exitCode(usageError{Err: err}, stderr)), true
	}
	switch {
	case cl.Settings.Version:
		fmt.Fprintf(stdout, "Version: %s\n", versionString())
		return exitOK, true
	case cl.Settings.Help:
		fmt.Fprint(stdout, lsyncdUsage)
		return exitOK, true
	}
	if err := runLsyncdConfig(cl, file, nil, stderr, sigs); err != nil {
		var te *lsyncdconf.TerminateError
		if errors.As(err, &te) {
			return te.Code & 0xff, true // exit(-1) is 255
		}
		return lsyncdExit(exitCode(err, stderr)), true
	}
	return exitOK, true
}

// exitLsyncdFatal is lsyncd's exit status for every fatal error
// (exit(-1)): a bad config, a failed startup, a "die" exit code.
const exitLsyncdFatal = 255

// lsyncdExit maps gsync's exit codes to lsyncd's for lsyncd command lines
// and "gsync CONFIGFILE", so that scripts and units written for lsyncd see
// what they expect: 255 for any fatal error, 143/130 after SIGTERM/SIGINT.
// gsync's own command line (also "gsync --config FILE") keeps 2 and 1.
func lsyncdExit(code int) int {
	if code == exitUsage || code == exitFailure {
		return exitLsyncdFatal
	}
	return code
}

// runLsyncdConfig runs the syncs of an lsyncd command line cl, or of the
// config file (with cl's settings applied over it), until a signal or a
// failure ends them; SIGHUP re-reads the file. native, when not nil, holds
// gsync's own process flags (gsync --config FILE ...).
func runLsyncdConfig(cl *lsyncdconf.Config, file string, native *config, stderr io.Writer, sigs <-chan os.Signal) error {
	cfg := cl
	if file != "" {
		var err error
		if cfg, err = lsyncdconf.LoadFile(file); err != nil {
			var te *lsyncdconf.TerminateError
			if errors.As(err, &te) {
				if te.Code == 0 {
					return nil // the config ended lsyncd successfully
				}
				return err
			}
			return usageError{Err: err}
		}
		cfg.Override(cl.Settings)
	}
	var reload func() (*lsyncdconf.Config, error)
	if file != "" {
		// Like lsyncd, SIGHUP re-reads the config file.
		reload = func() (*lsyncdconf.Config, error) {
			next, err := lsyncdconf.LoadFile(file)
			if err != nil {
				return nil, err
			}
			next.Override(cl.Settings)
			for i := range next.Syncs {
				if _, _, err := syncConfig(&next.Syncs[i], next.Settings, i+1); err != nil {
					return nil, err
				}
			}
			return next, nil
		}
	}
	var previous *lsyncdconf.Config // the config that ran before a SIGHUP reload
	carry := mirror.NewHandover()   // queued changes, from one config to the next
	for {
		next, err := runSyncs(cfg, native, reload, stderr, sigs, carry)
		var ue usageError
		if next == nil && previous != nil && errors.As(err, &ue) {
			// The re-read config loaded but could not start (a missing
			// source, a bad target): go on with the one that ran before.
			fmt.Fprintf(stderr, "gsync: SIGHUP: the re-read config did not start (%v); going back to the previous one\n", err)
			cfg, previous = previous, nil
			continue
		}
		if next == nil {
			return err
		}
		previous, cfg = cfg, next // SIGHUP re-read the config: start over with it
	}
}

// lsyncdLogLevel maps lsyncd's -log options to a log level.
func lsyncdLogLevel(logs []string) string {
	level := "info"
	for _, l := range logs {
		switch l {
		case "scarce":
			if level == "info" {
				level = "warn"
			}
		default: // "all" or a debug category (Exec, Delay, ...)
			level = "debug"
		}
	}
	return level
}

// syncConfig turns one lsyncd sync into gsync's configuration.
func syncConfig(s *lsyncdconf.Sync, st lsyncdconf.Settings, n int) (*config, []string, error) {
	c := &config{
		name:    fmt.Sprintf("Sync%d", n),
		targets: []string{s.Target},
		sourceOptions: sourceOptions{
			source:        s.Source,
			delay:         *s.Delay,
			maxDelays:     s.MaxDelays,
			excludes:      s.Exclude,
			once:          st.OnePass,
			insist:        st.Insist,
			noInit:        !s.Init,
			dryRun:        s.Rsync.On("dry_run"),
			oneFileSystem: s.Rsync.On("one_file_system"),
			cvsExclude:    s.Rsync.On("cvs_exclude"),
		},
		targetOptions:  targetOptions{timeout: 60 * time.Second, passwordFile: s.Rsync.Str["password_file"], maxProcesses: lsyncdMaxProcesses(s, st)},
		processOptions: processOptions{logLevel: lsyncdLogLevel(st.Log), logFormat: "text"},
	}
	if err := c.deleteMode.UnmarshalText([]byte(s.Delete)); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.Where(), err)
	}
	if st.InotifyMode != "" {
		w, err := watcher.ParseInotifyMode(st.InotifyMode)
		if err != nil {
			return nil, nil, fmt.Errorf("settings{}: %w", err)
		}
		c.writes = w
	}
	if s.ExcludeFrom != "" {
		c.excludeFrom = []string{s.ExcludeFrom}
	}
	c.filters = append(c.filters, s.Filter...)
	if s.FilterFrom != "" {
		rules, err := lsyncdconf.ReadFilterFile(s.FilterFrom)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: filterFrom: %w", s.Where(), err)
		}
		c.filters = append(c.filters, rules...)
	}
	if v, ok := s.Rsync.Str["timeout"]; ok {
		if err := setRsyncTimeout(&c.timeout, v); err != nil {
			return nil, nil, fmt.Errorf("%s: rsync.timeout %q: %w", s.Where(), v, err)
		}
	}
	c.ssh.rsyncPath = s.Rsync.Str["rsync_path"]
	c.ssh.rsh = s.Rsync.Str["rsh"]
	if s.Kind == lsyncdconf.KindRsyncSSH {
		c.ssh.force = true
		c.ssh.rshArgs = s.SSH.Args()
	}
	if s.Kind == lsyncdconf.KindDirect && !filepath.IsAbs(s.Target) && !strings.HasPrefix(s.Target, ".") {
		c.targets = []string{"./" + s.Target} // a local directory even when its name has a ':'
	}
	c.fullSyncCron = s.Crontab
	if s.Kind == lsyncdconf.KindActions {
		actionsConfig(c, s, st.InotifyMode != "") // lsyncd_actions.go
		return c, nil, nil
	}
	if c.external = s.External(); c.external != nil && s.Kind != lsyncdconf.KindDirect {
		return c, nil, nil // every rsync option goes to the program (lsyncd_exec.go)
	}
	attrs, extra, err := s.Rsync.Attrs()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.Where(), err)
	}
	c.attrs = attrs
	if s.Rsync.On("compress") {
		// lsyncd passes -z (default-rsync.lua), before _extra's words.
		if err := c.compress.Set(rsyncopts.Option{Name: "compress", Kind: rsyncopts.Setting, Word: "rsync.compress"}); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.Where(), err)
		}
	}
	if c.receiver, err = s.Rsync.Receiver(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.Where(), err)
	}
	// Sender-side keys, as lsyncd passes them (-c, -k, -L, -W,
	// --copy-unsafe-links, --bwlimit=V) before _extra's words.
	for _, k := range []struct{ key, name string }{{"checksum", "checksum"}, {"copy_dirlinks", "copy-dirlinks"}, {"copy_links", "copy-links"},
		{"whole_file", "whole-file"}, {"copy_unsafe_links", "copy-unsafe-links"}, {"delete_excluded", "delete-excluded"}} {
		if s.Rsync.On(k.key) {
			if err := c.sender.Set(rsyncopts.Option{Name: k.name, Kind: rsyncopts.Setting, Word: "rsync." + k.key}); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", s.Where(), err)
			}
		}
	}
	if v, ok := s.Rsync.Str["bwlimit"]; ok {
		if err := c.sender.Set(rsyncopts.Option{Name: "bwlimit", Value: v, Kind: rsyncopts.Setting, Word: "rsync.bwlimit"}); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.Where(), err)
		}
	}
	// rsync options that gsync's own sender does not act on.
	var ignored []string
	for _, k := range s.Rsync.SetKeys() {
		switch {
		case lsyncdconf.IsAttrKey(k), lsyncdconf.IsReceiverKey(k):
		case slices.Contains([]string{"archive", "protect_args", "password_file", "rsh", "rsync_path", "timeout",
			"dry_run", "whole_file", "quiet", "verbose", "one_file_system", "compress", "checksum", "bwlimit", "delete_excluded", "cvs_exclude",
			"copy_links", "copy_unsafe_links", "copy_dirlinks"}, k):
		default:
			ignored = append(ignored, k)
		}
	}
	for _, o := range extra {
		switch {
		case o.Name == "dry-run":
			c.dryRun = !o.No
		case o.Name == "one-file-system":
			c.oneFileSystem = !o.No
		case o.Name == "cvs-exclude":
			c.cvsExclude = !o.No
		case isFilterOption(o.Name):
			// rsync's filter options, in rsync's meaning, before lsyncd's
			// own excludes (lsyncd puts _extra first on rsync's command
			// line).
			c.rules = append(c.rules, filterSpecOf(o))
		case o.Name == "files-from":
			c.filesFrom = o.Value
		case o.Name == "from0":
			c.from0 = !o.No
		case o.Name == "timeout":
			if err := setRsyncTimeout(&c.timeout, o.Value); err != nil {
				return nil, nil, fmt.Errorf("%s: rsync._extra %s: %w", s.Where(), o.Word, err)
			}
		case rsyncopts.IsCompress(o.Name):
			if err := c.compress.Set(o); err != nil {
				return nil, nil, fmt.Errorf("%s: rsync._extra: %w", s.Where(), err)
			}
		case rsyncopts.IsReceiver(o.Name):
			if err := c.receiver.Set(o); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", s.Where(), err)
			}
		case rsyncopts.IsSender(o.Name):
			if err := c.sender.Set(o); err != nil {
				return nil, nil, fmt.Errorf("%s: rsync._extra: %w", s.Where(), err)
			}
		default:
			ignored = append(ignored, o.Word)
		}
	}
	if err := c.receiver.Check(); err != nil {
		return nil, nil, fmt.Errorf("%s: rsync: %w", s.Where(), err)
	}
	return c, ignored, nil
}

// setRsyncTimeout sets *d from rsync's --timeout value v, in seconds;
// rsync's 0 means none, which keeps gsync's default.
func setRsyncTimeout(d *time.Duration, v string) error {
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs < 0 {
		return errors.New("want seconds")
	}
	if secs > 0 {
		*d = time.Duration(secs * float64(time.Second))
	}
	return nil
}

// runSyncs runs every sync of cfg concurrently (see runProcess). native,
// when not nil, holds gsync's own process flags, which add to or override
// the config's settings. carry hands queued changes over across reloads.
func runSyncs(cfg *lsyncdconf.Config, native *config, reload func() (*lsyncdconf.Config, error), stderr io.Writer, sigs <-chan os.Signal, carry *mirror.Handover) (next *lsyncdconf.Config, err error) {
	st := cfg.Settings
	// Every sync logs through out, one line at a time.
	out := &ops.Tee{Writers: []io.Writer{stderr}}
	format := "text"
	po := procOptions{processOptions: processOptions{statusFile: st.StatusFile, statusInterval: st.StatusInterval, pidFile: st.PidFile}, once: st.OnePass,
		maxProcesses: st.MaxProcesses}
	if native != nil {
		lw, reopen, closeLog, err := openLogOutput(stderr, native.logFile)
		if err != nil {
			return nil, err
		}
		defer closeLog()
		out.Writers[0], po.reopenLog = lw, reopen
		format = native.logFormat
		po.controlSocket, po.metricsAddr = native.controlSocket, native.metricsAddr
		if native.statusFile != "" {
			po.statusFile, po.statusInterval = native.statusFile, native.statusInterval
		}
		po.once = po.once || native.once
		if native.pidFile != "" {
			po.pidFile = native.pidFile
		}
		po.stateDir = native.stateDir
	}
	if st.LogFile != "" {
		lf := ops.AppendFile{Path: st.LogFile}
		if _, err := lf.Write(nil); err != nil {
			return nil, usagef("logfile: %v", err)
		}
		out.Writers = append(out.Writers, lf)
	}
	closeSyslog, err := openLsyncdSyslog(st, ops.DefaultSyslogSocket, out, stderr)
	if err != nil {
		return nil, usageError{Err: err}
	}
	defer closeSyslog()
	level := lsyncdLogLevel(st.Log)
	if native != nil && native.logLevel != "info" {
		level = native.logLevel
	}
	log, err := newLogger(out, level, format)
	if err != nil {
		return nil, err
	}
	logLsyncdConfig(log, cfg)
	cfgs := make([]*config, 0, len(cfg.Syncs))
	for i := range cfg.Syncs {
		s := &cfg.Syncs[i]
		c, ignored, err := syncConfig(s, st, i+1)
		if err != nil {
			return nil, usageError{Err: err}
		}
		if c.noInit && (po.once || c.once) {
			// lsyncd: init = false skips the startup sync, and -onepass
			// ends once every startup sync is done: nothing to do.
			log.Info("init = false: no startup sync, so -onepass has nothing to do for this sync", "sync", c.name, "at", s.Where())
			continue
		}
		if native != nil {
			c.once = po.once
			c.allowEmptySource, c.maxDelete = native.allowEmptySource, native.maxDelete
			c.oneFileSystem = c.oneFileSystem || native.oneFileSystem
			c.cvsExclude = c.cvsExclude || native.cvsExclude
			c.insist = c.insist || native.insist
			c.dryRun = c.dryRun || native.dryRun
			c.onPush, c.onPushTimeout = native.onPush, native.onPushTimeout
			c.verifyEvery, c.verifyOnly, c.verifyChecksum = native.verifyEvery, native.verifyOnly, native.verifyChecksum
			if c.actions == nil {
				c.fullSyncCron = append(c.fullSyncCron, native.fullSyncCron...)
			} else if len(native.fullSyncCron) > 0 {
				log.Warn("--full-sync-cron does not apply to a sync with actions: it has no full sync to repeat (lsyncd 2.3 hands it a Full event no action takes)", "sync", c.name, "at", s.Where())
			}
		}
		if e := c.external; e != nil {
			what := "its transfers"
			if e.Kind == lsyncdconf.KindDirect {
				what = "its startup sync (its events are applied by gsync, as lsyncd applies them with cp, rm and mv)"
			}
			log.Warn("rsync.binary names a program other than rsync: this sync delegates "+what+" to it, with the arguments lsyncd 2.2.3 passes; to run a command after each sync, gsync's native hooks replace the wrapper script (see README, rsync.binary)",
				"sync", c.name, "at", s.Where(), "program", e.Binary)
		}
		if len(ignored) > 0 {
			log.Warn("rsync options without effect in gsync", "sync", c.name, "at", s.Where(), "options", strings.Join(ignored, ","))
		}
		cfgs = append(cfgs, c)
	}
	if len(cfgs) == 0 {
		return nil, nil
	}
	for _, g := range serializeOverlaps(cfgs) {
		log.Info("these syncs write into the same or overlapping targets; their pushes take turns", "syncs", g)
	}
	return runProcess(groupSyncs(cfgs), po, log, sigs, reload, carry)
}

// groupSyncs merges syncs that watch the same source the same way (same
// excludes, delay, delete mode, ...) into one mirror with several
// targets: one watcher feeds them all, each target keeps its own queue,
// connection options and sync name.
func groupSyncs(cfgs []*config) []*config {
	var out []*config
	for _, c := range cfgs {
		i := slices.IndexFunc(out, func(g *config) bool { return g.sourceOptions.equal(c.sourceOptions) })
		if i < 0 {
			out = append(out, c)
			continue
		}
		g := out[i]
		if g.targetCfgs == nil {
			lead := *g // the first sync's own settings, before g lists the others
			g.targetCfgs, g.targetNames = []*config{&lead}, []string{g.name}
			g.name = ""
		}
		g.targets = append(g.targets, c.targets...)
		g.targetCfgs = append(g.targetCfgs, c)
		g.targetNames = append(g.targetNames, c.name)
	}
	return out
}

// equal reports whether two syncs' source options are the same, the
// source compared as a clean path and empty lists as nil: every field
// of sourceOptions takes part, so a new one cannot be left out.
func (o sourceOptions) equal(p sourceOptions) bool {
	norm := func(o sourceOptions) sourceOptions {
		o.source = filepath.Clean(o.source)
		for _, l := range []*[]string{&o.excludes, &o.excludeFrom, &o.filters} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		if len(o.rules) == 0 {
			o.rules = nil
		}
		return o
	}
	return reflect.DeepEqual(norm(o), norm(p))
}

// isFilterOption reports whether the rsync option name is one of
// rsync's filter options (filterSpecOf).
func isFilterOption(name string) bool {
	switch name {
	case "filter", "exclude", "include", "exclude-from", "include-from", "F":
		return true
	}
	return false
}

// filterSpecOf is the filter rule of one of rsync's filter options.
func filterSpecOf(o rsyncopts.Option) filter.Spec {
	kind := map[string]filter.SpecKind{
		"filter": filter.SpecFilter, "exclude": filter.SpecExclude, "include": filter.SpecInclude,
		"exclude-from": filter.SpecExcludeFrom, "include-from": filter.SpecIncludeFrom, "F": filter.SpecF,
	}[o.Name]
	return filter.Spec{Kind: kind, Arg: o.Value}
}
