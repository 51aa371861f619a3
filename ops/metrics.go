package ops

import (
	"net/http"
	"slices"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gsync/gsync/mirror"
)

// MetricsHandler serves the board as Prometheus metrics (names prefixed
// gsync_, labels sync and target) plus the Go and process collectors, from
// a registry of its own.
func MetricsHandler(b *Board) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		boardCollector{b})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// boardCollector reads the board at scrape time: every value lives in the
// targets' status, so there is no second copy to keep in step.
type boardCollector struct{ b *Board }

var (
	labels      = []string{"sync", "target"}
	descEvents  = prometheus.NewDesc("gsync_events_total", "File system events read for the target.", labels, nil)
	descBatches = prometheus.NewDesc("gsync_batches_total", "Pushes that ended, by kind (batch, full).", append(labels, "kind"), nil)
	descLatency = prometheus.NewDesc("gsync_batch_duration_seconds", "Duration of pushes that ended.", labels, nil)
	descBytes   = prometheus.NewDesc("gsync_bytes_total", "Bytes of file data sent.", labels, nil)
	descFiles   = prometheus.NewDesc("gsync_files_total", "Entries created or updated on the target.", labels, nil)
	descDeleted = prometheus.NewDesc("gsync_deleted_total", "Entries deleted on the target.", labels, nil)
	descRenamed = prometheus.NewDesc("gsync_renamed_total", "Renames done on the target.", labels, nil)
	descErrors  = prometheus.NewDesc("gsync_errors_total", "Errors by class: transient and fatal push failures, canceled pushes, per-file failures (file).", append(labels, "class"), nil)
	descRetries = prometheus.NewDesc("gsync_retries_total", "Pushes that failed and were queued again.", labels, nil)
	descQueue   = prometheus.NewDesc("gsync_queue_depth", "Changes waiting to be pushed.", labels, nil)
	descFlight  = prometheus.NewDesc("gsync_in_flight", "Changes of the push in flight.", labels, nil)
	descPushes  = prometheus.NewDesc("gsync_pushes_in_flight", "Pushes running now (several at once when a batch is split for --max-processes).", labels, nil)
	descPeak    = prometheus.NewDesc("gsync_pushes_in_flight_peak", "The most pushes that ran at once since the start.", labels, nil)
	descProcs   = prometheus.NewDesc("gsync_max_processes", "The target's --max-processes (lsyncd's maxProcesses).", labels, nil)
	descWatches = prometheus.NewDesc("gsync_watches", "Watched directories of the target's source.", labels, nil)
	descOver    = prometheus.NewDesc("gsync_overflows_total", "inotify queue overflows (each causes a full sync).", labels, nil)
	descUp      = prometheus.NewDesc("gsync_target_up", "1 while the target is reachable (the last push did not fail), else 0.", labels, nil)
	descState   = prometheus.NewDesc("gsync_target_state", "1 for the target's current state.", append(labels, "state"), nil)
	descFailing = prometheus.NewDesc("gsync_failing_paths", "Paths that keep failing on the target and are retried with their own backoff.", labels, nil)
	descHooks   = prometheus.NewDesc("gsync_hook_runs_total", "Runs of --on-push hooks, by result: ok, failed (a non-zero exit or no start), timeout (killed).", append(labels, "result"), nil)
	descMerged  = prometheus.NewDesc("gsync_hook_merged_total", "Pushes merged into one waiting for the hooks because they fell behind.", labels, nil)
	descDrift   = prometheus.NewDesc("gsync_drift_paths", "Paths the last periodic verify (--verify-every) found drifted from the source.", labels, nil)
	descDriftT  = prometheus.NewDesc("gsync_drift_paths_total", "Drifted paths found by periodic verifies in all.", labels, nil)
	descVerify  = prometheus.NewDesc("gsync_verifies_total", "Periodic verifies that ended, by result: equal, drift, error.", append(labels, "result"), nil)
	descVerifyT = prometheus.NewDesc("gsync_last_verify_timestamp_seconds", "When the last periodic verify ended.", labels, nil)
	descSuccess = prometheus.NewDesc("gsync_last_success_timestamp_seconds", "When the last push without errors ended.", labels, nil)
)

func (c boardCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEvents, descBatches, descLatency, descBytes, descFiles, descDeleted,
		descRenamed, descErrors, descRetries, descQueue, descFlight, descPushes, descPeak, descProcs, descWatches, descOver, descUp, descState, descFailing, descSuccess,
		descHooks, descMerged, descDrift, descDriftT, descVerify, descVerifyT} {
		ch <- d
	}
}

func (c boardCollector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.b.All() {
		s := t.Snapshot()
		lv := []string{s.Name, s.Target}
		n := s.Counters
		byClass := n.ErrorsByClass
		queued, inFlight, watches, state, failing := s.Queued, s.ActiveTotal, s.Watches, s.State, len(s.Failing)
		if s.Full {
			inFlight++
		}
		up := !s.LastFailed
		lastSuccess := s.LastSuccess

		counter := func(d *prometheus.Desc, v int64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append(lv, extra...)...)
		}
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv, extra...)...)
		}
		counter(descEvents, n.Events)
		counter(descBatches, n.Batches, "batch")
		counter(descBatches, n.FullSyncs, "full")
		buckets := make(map[float64]uint64, len(mirror.LatencyBuckets))
		var cum uint64
		for i, ub := range mirror.LatencyBuckets {
			cum += uint64(n.Latency[i])
			buckets[ub] = cum
		}
		ch <- prometheus.MustNewConstHistogram(descLatency, uint64(n.LatencyCount), n.LatencySum, buckets, lv...)
		counter(descBytes, n.Bytes)
		counter(descFiles, n.Files)
		counter(descDeleted, n.Deleted)
		counter(descRenamed, n.Renamed)
		classes := []string{"transient", "fatal", "canceled", "file"}
		for k := range byClass {
			if !slices.Contains(classes, k) {
				classes = append(classes, k)
			}
		}
		sort.Strings(classes)
		for _, k := range classes {
			counter(descErrors, byClass[k], k)
		}
		counter(descRetries, n.Failures)
		gauge(descQueue, float64(queued))
		gauge(descFlight, float64(inFlight))
		gauge(descPushes, float64(s.Pushes))
		gauge(descPeak, float64(s.PeakPushes))
		gauge(descProcs, float64(s.Processes))
		gauge(descWatches, float64(watches))
		counter(descOver, n.Overflows)
		gauge(descUp, boolFloat(up && state != mirror.StateFailed))
		gauge(descFailing, float64(failing))
		for _, s := range mirror.States {
			gauge(descState, boolFloat(s == state), s.String())
		}
		counter(descHooks, n.HookRuns-n.HookFailures, "ok")
		counter(descHooks, n.HookFailures-n.HookTimeouts, "failed")
		counter(descHooks, n.HookTimeouts, "timeout")
		counter(descMerged, n.HookMerged)
		if lastVerify := s.LastVerify; !lastVerify.IsZero() {
			gauge(descDrift, float64(s.DriftPaths))
			counter(descDriftT, n.DriftPathsTotal)
			counter(descVerify, n.VerifiesEqual, "equal")
			counter(descVerify, n.VerifiesDrift, "drift")
			counter(descVerify, n.VerifyFailures, "error")
			gauge(descVerifyT, float64(lastVerify.UnixNano())/1e9)
		}
		if !lastSuccess.IsZero() {
			gauge(descSuccess, float64(lastSuccess.UnixNano())/1e9)
		}
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
