package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/hooks"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/rsyncopts"
	"github.com/gsync/gsync/rsyncproto"
	"github.com/gsync/gsync/transport"
	"github.com/gsync/gsync/watcher"
)

// config is everything the command line (or one lsyncd sync{}) selects:
// the sync's source options, its targets with their connection options,
// and the process options, each a type of its own.
type config struct {
	sourceOptions
	targetOptions
	processOptions

	targets []string
	// lsyncd configs: the sync's name for log lines, and where the sync
	// is in its file ("file:line", for errors).
	name         string
	where        string
	extraTargets []string // --target
	// Several lsyncd sync{} blocks on one source share one mirror: then
	// targetCfgs holds each target's own settings (connection options) and
	// targetNames their sync names, in the order of targets.
	targetCfgs  []*config
	targetNames []string
	// progress receives the --once progress line (a terminal); nil: none.
	progress io.Writer
	// serial, when set, is held around every push of this sync's target:
	// lsyncd syncs writing into overlapping targets share it
	// (lsyncd_overlap.go).
	serial *serialMember
	// external, when set, runs this lsyncd sync's transfers through its
	// rsync.binary program (lsyncd_exec.go).
	external *lsyncdconf.External
	// actions, when set, are an lsyncd sync's layer-1 actions, run
	// instead of pushes (lsyncd_actions.go); actionTarget is its target
	// as configured ("" when it has none).
	actions         lsyncdconf.Actions
	actionTarget    string
	actionExitCodes map[int]string
	actionLua       *lsyncdconf.LuaActions
	actionKeepMoves bool
}

// sourceOptions are the settings of one source: how it is watched,
// collated, pushed and guarded (mirror.Config). Syncs whose
// sourceOptions are equal share one mirror (groupSyncs): every field
// takes part in that comparison, so keep here only what must be equal
// for syncs to share a watcher and a collator.
type sourceOptions struct {
	source      string
	delay       time.Duration
	maxDelays   int
	deleteMode  transport.DeleteMode
	excludes    []string // lsyncd's exclude (configs)
	excludeFrom []string // lsyncd's excludeFrom
	filters     []string // lsyncd's filter and filterFrom
	// rules are the command line's filter options in rsync's meaning
	// (--filter, --include, --exclude, --include-from, --exclude-from,
	// -F), in the order given.
	rules        []filter.Spec
	noInit       bool // lsyncd's init = false
	once         bool
	dryRun       bool
	insist       bool
	watchBackend string
	// writes: which inotify events report a written file (lsyncd's
	// inotifyMode, --inotify-mode).
	writes watcher.WriteEvents
	// safety guards
	allowEmptySource bool
	maxDelete        int
	// oneFileSystem (-x): file systems mounted below the source are not
	// mirrored (their mount points are).
	oneFileSystem bool
	// cvsExclude (-C): rsync's CVS ignore rules after all the others
	// (filter.Options.CVSExclude).
	cvsExclude bool
	// filesFrom (--files-from, --from0 for NUL-separated names) limits
	// the sync to the paths listed in that file (filesFromRules).
	filesFrom string
	from0     bool
	// onPush are the --on-push command lines (hooks), run with at most
	// onPushTimeout each.
	onPush        []string
	onPushTimeout time.Duration
	// periodic verification: --verify-every, --verify-only,
	// --verify-checksum.
	verifyEvery    time.Duration
	verifyOnly     bool
	verifyChecksum bool
	// fullSyncCron are crontab patterns of periodic full syncs
	// (--full-sync-cron, lsyncd 2.3's crontab).
	fullSyncCron []string
}

// targetOptions are the connection settings of a target.
type targetOptions struct {
	// rsync daemon targets
	port         int
	passwordFile string
	protocol     int
	timeout      time.Duration

	ssh sshOptions // ssh targets

	// attrs are the attributes kept on the target (rsync -a's set by
	// default; lsyncd configs: lsyncd's rsync = {...}).
	attrs rsyncopts.Attrs
	// compress is rsync's -z and its options (off by default; lsyncd
	// configs: compress = true and _extra).
	compress rsyncopts.Compress
	// receiver are rsync's receiver-side options (--backup, --update,
	// ...; lsyncd configs: rsync = {...} keys and _extra).
	receiver rsyncopts.Receiver
	// sender holds rsync's sender-side options: --bwlimit, -c, -W,
	// --max-size, --min-size, --safe-links (lsyncd configs: bwlimit,
	// checksum, whole_file and _extra).
	sender rsyncopts.Sender
	// maxProcesses is how many pushes of a batch may run at once, each
	// on a connection of its own (--max-processes, lsyncd's
	// maxProcesses; mirror.Target.MaxProcesses).
	maxProcesses int
}

