package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/gsync/gsync/lsyncdconf"
	"github.com/gsync/gsync/ops"
)

// logLsyncdConfig logs what the config said while it loaded (its log()
// calls, at the level of their category) and the warnings about its
// settings: those gsync reads differently or cannot honour, by name.
func logLsyncdConfig(log *slog.Logger, cfg *lsyncdconf.Config) {
	for _, m := range cfg.Messages {
		lv := slog.LevelDebug // lsyncd logs other categories only with -log CATEGORY
		switch m.Category {
		case "Error":
			lv = slog.LevelError
		case "Warn":
			lv = slog.LevelWarn
		case "Normal":
			lv = slog.LevelInfo
		}
		log.Log(context.Background(), lv, m.Text, "category", m.Category)
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	st := cfg.Settings
	if st.LogFacility != "" || st.LogIdent != "" {
		switch {
		case st.LogFile != "":
			log.Warn("settings{}: logfacility and logident have no effect with a logfile (lsyncd logs to syslog only without one)")
		case st.NoDaemon:
			log.Warn("settings{}: logfacility and logident have no effect with nodaemon (lsyncd logs to syslog only when it runs as a daemon)")
		}
	}
}

// openLsyncdSyslog adds the syslog socket addr to out when the config
// asks for syslog with logfacility or logident, without a logfile and
// without nodaemon (lsyncd.c: l_configure "running" logs to syslog in
// that case only). A socket that is missing is a warning on stderr.
func openLsyncdSyslog(st lsyncdconf.Settings, addr string, out *ops.Tee, stderr io.Writer) (closeFn func(), err error) {
	if (st.LogFacility == "" && st.LogIdent == "") || st.LogFile != "" || st.NoDaemon {
		if _, err := ops.ParseFacility(st.LogFacility); err != nil {
			return nil, fmt.Errorf("settings{}: logfacility: %w", err)
		}
		return func() {}, nil
	}
	if _, err := ops.ParseFacility(st.LogFacility); err != nil {
		return nil, fmt.Errorf("settings{}: logfacility: %w", err)
	}
	w, err := ops.OpenSyslog(addr, st.LogFacility, st.LogIdent)
	if err != nil {
		fmt.Fprintf(stderr, "gsync: settings{} logfacility/logident: no syslog (%v); logging to stderr only\n", err)
		return func() {}, nil
	}
	out.Writers = append(out.Writers, w)
	return func() { w.Close() }, nil
}

// lsyncdMaxProcesses is how many pushes of s may run at once: settings{}
// maxProcesses overrides every sync's own, as lsyncd's Syncs.add does
// (lsyncd.lua: inheritSettings), and caps all syncs together as well
// (runSyncs: procOptions.maxProcesses); the default is 1.
func lsyncdMaxProcesses(s *lsyncdconf.Sync, st lsyncdconf.Settings) int {
	if st.MaxProcesses > 0 {
		return st.MaxProcesses
	}
	return max(s.MaxProcesses, 1)
}
