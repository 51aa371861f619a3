package ops

import (
	"fmt"
	"io"

	"github.com/gsync/gsync/mirror"
)

// PrintCheck renders what gsync check found: per sync the settings it
// would run with, per target what was checked, the receiver's command
// line and what could not be checked; failed checks are marked FAILED.
func PrintCheck(w io.Writer, reports []mirror.CheckReport) {
	last := ""
	for _, r := range reports {
		head := r.Source + "|" + r.Name
		if head != last {
			last = head
			name := r.Name
			if name == "" {
				name = "sync"
			}
			fmt.Fprintf(w, "%s: source %s\n", name, r.Source)
			fmt.Fprintf(w, "  delay %s, max-delays %d, delete %s\n", r.Delay, r.MaxDelays, r.Delete)
			for _, f := range r.Filters {
				fmt.Fprintf(w, "  filter %s\n", f)
			}
			for _, e := range r.Excludes {
				fmt.Fprintf(w, "  exclude %s\n", e)
			}
			for _, h := range r.Hooks {
				fmt.Fprintf(w, "  on push: %s\n", h)
			}
			if r.VerifyEvery > 0 {
				fmt.Fprintf(w, "  verify every %s\n", r.VerifyEvery)
			}
		}
		status := "ok"
		if r.Err != nil {
			status = "FAILED: " + oneLine(r.Err.Error())
		}
		fmt.Fprintf(w, "  target %s: %s\n", r.Target, status)
		for _, c := range r.Result.Checked {
			fmt.Fprintf(w, "    checked: %s\n", c)
		}
		if r.Result.Command != "" {
			fmt.Fprintf(w, "    runs: %s\n", r.Result.Command)
		}
		for _, u := range r.Result.Unchecked {
			fmt.Fprintf(w, "    not checked: %s\n", u)
		}
	}
}
