package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/gsync/gsync/control"
	"github.com/gsync/gsync/lsyncdconf"
)

// procOptions are what one gsync process offers its operator, whatever
// the number of syncs.
type procOptions struct {
	statusFile     string        // lsyncd-style status file
	statusInterval time.Duration // at most one rewrite per interval
	controlSocket  string        // "" = the default path, "none" = no socket
	metricsAddr    string        // Prometheus endpoint, "" = none
	pidFile        string
	once           bool // --once / -onepass: no signals expected during the syncs
	// reopenLog reopens --log-file (SIGUSR1); nil without one.
	reopenLog func() error
}

// runProcess runs every sync of cfgs concurrently, one mirror (watcher,
// collators, targets) each, until a signal stops them all, a startup sync
// fails (without --insist), or every mirror ended (a mirror whose
// targets all failed ends alone: the others go on), and serves the operator outputs meanwhile: status file, control socket,
// metrics, systemd notifications. SIGTERM/SIGINT stop every sync (exit
// 143/130). On SIGHUP, with reload set, the config is re-read: if that
// works every sync is stopped (in-flight batches finish) and runProcess
// returns the new config to be run, else the error is logged and the old
// config keeps running. Without reload, or when the reload failed, SIGHUP
// is passed to every sync (full resync). SIGUSR1 reopens the log file.
// carry takes the changes the syncs still had queued when a reload
// stopped them, and gives them to the syncs of the new config (nil:
// none).
func runProcess(cfgs []*config, po procOptions, log *slog.Logger, sigs <-chan os.Signal, reload func() (*lsyncdconf.Config, error), carry *handover) (next *lsyncdconf.Config, err error) {
	if po.pidFile != "" {
		release, err := writePidfile(po.pidFile)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	b := newBoard()
	status := make([][]*syncStatus, len(cfgs))
	k := 0
	for i, c := range cfgs {
		for j := range c.targets {
			k++
			name := c.name
			switch {
			case c.targetNames != nil:
				name = c.targetNames[j]
			case name == "" || len(c.targets) > 1:
				name = fmt.Sprintf("Sync%d", k)
			}
			status[i] = append(status[i], b.add(name))
		}
	}
	stopOps, err := startOps(ctx, b, po, log)
	if err != nil {
		return nil, err
	}
	defer stopOps() // after every mirror has returned

	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(cfgs))
	chans := make([]chan os.Signal, len(cfgs))
	pings := make([]chan chan struct{}, len(cfgs))
	done := make([]chan struct{}, len(cfgs))
	var wg sync.WaitGroup
	for i, c := range cfgs {
		chans[i] = make(chan os.Signal, 4)
		pings[i] = make(chan chan struct{})
		done[i] = make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			results <- result{i, runMirror(ctx, c, status[i], log, chans[i], pings[i], carry)}
		}()
	}
	if interval, err := daemon.SdWatchdogEnabled(false); err == nil && interval > 0 && !po.once {
		wdCtx, wdStop := context.WithCancel(ctx)
		var wdWG sync.WaitGroup
		wdWG.Add(1)
		go func() {
			defer wdWG.Done()
			watchdog(wdCtx, interval, pings, done)
		}()
		defer func() { wdStop(); wdWG.Wait() }()
	}
	// broadcast passes a signal to every mirror that still runs.
	broadcast := func(sig os.Signal) {
		for i := range chans {
			select {
			case chans[i] <- sig:
			case <-done[i]:
			}
		}
	}
	var stopSig os.Signal
	var first error
	stopping := false // a startup failure is stopping every sync
	var reloaded *lsyncdconf.Config
	for left := len(cfgs); left > 0; {
		select {
		case sig := <-sigs:
			if sig == sigReopenLog && sig != nil {
				if po.reopenLog != nil {
					if err := po.reopenLog(); err != nil {
						log.Error("SIGUSR1: log file not reopened", "err", err)
					} else {
						log.Info("SIGUSR1: log file reopened")
					}
				}
				continue
			}
			if sig == syscall.SIGHUP && reload != nil && !po.once && stopSig == nil && !stopping && reloaded == nil {
				n, err := reload()
				if err == nil {
					log.Info("SIGHUP: config re-read; restarting every sync")
					reloaded = n
					go broadcast(syscall.SIGTERM)
					continue
				}
				log.Error("SIGHUP: config not re-read, keeping the running one; doing a full sync", "err", err)
			}
			if sig != syscall.SIGHUP && stopSig == nil {
				stopSig = sig
				daemon.SdNotify(false, daemon.SdNotifyStopping)
				if po.once {
					cancel() // the startup syncs do not watch for signals
				}
			}
			broadcast(sig)
		case r := <-results:
			left--
			var se signalExit
			if r.err == nil || errors.As(r.err, &se) || (stopSig != nil && errors.Is(r.err, context.Canceled)) {
				continue
			}
			if len(cfgs) > 1 {
				log.Error("sync failed", "sync", cfgs[r.i].name, "source", cfgs[r.i].source, "err", r.err)
			}
			if first == nil {
				first = r.err
			}
			var fail startupError
			var ue usageError
			if (errors.As(r.err, &fail) || errors.As(r.err, &ue)) && !stopping {
				// Like lsyncd, a bad config or a failed startup stops
				// every sync (gently). Later failures (every target of
				// a sync failed) stop their own sync only.
				stopping = true
				daemon.SdNotify(false, daemon.SdNotifyStopping)
				go broadcast(syscall.SIGTERM)
			}
		}
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if stopSig != nil {
		return nil, signalExit{stopSig}
	}
	return reloaded, nil
}

