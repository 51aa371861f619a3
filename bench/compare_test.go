package bench

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gsync/gsync/integration"
	"github.com/gsync/gsync/watcher"
)

// settings are read from BENCH_* environment variables.
type settings struct {
	scale     float64  // BENCH_SCALE: tree and burst sizes (1 = the sizes)
	runs      int      // BENCH_RUNS: repetitions of startup, burst and rename
	idle      int      // BENCH_IDLE_SECONDS: idle measurement window
	writes    int      // BENCH_WRITES: latency samples per target
	settle    int      // BENCH_SETTLE_SECONDS: wait after startup before steady RSS
	scenarios []string // BENCH_SCENARIOS: comma-separated subset
	tools     []string // BENCH_TOOLS: comma-separated subset of gsync,lsyncd; gsync-verify adds gsync --verify-every 2s
	// Also read elsewhere: BENCH_GSYNC (the binary), BENCH_GSYNC_BASE
	// (another gsync binary to measure beside it), BENCH_TMPDIR (where
	// the trees go), BENCH_RESULTS (results file name), BENCH_SSH_USER
	// (who logs in over ssh).
}

func readSettings() (settings, error) {
	s := settings{scale: 1, runs: 3, idle: 60, writes: 40, settle: 10,
		scenarios: []string{"startup", "idle", "latency", "burst", "rename"},
		tools:     []string{"gsync", "lsyncd"}}
	if v := os.Getenv("BENCH_SCALE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 1 {
			return s, fmt.Errorf("BENCH_SCALE=%q: want a number in (0, 1]", v)
		}
		s.scale = f
	}
	for _, iv := range []struct {
		name string
		p    *int
	}{{"BENCH_RUNS", &s.runs}, {"BENCH_IDLE_SECONDS", &s.idle}, {"BENCH_WRITES", &s.writes}, {"BENCH_SETTLE_SECONDS", &s.settle}} {
		if v := os.Getenv(iv.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 10_000 {
				return s, fmt.Errorf("%s=%q: want a whole number from 1 to 10000", iv.name, v)
			}
			*iv.p = n
		}
	}
	if v := os.Getenv("BENCH_SCENARIOS"); v != "" {
		s.scenarios = strings.Split(v, ",")
	}
	if v := os.Getenv("BENCH_TOOLS"); v != "" {
		s.tools = strings.Split(v, ",")
	}
	return s, nil
}

func (s settings) n(full int) int { return max(1, int(math.Round(float64(full)*s.scale))) }

