package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// report collects measurements: per scenario and metric, the values of
// each tool (one per run).
type report struct {
	cfg   settings
	notes []string
	rows  []*row
}

type row struct {
	scenario, metric string
	vals             map[string][]float64 // tool name -> runs
}

func (r *report) add(scenario, metric, tool string, v float64) {
	i := slices.IndexFunc(r.rows, func(x *row) bool { return x.scenario == scenario && x.metric == metric })
	if i < 0 {
		r.rows = append(r.rows, &row{scenario: scenario, metric: metric, vals: map[string][]float64{}})
		i = len(r.rows) - 1
	}
	r.rows[i].vals[tool] = append(r.rows[i].vals[tool], v)
	fmt.Printf("measured: %s | %s | %s | %s\n", scenario, metric, tool, num(v))
}

// goal is one of the targets for a row: met reports whether the
// gsync median g holds it, given lsyncd's median l (ok false: no lsyncd).
type goal struct {
	scenario, metric, text string
	met                    func(g, l float64, ok bool) string
	// vs is the column the goal compares gsync with; "" is lsyncd's.
	vs string
}

func vsLsyncd(factor float64) func(g, l float64, ok bool) string {
	return func(g, l float64, ok bool) string {
		if !ok {
			return "n/a (no lsyncd)"
		}
		return verdict(g <= factor*l)
	}
}

func vsRsync(factor float64) func(g, r float64, ok bool) string {
	return func(g, r float64, ok bool) string {
		if !ok {
			return "n/a (rsync -a not measured)"
		}
		return verdict(g <= factor*r)
	}
}

func verdict(b bool) string {
	if b {
		return "holds"
	}
	return "MISSED"
}

var goals = []goal{
	{"startup", "watch setup per 100,000 dirs (s)", "<= 2 s", func(g, _ float64, _ bool) string { return verdict(g <= 2) }, ""},
	{"startup", "steady RSS", "<= lsyncd", vsLsyncd(1), ""},
	{"startup", "watcher state", "< 300 bytes", func(g, _ float64, _ bool) string { return verdict(g < 300) }, ""},
	{"startup", "initial no-op sync (s)", "<= 0.8x rsync -a", vsRsync(0.8), rsyncTool},
	{"startup", "peak RSS (MB)", "<= rsync -a's sender", vsRsync(1), rsyncTool},
	{"idle", "CPU (s)", "0 (clock ticks of 10 ms)", func(g, _ float64, _ bool) string { return verdict(g < 0.005) }, ""},
	{"idle", "RSS at the end", "<= 20 MB and <= lsyncd", func(g, l float64, ok bool) string {
		return verdict(g <= 20 && (!ok || g <= l))
	}, ""},
	{"watch scale, 1,000,000", "start to watches set", "< 10 s", func(g, _ float64, _ bool) string { return verdict(g < 10) }, ""},
	{"watch scale, 1,000,000", "after sync (MB)", "<= 150 MB", func(g, _ float64, _ bool) string { return verdict(g <= 150) }, ""},
	{"burst", "time to converge (s)", "<= 0.8x lsyncd", vsLsyncd(0.8), ""},
	{"latency, daemon", "p50", "<= lsyncd", vsLsyncd(1), ""},
	{"latency, ssh", "p50", "<= 0.2x lsyncd", vsLsyncd(0.2), ""},
	{"latency, ssh", "p95", "<= 20 ms and <= 0.1x lsyncd", func(g, l float64, ok bool) string {
		return verdict(g <= 20 && (!ok || g <= 0.1*l))
	}, ""},
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func num(v float64) string {
	switch a := max(v, -v); {
	case a >= 1000:
		return thousands(int(v + 0.5))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// cell is the median of runs, with the range when there were several.
func cell(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	if len(v) == 1 {
		return num(v[0])
	}
	return fmt.Sprintf("%s (%s-%s)", num(median(v)), num(slices.Min(v)), num(slices.Max(v)))
}

// render returns the results as markdown: header, notes, one table.
func (r *report) render(bin string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# gsync vs lsyncd + rsync (make bench)\n\n")
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %s\n", machine())
	fmt.Fprintf(&b, "- versions: %s; %s; %s; %s\n", version(bin, "--version"), version("lsyncd", "-version"),
		version("rsync", "--version"), version("ssh", "-V"))
	fmt.Fprintf(&b, "- settings: BENCH_SCALE=%g BENCH_RUNS=%d BENCH_IDLE_SECONDS=%d BENCH_WRITES=%d BENCH_SETTLE_SECONDS=%d\n",
		r.cfg.scale, r.cfg.runs, r.cfg.idle, r.cfg.writes, r.cfg.settle)
	b.WriteString("- both tools run with delay 0 and push to the same rsync daemon / sshd on 127.0.0.1, measured in turn\n" +
		"  (run by run, alternating which goes first, so that the load of the shared machine falls on both);\n" +
		"  cells are the median of the runs (min-max in brackets); the ratio is gsync / lsyncd of the medians.\n" +
		"  lsyncd's CPU includes its rsync and ssh children; RSS is the daemon process alone (lsyncd's rsync child not counted).\n" +
		"  The receiving rsync daemon / sshd is not counted for either tool.\n")
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- note: %s\n", n)
	}
	// Extra gsync columns, when measured: another build, and gsync with
	// a periodic verification.
	var extra []string
	for _, c := range []struct{ name, note string }{
		{baseTool, "gsync-base is BENCH_GSYNC_BASE, another build measured in the same run"},
		{verifyTool, "gsync-verify is gsync with --verify-every 2s: a verification of its tree against the target every 2 s beside the live pushes"},
		{rsyncTool, "rsync -a is C rsync pushing the same tree to the same daemon module, alone (its client, the sender: wall time and peak RSS)"},
	} {
		if slices.ContainsFunc(r.rows, func(x *row) bool { return len(x.vals[c.name]) > 0 }) {
			extra = append(extra, c.name)
			fmt.Fprintf(&b, "- note: %s\n", c.note)
		}
	}
	head := append(append([]string{"scenario", "metric", "gsync"}, extra...), "lsyncd + rsync", "ratio", "target")
	fmt.Fprintf(&b, "\n| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	for _, x := range r.rows {
		g, l := x.vals["gsync"], x.vals["lsyncd"]
		ratio := "-"
		if len(g) > 0 && len(l) > 0 && median(l) != 0 {
			ratio = fmt.Sprintf("%.2f", median(g)/median(l))
		}
		tgt := ""
		for _, gl := range goals {
			ref := l
			if gl.vs != "" {
				ref = x.vals[gl.vs]
			}
			if strings.HasPrefix(x.scenario, gl.scenario) && strings.Contains(x.metric, gl.metric) && len(g) > 0 {
				tgt = gl.text + ": " + gl.met(median(g), median(ref), len(ref) > 0)
			}
		}
		cols := []string{x.scenario, x.metric, cell(g)}
		for _, e := range extra {
			cols = append(cols, cell(x.vals[e]))
		}
		cols = append(cols, cell(l), ratio, tgt)
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cols, " | "))
	}
	return b.String()
}
