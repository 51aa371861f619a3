package ops

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/gsync/gsync/mirror"
)

// NotifySystemd tells systemd (sd_notify) READY=1 once every target
// finished its startup sync, and a STATUS= line after every change
// signalled on kick (a channel from b.Subscribe), until ctx is done.
// Failed notifications are logged to log at debug level.
func NotifySystemd(ctx context.Context, b *Board, kick <-chan struct{}, log *slog.Logger) {
	ready, last := false, ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		msg := ""
		if !ready && b.Ready() {
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
func statusLine(b *Board) string {
	var parts []string
	for _, t := range b.All() {
		s := TargetStatus(t)
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

// Watchdog sends WATCHDOG=1 every half interval while every running
// mirror loop answers a probe: a stuck loop stops the pings and systemd
// restarts gsync. interval is systemd's WatchdogSec; it runs until ctx
// is done.
func Watchdog(ctx context.Context, interval time.Duration, g *mirror.Group) {
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if g.Alive(interval / 4) {
			daemon.SdNotify(false, daemon.SdNotifyWatchdog)
		}
	}
}