// BenchmarkCompare runs every scenario of `make bench` for gsync and, when
// installed, lsyncd + rsync, against the same rsync daemon and sshd on
// 127.0.0.1, and prints one table (also written to results/). It needs
// BENCH_GSYNC, the gsync binary to measure; run it once (-benchtime 1x).
func BenchmarkCompare(b *testing.B) {
	bin := os.Getenv("BENCH_GSYNC")
	if bin == "" {
		b.Skip("set BENCH_GSYNC to the gsync binary to compare (make bench does)")
	}
	if b.N > 1 {
		b.Skip("run with -benchtime 1x")
	}
	cfg, err := readSettings()
	if err != nil {
		b.Fatal(err)
	}
	var notes []string
	tools := []tool{}
	for _, name := range cfg.tools {
		switch name {
		case "gsync":
			tools = append(tools, gsyncTool("gsync", bin))
			if base := os.Getenv("BENCH_GSYNC_BASE"); base != "" {
				// Another build measured in the same run, in turn with
				// the others: before and after a change.
				tools = append(tools, gsyncTool(baseTool, base))
			}
		case verifyTool:
			// gsync with a periodic verification running beside the live
			// pushes: their latency while it compares the tree.
			vt := gsyncTool(verifyTool, bin)
			command := vt.command
			vt.command = func(pe *peers, src string, tg target) (*exec.Cmd, error) {
				cmd, err := command(pe, src, tg)
				if err == nil {
					cmd.Args = append(cmd.Args[:1], append([]string{"--verify-every", "2s"}, cmd.Args[1:]...)...)
				}
				return cmd, err
			}
			tools = append(tools, vt)
		case "lsyncd":
			p, err := exec.LookPath("lsyncd")
			if err != nil {
				notes = append(notes, "lsyncd is not installed (Debian: apt-get install lsyncd rsync): its column is empty")
				continue
			}
			tools = append(tools, lsyncdTool(p))
		default:
			b.Fatalf("BENCH_TOOLS: unknown tool %q (gsync, %s, lsyncd)", name, verifyTool)
		}
	}
	if _, err := exec.LookPath("rsync"); err != nil {
		b.Skip("rsync is not installed (apt-get install rsync): no daemon to push to; skipping the comparison")
	}
	work, err := workDir()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(work) })
	r0 := filepath.Dir(work)
	notes = append(notes, "trees in "+r0+" (BENCH_TMPDIR)")
	pe := &peers{work: work}
	var mods []integration.Module
	for _, m := range []string{"startup", "idle", "watch-scale", "live-gsync", "live-lsyncd", "live-" + baseTool, "live-" + verifyTool} {
		mods = append(mods, integration.Module{Name: m, Path: filepath.Join(work, "dst-"+m)})
	}
	pe.daemon = integration.StartRsyncDaemon(b, integration.Config{Modules: mods})
	if _, err := os.Stat("/usr/sbin/sshd"); err == nil && os.Geteuid() == 0 {
		var note string
		pe.sshd, pe.sshOwner, note, err = startSSHD(b, work)
		if err != nil {
			b.Fatal(err)
		}
		notes = append(notes, note)
	} else {
		notes = append(notes, "sshd cannot run here (needs /usr/sbin/sshd and root): ssh scenarios skipped")
	}
	r := &report{cfg: cfg, notes: notes}
	ctx := context.Background()
	for _, sc := range cfg.scenarios {
		start := time.Now()
		var err error
		switch sc {
		case "startup":
			err = r.startup(ctx, b, pe, tools)
		case "idle":
			err = r.idleCPU(ctx, b, pe, tools)
		case "watch-scale":
			err = r.watchScale(ctx, b, pe, tools)
		case "latency", "burst", "rename":
			if sc != cfg.scenarios[slices.IndexFunc(cfg.scenarios, isLive)] {
				continue // measured together with the first of them
			}
			sc = "latency, burst and rename"
			err = r.live(ctx, b, pe, tools)
		default:
			err = fmt.Errorf("BENCH_SCENARIOS: unknown scenario %q", sc)
		}
		if err != nil {
			b.Fatalf("scenario %s: %v", sc, err)
		}
		b.Logf("scenario %s done in %v", sc, time.Since(start).Round(time.Second))
	}
	text := r.render(bin)
	fmt.Println(text)
	name := "scale-" + time.Now().UTC().Format("2006-01-02")
	if cfg.scale != 1 {
		name += "-s" + strconv.FormatFloat(cfg.scale, 'g', -1, 64)
	}
	if v := os.Getenv("BENCH_RESULTS"); v != "" {
		name = strings.TrimSuffix(filepath.Base(v), ".md")
	}
	if err := os.MkdirAll("results", 0o755); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join("results", name+".md")
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	fmt.Println("written to bench/" + out)
}

// workDir makes the directory for the trees: below BENCH_TMPDIR, else
// /dev/shm when it is usable (a tmpfs: creating and removing a million
// files takes seconds there, minutes on a busy disk), else the system's
// temporary directory.
func workDir() (string, error) {
	root := os.Getenv("BENCH_TMPDIR")
	if root == "" {
		root = os.TempDir()
		var st syscall.Statfs_t
		if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Ffree > 3_000_000 && st.Bavail*uint64(st.Bsize) > 8<<30 {
			root = "/dev/shm"
		}
	}
	dir, err := os.MkdirTemp(root, "gsync-bench-")
	if err != nil {
		return "", fmt.Errorf("create bench directory: %w", err)
	}
	return dir, nil
}

// rsyncTool names C rsync pushing alone in the results.
const rsyncTool = "rsync -a"