// validate checks the target options once, when the config is read.
func (o *targetOptions) validate() error {
	if o.port != 0 && (o.port < 1 || o.port > 65535) {
		return usagef("invalid --port %d: want 1 to 65535", o.port)
	}
	if err := rsyncproto.CheckProtocol(o.protocol); err != nil {
		return usagef("invalid --protocol: %v", err)
	}
	if err := o.attrs.Check(); err != nil {
		return usageError{Err: err}
	}
	if err := o.receiver.Check(); err != nil {
		return usageError{Err: err}
	}
	if o.maxProcesses < 1 || o.maxProcesses > mirror.MaxProcessesLimit {
		return usagef("invalid --max-processes %d: want 1 to %d", o.maxProcesses, mirror.MaxProcessesLimit)
	}
	return nil
}

// processOptions are the settings of the gsync process, whatever the
// number of syncs.
type processOptions struct {
	logLevel  string
	logFormat string
	logFile   string
	// status file: --status-file, --status-interval, or lsyncd's settings.
	statusFile     string
	statusInterval time.Duration // at most one rewrite per interval
	controlSocket  string        // "" = the default path, "none" = no socket
	metricsAddr    string        // Prometheus endpoint, "" = none
	configFile     string
	pidFile        string // --pidfile
	// stateDir holds the tree indexes (--state-dir; "": $STATE_DIRECTORY
	// under systemd, else none; "none": none).
	stateDir string
}

// durationSeconds is a flag value that takes a Go duration ("500ms", "2m")
// or plain seconds ("15", "0.5"), like lsyncd's -delay.
type durationSeconds struct{ d *time.Duration }

func (v durationSeconds) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v durationSeconds) Set(s string) error {
	d, err := parseDelay(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v durationSeconds) Type() string { return "duration" }

func parseDelay(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("invalid delay %q: want seconds (15, 0.5) or a duration (500ms, 2m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid delay %q: must not be negative", s)
	}
	return d, nil
}

func newRootCommand(stdout, stderr io.Writer, sigs <-chan os.Signal) *cobra.Command {
	cmd, _ := newCommand(stdout, stderr, sigs)
	return cmd
}

