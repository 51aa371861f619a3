package ops

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gsync/gsync/control"
)

// PrintStatus renders the answers of the control sockets of running gsync
// processes at now as `gsync status` prints them: one block per process,
// one row per target.
func PrintStatus(w io.Writer, all []control.Status, now time.Time) {
	for i, st := range all {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "gsync %s, pid %d, up %s\n", st.Version, st.PID, now.Sub(st.Started).Round(time.Second))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SYNC\tSOURCE\tTARGET\tSTATE\tQUEUE\tLAST SUCCESS\tFILES\tBYTES\tWATCHES\tOVERFLOWS")
		for _, t := range st.Targets {
			state := t.State
			if t.NextAttempt != nil {
				state += " in " + t.NextAttempt.Sub(now).Round(time.Second).String()
			}
			if t.InFlight > 0 {
				state += fmt.Sprintf(" (%d)", t.InFlight)
			}
			if t.Pushes > 1 {
				state += fmt.Sprintf(" in %d pushes", t.Pushes)
			}
			last := "never"
			if t.LastSuccess != nil {
				last = t.LastSuccess.Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\n", t.Sync, t.Source, t.Target, state, t.Queue,
				last, t.FilesPushed, t.BytesPushed, t.Watches, t.Overflows)
		}
		tw.Flush()
		for _, t := range st.Targets {
			if t.LastError != "" {
				at := ""
				if t.LastErrorAt != nil {
					at = " at " + t.LastErrorAt.Format("15:04:05")
				}
				fmt.Fprintf(w, "  %s last error%s: %s\n", t.Sync, at, oneLine(t.LastError))
			}
			if p := t.Progress; p != nil {
				took := now.Sub(p.Since)
				rate := 0.0
				if took > 0 {
					rate = float64(p.Bytes) / took.Seconds() / 1e6
				}
				fmt.Fprintf(w, "  %s full sync for %s: %d entries listed, %d files sent (%.1f MB, %.1f MB/s)\n",
					t.Sync, took.Round(time.Second), p.Listed, p.Files, float64(p.Bytes)/1e6, rate)
			}
			if t.LastVerify != nil {
				at := t.LastVerify.Format("2006-01-02 15:04:05")
				switch {
				case t.VerifyError != "":
					fmt.Fprintf(w, "  %s last verify at %s failed: %s\n", t.Sync, at, oneLine(t.VerifyError))
				case t.DriftPaths > 0:
					fmt.Fprintf(w, "  %s last verify at %s: %d path(s) drifted from the source\n", t.Sync, at, t.DriftPaths)
				default:
					fmt.Fprintf(w, "  %s last verify at %s: equal\n", t.Sync, at)
				}
			}
			if t.LastHookError != "" {
				at := ""
				if t.LastHookAt != nil {
					at = " at " + t.LastHookAt.Format("15:04:05")
				}
				fmt.Fprintf(w, "  %s hooks: %d run(s), %d failed; last failure%s: %s\n", t.Sync, t.HookRuns, t.HookFailures, at, oneLine(t.LastHookError))
			}
			for _, f := range t.FailingPaths {
				fmt.Fprintf(w, "  %s failing path /%s: %d failure(s), next attempt in %s: %s\n", t.Sync,
					strings.TrimPrefix(f.Path, "/"), f.Failures, max(f.NextAttempt.Sub(now), 0).Round(time.Second), oneLine(f.LastError))
			}
		}
	}
}