// rsyncPush runs C rsync -a from src to url (the same module the tools
// push to, already identical: a no-op sync) and returns its wall time and
// its peak RSS in KiB: the client is rsync's sender.
func rsyncPush(ctx context.Context, src, url string) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, "rsync", "-a", src+"/", url+"/")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("rsync -a %s %s: %w: %s", src, url, err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, fmt.Errorf("rsync -a: no resource usage")
	}
	return took, ru.Maxrss, nil
}

// baseTool names the build of BENCH_GSYNC_BASE in the results.
const baseTool = "gsync-base"

func isLive(s string) bool { return s == "latency" || s == "burst" || s == "rename" }

func (r *report) wants(sc string) bool { return slices.Contains(r.cfg.scenarios, sc) }

// run starts tl on src → tg and waits for its startup sync.
func run(pe *peers, tl tool, src string, tg target) (p *proc, watched, synced time.Time, err error) {
	cmd, err := tl.command(pe, src, tg)
	if err != nil {
		return nil, watched, synced, err
	}
	p, err = startProc(tl.name, cmd)
	if err != nil {
		return nil, watched, synced, err
	}
	w, s := p.expect(tl.watched), p.expect(tl.synced)
	if watched, err = p.wait(w, "watches set up", 15*time.Minute); err == nil {
		synced, err = p.wait(s, "startup sync done", 30*time.Minute)
	}
	if err != nil {
		p.stop()
		return nil, watched, synced, err
	}
	return p, watched, synced, nil
}

// startup: watch setup, no-op initial sync against an identical target,
// peak and steady RSS.
func (r *report) startup(ctx context.Context, b *testing.B, pe *peers, tools []tool) error {
	src := filepath.Join(pe.work, "src-startup")
	dst := filepath.Join(pe.work, "dst-startup")
	t0 := time.Now()
	size, err := makeTree([]string{src, dst}, r.cfg.n(100_000), 5, 0)
	if err != nil {
		return err
	}
	b.Logf("startup tree: %d dirs, %d files (and an identical copy) in %v", size.dirs, size.files, time.Since(t0).Round(time.Second))
	sc := fmt.Sprintf("startup, %s dirs / %s files", thousands(size.dirs), thousands(size.files))
	if slices.Contains(r.cfg.tools, "gsync") {
		perDir, took, err := watcherState(ctx, src)
		if err != nil {
			return err
		}
		r.add(sc, "watcher state per watched dir, in-process (bytes)", "gsync", perDir)
		r.add(sc, "watcher.New alone, in-process (s)", "gsync", took.Seconds())
	}
	for n := range r.cfg.runs {
		order := slices.Clone(tools)
		if n%2 == 1 { // alternate, as inTurn does
			slices.Reverse(order)
		}
		for _, tl := range order {
			p, watched, synced, rss, peak, err := r.runSettled(ctx, pe, tl, src, "startup")
			if err != nil {
				return err
			}
			setup := watched.Sub(p.started).Seconds()
			r.add(sc, "watch setup (s)", tl.name, setup)
			r.add(sc, "watch setup per 100,000 dirs (s)", tl.name, setup*100_000/float64(size.dirs))
			r.add(sc, "initial no-op sync (s)", tl.name, synced.Sub(watched).Seconds())
			r.add(sc, "peak RSS (MB)", tl.name, float64(peak)/1024)
			r.add(sc, fmt.Sprintf("steady RSS %d s after sync (MB)", r.cfg.settle), tl.name, float64(rss)/1024)
			r.add(sc, "steady RSS per dir (bytes)", tl.name, float64(rss)*1024/float64(size.dirs))
		}
		if slices.Contains(r.cfg.tools, "gsync") {
			took, peak, err := rsyncPush(ctx, src, pe.daemon.URL("startup"))
			if err != nil {
				return err
			}
			r.add(sc, "initial no-op sync (s)", rsyncTool, took.Seconds())
			r.add(sc, "peak RSS (MB)", rsyncTool, float64(peak)/1024)
		}
		for _, tl := range tools {
			if tl.name != "gsync" && tl.name != baseTool {
				continue
			}
			took, catchUp, err := restartWithIndex(pe, tl, src, filepath.Join(pe.work, "state-startup-"+tl.name), n)
			if err != nil {
				return err
			}
			r.add(sc, "restart with --state-dir, 10 files changed: start to converged (s)", tl.name, took.Seconds())
			// Measured as the no-op sync above is: from the watches set.
			r.add(sc, "restart with --state-dir, 10 files changed: watches set to converged (s)", tl.name, catchUp.Seconds())
		}
	}
	return os.RemoveAll(src)
}