// startOps starts the readers of the board: status file, control socket,
// metrics endpoint and systemd notifications. stop ends them (the status
// file gets its last state written).
func startOps(ctx context.Context, b *board, po procOptions, log *slog.Logger) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var stops []func()
	stop = func() {
		for _, s := range stops {
			s()
		}
		cancel()
		wg.Wait()
	}
	if po.statusFile != "" {
		stops = append(stops, newStatusWriter(po.statusFile, po.statusInterval, log, b).start(ctx))
	}
	if ln, err := listenControl(po.controlSocket, log); err != nil {
		stop()
		return nil, err
	} else if ln != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := control.Serve(ctx, ln, b.snapshot); err != nil {
				log.Error("control socket stopped", "err", err)
			}
		}()
	}
	if po.metricsAddr != "" {
		ln, err := net.Listen("tcp", po.metricsAddr)
		if err != nil {
			stop()
			return nil, usagef("--metrics-addr %s: %v", po.metricsAddr, err)
		}
		srv := &http.Server{Handler: metricsHandler(b), ReadHeaderTimeout: 10 * time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics endpoint stopped", "err", err)
			}
		}()
		stops = append(stops, func() { srv.Close() })
		log.Info("serving metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	}
	if os.Getenv("NOTIFY_SOCKET") != "" && !po.once {
		kick := b.subscribe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			notifySystemd(ctx, b, kick, log)
		}()
	}
	return stop, nil
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

// notifySystemd tells systemd READY=1 once every target finished its
// startup sync, and a STATUS= line after every change.
func notifySystemd(ctx context.Context, b *board, kick <-chan struct{}, log *slog.Logger) {
	ready, last := false, ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		msg := ""
		if !ready && b.ready() {
			ready = true
			msg = daemon.SdNotifyReady + "\n"
		}
		st := "STATUS=" + statusLine(b)
		if st != last || msg != "" {
			last = st
			if _, err := daemon.SdNotify(false, msg+st); err != nil {
				log.Debug("sd_notify", "err", err)
			}
		}
	}
}

// statusLine summarises the board in one line for systemctl status.
func statusLine(b *board) string {
	var parts []string
	for _, t := range b.all() {
		s := t.snapshot()
		p := fmt.Sprintf("%s %s: %s, %d queued", s.Sync, s.Target, s.State, s.Queue)
		if s.LastSuccess != nil {
			p += ", last push " + s.LastSuccess.Format("15:04:05")
		}
		if s.State == "retrying" && s.LastError != "" {
			p += ", error: " + oneLine(s.LastError)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// watchdog sends WATCHDOG=1 every half interval while every running
// mirror loop answers a probe: a stuck loop stops the pings and systemd
// restarts gsync.
func watchdog(ctx context.Context, interval time.Duration, pings []chan chan struct{}, done []chan struct{}) {
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		alive := true
		for i := range pings {
			reply := make(chan struct{})
			select {
			case pings[i] <- reply:
				select {
				case <-reply:
				case <-done[i]:
				case <-time.After(interval / 4):
					alive = false
				}
			case <-done[i]:
			case <-time.After(interval / 4):
				alive = false
			case <-ctx.Done():
				return
			}
		}
		if alive {
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		}
	}
}
