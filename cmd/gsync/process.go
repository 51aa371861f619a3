package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/ops"
)

// procOptions are the process options as runProcess runs them: the
// operator outputs of processOptions, whether only the startup syncs
// run, and how to reopen the log file.
type procOptions struct {
	processOptions
	once bool // --once / -onepass: no signals expected during the syncs
	// reopenLog reopens --log-file (SIGUSR1); nil without one.
	reopenLog func() error
	// maxProcesses > 0 caps the pushes in flight of every sync together
	// (lsyncd's settings{ maxProcesses }; mirror.Processes).
	maxProcesses int
}

// runProcess runs every sync of cfgs concurrently, one mirror (watcher,
// collators, targets) each, in one mirror.Group (which stops them all
// when a startup sync fails without --insist), and serves the operator
// outputs meanwhile: status file, control socket, metrics, systemd
// notifications. It translates signals into engine calls: SIGTERM/SIGINT
// stop every sync (exit 143/130). On SIGHUP, with reload set, the config
// is re-read: if that works every sync is stopped (in-flight batches
// finish) and runProcess returns the new config to be run, else the
// error is logged and the old config keeps running. Without reload, or
// when the reload failed, SIGHUP is a full sync of every sync. SIGUSR1
// reopens the log file. carry takes the changes the syncs still had
// queued when a reload stopped them, and gives them to the syncs of the
// new config (nil: none).
func runProcess(cfgs []*config, po procOptions, log *slog.Logger, sigs <-chan os.Signal, reload func() (*lsyncdconf.Config, error), carry *mirror.Handover) (next *lsyncdconf.Config, err error) {
	for _, c := range cfgs {
		if err := c.validateTargets(); err != nil {
			return nil, err
		}
	}
	if po.pidFile != "" {
		release, err := ops.WritePidfile(po.pidFile)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	b := ops.NewBoard(version)
	mcfgs := make([]mirror.Config, len(cfgs))
	var procs *mirror.Processes
	if po.maxProcesses > 0 {
		procs = mirror.NewProcesses(po.maxProcesses)
	}
	k := 0
	for i, c := range cfgs {
		var status []*mirror.Status
		for j := range c.targets {
			k++
			name := c.name
			switch {
			case c.targetNames != nil:
				name = c.targetNames[j]
			case name == "" || len(c.targets) > 1:
				name = fmt.Sprintf("Sync%d", k)
			}
			status = append(status, b.Add(name))
		}
		if mcfgs[i], err = mirrorConfig(c, status, log, carry); err != nil {
			return nil, err
		}
		mcfgs[i].StateDir = stateDir(po.stateDir, os.Getenv("STATE_DIRECTORY"))
		mcfgs[i].Processes = procs
	}
	g := mirror.NewGroup(log, mcfgs...)
	stopOps, err := startOps(ctx, b, po, g, log)
	if err != nil {
		return nil, err
	}
	defer stopOps() // after every mirror has returned

	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 && !po.once {
		wdCtx, wdStop := context.WithCancel(ctx)
		defer wdStop()
		go ops.Watchdog(wdCtx, interval, g)
	}
	var stopSig os.Signal
	var reloaded *lsyncdconf.Config
	for {
		select {
		case err := <-done:
			if err != nil {
				return nil, err
			}
			if stopSig != nil {
				return nil, signalExit{stopSig}
			}
			return reloaded, nil
		case sig := <-sigs:
			switch {
			case sig == sigReopenLog && sig != nil:
				if po.reopenLog == nil {
					continue
				}
				if err := po.reopenLog(); err != nil {
					log.Error("SIGUSR1: log file not reopened", "err", err)
				} else {
					log.Info("SIGUSR1: log file reopened")
				}
			case sig == syscall.SIGHUP && reload != nil && !po.once && !g.Stopping() && reloaded == nil:
				n, err := reload()
				if err != nil {
					log.Error("SIGHUP: config not re-read, keeping the running one; doing a full sync", "err", err)
					go g.FullSync()
					continue
				}
				log.Info("SIGHUP: config re-read; restarting every sync")
				reloaded = n
				go g.Stop()
			case sig == syscall.SIGHUP:
				log.Info("SIGHUP: full sync")
				go g.FullSync()
			default:
				if stopSig == nil {
					stopSig = sig
					daemon.SdNotify(false, daemon.SdNotifyStopping)
				}
				log.Info("stopping", "signal", sig.String())
				go g.Stop()
			}
		}
	}
}

// startOps opens the listeners of the ops endpoints that po asks for
// and serves them over b (ops.Serve), /healthz asking g's loops; stop
// ends them.
func startOps(ctx context.Context, b *ops.Board, po procOptions, g *mirror.Group, log *slog.Logger) (stop func(), err error) {
	e := ops.Endpoints{StatusFile: po.statusFile, StatusInterval: po.statusInterval,
		Systemd: os.Getenv("NOTIFY_SOCKET") != "" && !po.once, Alive: g.Alive}
	if e.Control, err = listenControl(po.controlSocket, log); err != nil {
		return nil, err
	}
	if po.metricsAddr != "" {
		if e.Metrics, err = net.Listen("tcp", po.metricsAddr); err != nil {
			if e.Control != nil {
				e.Control.Close()
			}
			return nil, usagef("--metrics-addr %s: %v", po.metricsAddr, err)
		}
	}
	return ops.Serve(ctx, b, e, log), nil
}

// listenControl opens the control socket: path, or the default one when
// path is empty ("none": none). A default socket that cannot be created is
// only a warning (read-only /run in a container, say).
func listenControl(path string, log *slog.Logger) (net.Listener, error) {
	if path == "none" {
		return nil, nil
	}
	explicit := path != ""
	if !explicit {
		path = control.DefaultPath(os.Getpid())
	}
	ln, err := control.Listen(path)
	if err != nil {
		if explicit {
			return nil, usagef("--control-socket: %v", err)
		}
		log.Warn("no control socket; gsync status will not see this process (give --control-socket PATH, or none)", "err", err)
		return nil, nil
	}
	log.Debug("control socket", "path", path)
	return ln, nil
}

// stateDir is where the tree indexes live: --state-dir, else the first
// directory systemd gives in $STATE_DIRECTORY (StateDirectory= in the
// unit), else none; "none" turns them off.
func stateDir(flag, env string) string {
	switch {
	case flag == "none":
		return ""
	case flag != "":
		return flag
	}
	first, _, _ := strings.Cut(env, ":")
	return first
}