// runSettled runs tl on src to module until its startup sync is done,
// lets it settle for BENCH_SETTLE_SECONDS, reads its RSS and peak RSS
// (KiB) and stops it.
func (r *report) runSettled(ctx context.Context, pe *peers, tl tool, src, module string) (p *proc, watched, synced time.Time, rss, peak int64, err error) {
	p, watched, synced, err = run(pe, tl, src, target{module: module})
	if err != nil {
		return nil, watched, synced, 0, 0, err
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Duration(r.cfg.settle) * time.Second):
	}
	rss, peak, err = memKB(p.pid())
	if serr := p.stop(); err == nil {
		err = serr
	}
	return p, watched, synced, rss, peak, err
}

// restartWithIndex starts gsync with --state-dir on src (the first run
// also saves the index), stops it, changes 10 files, and returns how
// long the restart took to the end of its catch-up batch: from its start,
// and from its watches being set (as the no-op sync is measured).
func restartWithIndex(pe *peers, tl tool, src, stateDir string, run int) (took, catchUp time.Duration, err error) {
	withIndex := tl
	withIndex.command = func(pe *peers, src string, tg target) (*exec.Cmd, error) {
		cmd, err := tl.command(pe, src, tg)
		if err == nil {
			cmd.Args = append(cmd.Args[:1], append([]string{"--state-dir", stateDir}, cmd.Args[1:]...)...)
		}
		return cmd, err
	}
	if _, err := os.Stat(stateDir); err != nil { // the first time: the index
		p, _, _, err := run_(pe, withIndex, src)
		if err != nil {
			return 0, 0, err
		}
		if err := p.stop(); err != nil {
			return 0, 0, err
		}
	}
	changed := 0
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if err := os.WriteFile(p, []byte(fmt.Sprintf("changed in run %d\n", run)), 0o644); err != nil {
			return fmt.Errorf("change %s: %w", p, err)
		}
		if changed++; changed == 10 {
			return filepath.SkipAll
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	withIndex.synced = `"msg":"batch done"`
	p, watched, synced, err := run_(pe, withIndex, src)
	if err != nil {
		return 0, 0, err
	}
	if err = p.stop(); err != nil {
		return 0, 0, err
	}
	if !strings.Contains(p.output(), "restart with a tree index") {
		return 0, 0, fmt.Errorf("gsync did not use its tree index:\n%s", p.output())
	}
	return synced.Sub(p.started), synced.Sub(watched), nil
}

// run_ is run to the startup module.
func run_(pe *peers, tl tool, src string) (*proc, time.Time, time.Time, error) {
	return run(pe, tl, src, target{module: "startup"})
}

// watcherState watches src in this process and returns the heap the
// watcher holds per watched directory (runtime.MemStats after GC).
func watcherState(ctx context.Context, src string) (float64, time.Duration, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	w, err := watcher.New(ctx, watcher.Options{Root: src, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, 0, err
	}
	took := time.Since(t0)
	defer w.Close()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(w.Watches()), took, nil
}

// idleCPU: CPU time and wakeups over the idle window, watching a tree of
// 50,000 directories.
func (r *report) idleCPU(ctx context.Context, b *testing.B, pe *peers, tools []tool) error {
	src := filepath.Join(pe.work, "src-idle")
	dst := filepath.Join(pe.work, "dst-idle")
	size, err := makeTree([]string{src, dst}, r.cfg.n(50_000), 0, 0)
	if err != nil {
		return err
	}
	sc := fmt.Sprintf("idle %d s, %s watched dirs", r.cfg.idle, thousands(size.dirs))
	for _, tl := range tools {
		p, _, _, err := run(pe, tl, src, target{module: "idle"})
		if err != nil {
			return err
		}
		time.Sleep(5 * time.Second)
		cpu0, err0 := cpuSeconds(p.pid())
		cs0, err1 := ctxSwitches(p.pid())
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(r.cfg.idle) * time.Second):
		}
		cpu1, err2 := cpuSeconds(p.pid())
		cs1, err3 := ctxSwitches(p.pid())
		rss, _, err4 := memKB(p.pid())
		anon, file, err5 := rssPartsKB(p.pid())
		serr := p.stop()
		for _, e := range []error{err0, err1, err2, err3, err4, err5, serr} {
			if e != nil {
				return e
			}
		}
		r.add(sc, "CPU (s)", tl.name, cpu1-cpu0)
		r.add(sc, "wakeups (context switches)", tl.name, float64(cs1-cs0))
		r.add(sc, "RSS at the end of the window (MB)", tl.name, float64(rss)/1024)
		r.add(sc, "RSS per watched dir (bytes)", tl.name, float64(rss)*1024/float64(size.dirs))
		r.add(sc, "of that RSS: anonymous, the process's own (MB)", tl.name, float64(anon)/1024)
		r.add(sc, "of that RSS: file-backed, program and libraries (MB)", tl.name, float64(file)/1024)
	}
	return nil
}