// newCommand returns the root command and the config its flags fill
// (gsync verify reuses both).
func newCommand(stdout, stderr io.Writer, sigs <-chan os.Signal) (*cobra.Command, *config) {
	cfg := &config{
		sourceOptions:  sourceOptions{delay: 15 * time.Second, maxDelays: 1000, onPushTimeout: hooks.DefaultTimeout},
		targetOptions:  targetOptions{timeout: 60 * time.Second, maxProcesses: 1},
		processOptions: processOptions{statusInterval: 10 * time.Second},
	}
	cmd := &cobra.Command{
		Use:   "gsync [flags] SRC TARGET [TARGET...]",
		Short: "Live-mirror a directory tree to a local directory, an rsync daemon or an ssh host",
		Long: `gsync watches SRC and keeps TARGET an exact copy of it, within seconds.

TARGET is host::module[/path] or rsync://host/module (an rsync daemon),
[user@]host:dir (ssh), or a local directory. Several TARGETs share one
watcher; each has its own queue, so a slow one never delays the others.
Changes are collected for --delay and pushed in one batch; the startup
transfer, an inotify overflow and SIGHUP do a full sync.

  gsync status [--json] [--socket PATH]   shows what running gsyncs do
  gsync verify [flags] SRC TARGET...      compares targets with SRC (rsync -i lines)
  gsync check [flags] SRC TARGET...       checks a configuration and its targets, changing nothing
  gsync explain [flags] PATH SRC TARGET... says which rule decides PATH and what a change does`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cfg.configFile != "" {
				if len(args) > 0 {
					return usagef("--config runs the syncs of its file; give no SRC or TARGET (got %d argument(s))", len(args))
				}
				return nil
			}
			if len(args) < 1 || len(args)+len(cfg.extraTargets) < 2 {
				return usagef("want SRC and TARGET (one or more), got %d argument(s); see gsync --help", len(args)+len(cfg.extraTargets))
			}
			return nil
		},
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cfg.configFile != "" {
				return runConfigFile(cfg, stderr, sigs)
			}
			cfg.source = args[0]
			cfg.targets = append(append([]string(nil), args[1:]...), cfg.extraTargets...)
			return runNative(cfg, stderr, sigs)
		},
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{Err: err} })

	f := cmd.Flags()
	f.SortFlags = false
	f.Var(durationSeconds{&cfg.delay}, "delay", "collect changes this long before pushing (seconds or a duration: 15, 0, 500ms)")
	f.IntVar(&cfg.maxDelays, "max-delays", cfg.maxDelays, "push at once when this many changes are waiting")
	f.IntVar(&cfg.maxProcesses, "max-processes", cfg.maxProcesses, "run up to `N` pushes of a batch to each target at once, each on a connection of its own, on changes whose paths are disjoint (lsyncd's maxProcesses; full syncs run alone)")
	f.TextVar(&cfg.deleteMode, "delete", cfg.deleteMode, "delete on the target, `MODE`: true, false, startup (full syncs only) or running (batches only)")
	f.VarP(ruleFlag{filter.SpecFilter, &cfg.rules}, "filter", "f", "add a filter `RULE` in rsync's syntax (\"- *.o\", \"P /keep/\", \"dir-merge .rsync-filter\"; repeatable, in order with the options below, first match wins)")
	f.Var(ruleFlag{filter.SpecExclude, &cfg.rules}, "exclude", "exclude paths matching `PATTERN` (rsync's --exclude; repeatable)")
	f.Var(ruleFlag{filter.SpecInclude, &cfg.rules}, "include", "don't exclude paths matching `PATTERN` (rsync's --include; repeatable)")
	f.Var(ruleFlag{filter.SpecExcludeFrom, &cfg.rules}, "exclude-from", "read exclude patterns from `FILE` (rsync's --exclude-from; repeatable)")
	f.Var(ruleFlag{filter.SpecIncludeFrom, &cfg.rules}, "include-from", "read include patterns from `FILE` (rsync's --include-from; repeatable)")
	f.VarP(ruleFlag{filter.SpecF, &cfg.rules}, "F", "F", "same as --filter='dir-merge /.rsync-filter'; given twice (-FF), also --filter='- .rsync-filter'")
	f.Lookup("F").NoOptDefVal = "true"
	f.BoolVarP(&cfg.cvsExclude, "cvs-exclude", "C", false, "also exclude what rsync -C does, after all other rules: its CVS ignore list (*.o, *~, core, .git/, ...), ~/.cvsignore, $CVSIGNORE, and in each directory the names its .cvsignore lists")
	f.StringVar(&cfg.filesFrom, "files-from", "", "mirror only the paths listed in `FILE` (one per line, relative to SRC; a directory with all below it), rsync -r --files-from")
	f.BoolVarP(&cfg.from0, "from0", "0", false, "the --files-from names end with a NUL byte, not a newline")
	f.BoolVar(&cfg.once, "once", false, "do the startup full sync, then exit")
	f.BoolVarP(&cfg.dryRun, "dry-run", "n", false, "log what would be done, change nothing")
	f.BoolVar(&cfg.insist, "insist", false, "keep retrying when the startup sync fails with a transient error")
	f.StringVar(&cfg.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	f.IntVar(&cfg.port, "port", 0, "rsync daemon TCP port (default 873, or the port in an rsync:// URL)")
	f.StringVar(&cfg.passwordFile, "password-file", "", "read the rsync daemon password from `FILE` (else $RSYNC_PASSWORD)")
	f.Var(durationSeconds{&cfg.timeout}, "timeout", "give up on a stalled connection after this long (seconds or a duration)")
	f.IntVar(&cfg.protocol, "protocol", 0, fmt.Sprintf("highest rsync protocol to offer, %d-%d (for testing old peers)", rsyncproto.MinProtocol, rsyncproto.MaxProtocol))
	f.StringVar(&cfg.watchBackend, "watch-backend", "", "file watching backend: inotify (Linux default) or fsnotify")
	f.Var(inotifyModeFlag{&cfg.writes}, "inotify-mode", "which inotify events report a written file (lsyncd's inotifyMode): `MODE` CloseWrite, Modify, or \"CloseWrite or Modify\" (default)")
	f.StringVar(&cfg.pidFile, "pidfile", "", "write the process id to `FILE`, locked while gsync runs, removed at exit")
	f.StringVar(&cfg.stateDir, "state-dir", "", "keep a tree index per target in `DIR`: a restart pushes only what changed while gsync was down, then verifies with a full sync (default: $STATE_DIRECTORY when systemd sets it; none: off)")
	f.StringVar(&cfg.statusFile, "status-file", "", "write an lsyncd-style status report to `FILE` (replaced atomically)")
	f.Var(durationSeconds{&cfg.statusInterval}, "status-interval", "rewrite the status file at most this often; 0: on every change")
	f.StringArrayVar(&cfg.extraTargets, "target", nil, "mirror to `TARGET` too (repeatable; the same as more TARGET arguments)")
	f.BoolVar(&cfg.allowEmptySource, "allow-empty-source", false, "mirror an empty source (default: an empty source never deletes the target's files)")
	f.IntVar(&cfg.maxDelete, "max-delete", 0, "a batch or full sync that would delete more than `N` entries on the target (every entry below a deleted directory counts) deletes none of them (0: no limit)")
	f.BoolVarP(&cfg.oneFileSystem, "one-file-system", "x", false, "do not mirror file systems mounted below SRC (their mount point directories are mirrored), like rsync -x")
	f.StringVar(&cfg.controlSocket, "control-socket", "", "serve \"gsync status\" on this unix socket `PATH` (default: a socket per process in "+control.DefaultDir()+"; none: off)")
	f.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics, e.g. 127.0.0.1:9469")
	f.StringVar(&cfg.logFile, "log-file", "", "log to `FILE` instead of stderr; reopened on SIGUSR1 (logrotate)")
	f.StringVar(&cfg.configFile, "config", "", "run the syncs of an lsyncd Lua config `FILE` (like gsync FILE), with these flags for the process")
	f.StringArrayVar(&cfg.onPush, "on-push", nil, "after each push to a target that went through, run `COMMAND` (split into words like -e, never run by a shell; the push's paths as JSON lines on stdin, GSYNC_* variables; repeatable, run in order)")
	f.Var(durationSeconds{&cfg.verifyEvery}, "verify-every", "compare every target with SRC this often (a duration: 6h, 30m), over a connection of its own, at idle I/O priority; drift is logged, counted and repaired (0: off)")
	f.BoolVar(&cfg.verifyOnly, "verify-only", false, "--verify-every logs and counts drift without repairing it")
	f.BoolVar(&cfg.verifyChecksum, "verify-checksum", false, "--verify-every compares file content (reads every file on both sides), not size and mtime")
	f.StringArrayVar(&cfg.fullSyncCron, "full-sync-cron", nil, "run a full sync of every target at the times crontab `PATTERN` names (5 fields, or 6 with seconds first as in lsyncd 2.3's crontab, or @hourly, @every 6h; repeatable)")
	f.Var(durationSeconds{&cfg.onPushTimeout}, "on-push-timeout", "kill an --on-push command (its whole process group) after this long")
	registerSSHFlags(f, &cfg.ssh)
	rsyncopts.RegisterFlags(f, &cfg.attrs)
	rsyncopts.RegisterCompressFlags(f, &cfg.compress)
	rsyncopts.RegisterReceiverFlags(f, &cfg.receiver)
	rsyncopts.RegisterSenderFlags(f, &cfg.sender)
	return cmd, cfg
}

// ruleFlag is one of the command line's filter options: each use adds a
// filter.Spec to one list, so that their order is kept as in rsync.
type ruleFlag struct {
	kind filter.SpecKind
	list *[]filter.Spec
}

func (f ruleFlag) Set(v string) error {
	if f.kind == filter.SpecF {
		v = ""
	}
	*f.list = append(*f.list, filter.Spec{Kind: f.kind, Arg: v})
	return nil
}

func (f ruleFlag) String() string { return "" }

func (f ruleFlag) Type() string {
	if f.kind == filter.SpecF {
		return "bool"
	}
	return "string"
}

// inotifyModeFlag is --inotify-mode (watcher.ParseInotifyMode).
type inotifyModeFlag struct{ w *watcher.WriteEvents }

func (f inotifyModeFlag) Set(v string) error {
	w, err := watcher.ParseInotifyMode(v)
	if err != nil {
		return err
	}
	*f.w = w
	return nil
}

func (f inotifyModeFlag) String() string {
	if f.w == nil {
		return ""
	}
	return f.w.String()
}

func (f inotifyModeFlag) Type() string { return "string" }