// watchScale: a tree of a million directories (BENCH_SCALE scales it), no
// files, pushed to a daemon module holding an identical copy: the time
// from the start to the watches set, the no-op startup sync, and RSS once
// the sync has settled. Not in the default scenarios: the two trees cost
// about 2 GB of kernel memory and fs.inotify.max_user_watches must be
// above the count.
func (r *report) watchScale(ctx context.Context, b *testing.B, pe *peers, tools []tool) error {
	dirs := r.cfg.n(1_000_000)
	if limit, err := watchLimit(); err != nil || limit < dirs+1000 {
		return fmt.Errorf("watch-scale needs fs.inotify.max_user_watches > %d (sysctl -w fs.inotify.max_user_watches=%d): have %d (%v)",
			dirs+1000, dirs+100_000, limit, err)
	}
	src := filepath.Join(pe.work, "src-watch-scale")
	dst := filepath.Join(pe.work, "dst-watch-scale")
	t0 := time.Now()
	size, err := makeTree([]string{src, dst}, dirs, 0, 0)
	if err != nil {
		return err
	}
	b.Logf("watch-scale tree: %d dirs (and an identical copy) in %v", size.dirs, time.Since(t0).Round(time.Second))
	sc := fmt.Sprintf("watch scale, %s dirs", thousands(size.dirs))
	for n := range r.cfg.runs {
		order := slices.Clone(tools)
		if n%2 == 1 {
			slices.Reverse(order)
		}
		for _, tl := range order {
			p, watched, synced, rss, peak, err := r.runSettled(ctx, pe, tl, src, "watch-scale")
			if err != nil {
				return err
			}
			r.add(sc, "start to watches set (s)", tl.name, watched.Sub(p.started).Seconds())
			r.add(sc, "initial no-op sync (s)", tl.name, synced.Sub(watched).Seconds())
			r.add(sc, "peak RSS (MB)", tl.name, float64(peak)/1024)
			r.add(sc, fmt.Sprintf("steady RSS %d s after sync (MB)", r.cfg.settle), tl.name, float64(rss)/1024)
			r.add(sc, "steady RSS per dir (bytes)", tl.name, float64(rss)*1024/float64(size.dirs))
		}
	}
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("remove watch-scale tree: %w", err)
	}
	if err := os.RemoveAll(src); err != nil {
		return fmt.Errorf("remove watch-scale tree: %w", err)
	}
	return nil
}

// watchLimit reads fs.inotify.max_user_watches.
func watchLimit() (int, error) {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_watches")
	if err != nil {
		return 0, fmt.Errorf("read watch limit: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read watch limit: %w", err)
	}
	return n, nil
}

// liveTool is one tool mirroring its own live tree.
type liveTool struct {
	name     string
	p        *proc
	src, dst string
}

// inTurn returns the tools in the order of run: alternating, so that the
// load of the shared machine falls on both alike.
func inTurn(ts []*liveTool, run int) []*liveTool {
	out := slices.Clone(ts)
	if run%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

// live runs latency, burst and rename per target kind. Every tool mirrors
// its own tree and all run at once, idle while another one is measured;
// the measurements alternate between the tools.
func (r *report) live(ctx context.Context, b *testing.B, pe *peers, tools []tool) error {
	renFiles := r.cfg.n(10_000)
	for _, ssh := range []bool{false, true} {
		if ssh && pe.sshd == nil {
			continue
		}
		kind := "daemon"
		if ssh {
			kind = "ssh"
		}
		var lts []*liveTool
		stopAll := func() error {
			var first error
			for _, lt := range lts {
				if err := lt.p.stop(); err != nil && first == nil {
					first = err
				}
			}
			return first
		}
		for _, tl := range tools {
			src := filepath.Join(pe.work, "src-live-"+tl.name)
			tg := target{ssh: ssh, module: "live-" + tl.name, dir: filepath.Join(pe.work, "dst-live-"+tl.name)}
			if ssh {
				tg.dir = filepath.Join(pe.work, "dst-ssh-"+tl.name)
			}
			for _, d := range []string{src, tg.dir} {
				if err := os.RemoveAll(d); err != nil {
					stopAll()
					return err
				}
			}
			err := os.MkdirAll(filepath.Join(src, "lat"), 0o755)
			if err == nil {
				err = os.MkdirAll(tg.dir, 0o755)
			}
			if err == nil {
				_, err = makeTree([]string{filepath.Join(src, "ren", "a")}, max(2, renFiles/100+1), 100, 100)
			}
			if err == nil && ssh {
				err = pe.sshOwner.prepare(src, tg.dir)
			}
			var p *proc
			if err == nil {
				p, _, _, err = run(pe, tl, src, tg)
			}
			if err != nil {
				stopAll()
				return err
			}
			lts = append(lts, &liveTool{name: tl.name, p: p, src: src, dst: tg.dir})
		}
		err := r.liveRuns(ctx, kind, lts)
		if serr := stopAll(); err == nil {
			err = serr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *report) liveRuns(ctx context.Context, kind string, lts []*liveTool) error {
	if r.wants("latency") {
		lat := map[string][]float64{}
		// Latency tails follow the machine's load: the run says what it
		// was.
		load0 := loadAvg()
		for i := range r.cfg.writes {
			for _, lt := range inTurn(lts, i) {
				ms, err := latencyOnce(ctx, lt, i)
				if err != nil {
					return fmt.Errorf("%s %s latency: %w", lt.name, kind, err)
				}
				lat[lt.name] = append(lat[lt.name], ms)
				time.Sleep(100 * time.Millisecond)
			}
		}
		r.notes = append(r.notes, fmt.Sprintf("load average (1 min) during the %s latency run: %s at its start, %s at its end (%d cores)",
			kind, load0, loadAvg(), runtime.NumCPU()))
		for _, lt := range lts {
			sc := fmt.Sprintf("latency, %s target, %d writes", kind, r.cfg.writes)
			r.add(sc, "write to arrival p50 (ms)", lt.name, percentile(lat[lt.name], 50))
			r.add(sc, "write to arrival p95 (ms)", lt.name, percentile(lat[lt.name], 95))
		}
	}
	if r.wants("burst") && kind == "daemon" {
		dirs, per := r.cfg.n(1000), 10
		sc := fmt.Sprintf("burst, %s files in %s dirs, daemon target", thousands(dirs*per), thousands(dirs))
		for run := range r.cfg.runs {
			for _, lt := range inTurn(lts, run) {
				if err := r.burstOnce(ctx, sc, lt, run, dirs, per); err != nil {
					return fmt.Errorf("%s burst: %w", lt.name, err)
				}
			}
		}
	}
	if r.wants("rename") {
		for run := range r.cfg.runs {
			for _, lt := range inTurn(lts, run) {
				if err := r.renameOnce(ctx, kind, lt, run); err != nil {
					return fmt.Errorf("%s %s rename: %w", lt.name, kind, err)
				}
			}
		}
	}
	return nil
}

// latencyOnce writes one new file and returns the milliseconds until it
// is on the target with its full size.
func latencyOnce(ctx context.Context, lt *liveTool, i int) (float64, error) {
	name := fmt.Sprintf("lat/f%03d", i)
	content := []byte(fmt.Sprintf("write %d of the latency test\n", i))
	t0 := time.Now()
	if err := os.WriteFile(filepath.Join(lt.src, name), content, 0o644); err != nil {
		return 0, err
	}
	at, err := poll(ctx, time.Millisecond, time.Minute, func() bool {
		fi, err := os.Stat(filepath.Join(lt.dst, name))
		return err == nil && fi.Size() == int64(len(content))
	})
	if err != nil {
		return 0, fmt.Errorf("write %d: %w\n%s", i, err, lt.p.output())
	}
	return at.Sub(t0).Seconds() * 1000, nil
}

// burstOnce creates dirs directories of per files as fast as it can and
// measures the time until all are on the target, and the CPU spent.
func (r *report) burstOnce(ctx context.Context, sc string, lt *liveTool, run, dirs, per int) error {
	base := fmt.Sprintf("burst%d", run)
	cpu0, err := cpuSeconds(lt.p.pid())
	if err != nil {
		return err
	}
	t0 := time.Now()
	for d := range dirs {
		dir := filepath.Join(lt.src, base, fmt.Sprintf("d%04d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for f := range per {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", f)), []byte("burst file\n"), 0o644); err != nil {
				return err
			}
		}
	}
	made := time.Since(t0)
	at, err := poll(ctx, 50*time.Millisecond, 10*time.Minute, func() bool {
		return countFiles(filepath.Join(lt.dst, base)) == dirs*per
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, lt.p.output())
	}
	time.Sleep(time.Second) // let lsyncd reap its rsync
	cpu1, err := cpuSeconds(lt.p.pid())
	if err != nil {
		return err
	}
	r.add(sc, "files created in (s)", lt.name, made.Seconds())
	r.add(sc, "time to converge (s)", lt.name, at.Sub(t0).Seconds())
	r.add(sc, "CPU incl. children (s)", lt.name, cpu1-cpu0)
	return nil
}

// renameOnce renames ren/a to ren/b (or back) and measures the time until
// the target has the tree under the new name only, and the CPU spent.
func (r *report) renameOnce(ctx context.Context, kind string, lt *liveTool, run int) error {
	from, to := "a", "b"
	if run%2 == 1 {
		from, to = to, from
	}
	n := countFiles(filepath.Join(lt.src, "ren", from))
	cpu0, err := cpuSeconds(lt.p.pid())
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := os.Rename(filepath.Join(lt.src, "ren", from), filepath.Join(lt.src, "ren", to)); err != nil {
		return err
	}
	at, err := poll(ctx, 20*time.Millisecond, 10*time.Minute, func() bool {
		return !exists(filepath.Join(lt.dst, "ren", from)) && exists(filepath.Join(lt.dst, "ren", to)) &&
			countFiles(filepath.Join(lt.dst, "ren", to)) == n
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, lt.p.output())
	}
	time.Sleep(time.Second)
	cpu1, err := cpuSeconds(lt.p.pid())
	if err != nil {
		return err
	}
	sc := fmt.Sprintf("rename of a %s-file directory, %s target", thousands(n), kind)
	r.add(sc, "time to converge (s)", lt.name, at.Sub(t0).Seconds())
	r.add(sc, "CPU incl. children (s)", lt.name, cpu1-cpu0)
	return nil
}

func percentile(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// loadAvg returns the 1-minute load average of /proc/loadavg ("?"
// elsewhere).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// machine describes this machine for the results file.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(l[strings.IndexByte(l, ':')+1:])
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d cores (%s), %s, %s", runtime.NumCPU(), cpu, kernel, runtime.Version())
}

// version runs a command and returns the first line of its output.
func version(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return name + ": not available"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
