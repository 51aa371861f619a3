package mirror

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/internal/change"
)

// Explanation is what gsync explain says about one path of a source.
type Explanation struct {
	Source string
	Path   string // relative to Source
	Type   string // file, dir, symlink, other; "" when it does not exist
	// Decision is the rule that decides the path (Decided false: none,
	// it is mirrored); Origin says where that rule was given ("--exclude",
	// "--filter", "FILE:LINE").
	Decision filter.Decision
	Decided  bool
	Origin   string
	// Protected: a target entry at the path is kept by deletes
	// (filter.Set.Protected: receiver-side rules decide).
	Protected bool
	// Watched: the path's directory (itself, for a directory) is watched.
	Watched bool
	// Targets are the targets as given, with what a change of the path
	// does on each.
	Targets []TargetEffect
}

// TargetEffect is what a change of a path does on one target.
type TargetEffect struct {
	Target  string
	Effects []string
}

// Explain says, for one path below cfg's source (rel, slash-separated,
// or an absolute path inside the source), which rule decides it, whether
// it is watched, and what a change to it does on each target. It opens
// no target.
func Explain(cfg Config, p string) (Explanation, error) {
	m := New(cfg)
	src, err := checkSource(cfg.Source)
	if err != nil {
		return Explanation{}, err
	}
	m.src = src
	if err := m.buildRules(); err != nil {
		return Explanation{}, err
	}
	rel, err := relativeTo(src, p)
	if err != nil {
		return Explanation{}, err
	}
	e := Explanation{Source: src, Path: rel}
	isDir := strings.HasSuffix(p, "/")
	if root, err := beneath.Open(src); err == nil {
		if fi, err := root.Lstat(rel); err == nil {
			e.Type, isDir = change.TypeOf(fi.Mode()), fi.IsDir()
		}
		root.Close()
	}
	e.Decision, e.Decided = m.rules.Decide(rel, isDir)
	e.Protected = m.rules.Protected(rel, isDir)
	if e.Decided {
		e.Origin = m.ruleOrigin(e.Decision)
	}
	dir := rel
	if !isDir {
		dir = path.Dir(rel)
	}
	e.Watched = e.Type != "" && (dir == "." || !m.rules.Excluded(dir, true))
	for _, t := range cfg.Targets {
		eff := m.effects(e, isDir)
		if t.Effects != nil && (!e.Decided || !e.Decision.Excluded) {
			eff = append(t.Effects(rel, isDir), m.scheduled()...)
		}
		e.Targets = append(e.Targets, TargetEffect{Target: t.Spec, Effects: eff})
	}
	return e, nil
}

// effects describes what a change of e's path does on a target.
func (m *Mirror) effects(e Explanation, isDir bool) []string {
	cfg := &m.cfg
	switch {
	case e.Decided && e.Decision.Excluded && e.Protected:
		return []string{"excluded: never sent, and never deleted on the target (an entry there is left alone); full syncs and --verify skip it too"}
	case e.Decided && e.Decision.Excluded && cfg.DeleteExcluded:
		return []string{"excluded, and deleted on the target (--delete-excluded: only receiver-side rules, P, R and the r modifier, keep a target entry): never sent; a delete treats a target entry there as one the source lacks and removes it, as rsync's receiver does"}
	case e.Decided && e.Decision.Excluded:
		return []string{"hidden (a sender-side rule: H, or the s modifier): never sent; a delete treats a target entry there as one the source lacks and removes it, as rsync's receiver does"}
	}
	var out []string
	if e.Protected && e.Path != change.Root {
		out = append(out, "protected (a receiver-side rule: P, or the r modifier): a target entry there is never deleted")
	}
	what := "the file is sent"
	switch {
	case e.Path == change.Root:
		what = "the source directory's own attributes are sent"
	case isDir:
		what = "the directory is created or gets the source's attributes; a new directory is scanned and everything in it sent"
	case e.Type == "symlink":
		what = "the symlink is sent as a link (never followed)"
	}
	if cfg.DryRun {
		out = append(out, "--dry-run: nothing is changed on the target")
	}
	out = append(out, fmt.Sprintf("a change is pushed %s after it was seen (with everything else waiting then; at once when %d changes wait): %s, always, even when size and mtime match",
		durationText(cfg.Delay), cfg.MaxDelays, what))
	switch {
	case cfg.Delete.Running():
		out = append(out, "when it is deleted at the source, it is deleted on the target (--delete "+cfg.Delete.String()+")")
	default:
		out = append(out, "when it is deleted at the source, it stays on the target (--delete "+cfg.Delete.String()+")")
	}
	if cfg.Delete.Full() {
		out = append(out, "a full sync (startup, SIGHUP, overflow) makes it equal by size and mtime, and deletes it on the target when the source lacks it")
	} else {
		out = append(out, "a full sync (startup, SIGHUP, overflow) makes it equal by size and mtime, and deletes nothing")
	}
	if cfg.MaxDelete > 0 {
		out = append(out, fmt.Sprintf("a sync deleting more than %d entries deletes none (--max-delete)", cfg.MaxDelete))
	}
	if len(cfg.Hooks) > 0 {
		hooks := make([]string, len(cfg.Hooks))
		for i, h := range cfg.Hooks {
			hooks[i] = h.String()
		}
		out = append(out, "after the push: "+strings.Join(hooks, "; ")+" (--on-push, its path on stdin)")
	}
	if cfg.VerifyEvery > 0 {
		out = append(out, "compared with the target every "+cfg.VerifyEvery.String()+" (--verify-every)")
	}
	out = append(out, m.scheduled()...)
	if !e.Watched && e.Type != "" {
		out = append(out, "its directory is not watched: changes are only picked up by full syncs")
	}
	return out
}

// scheduled says when scheduled full syncs run (Config.FullSyncAt).
func (m *Mirror) scheduled() []string {
	if m.cfg.FullSyncAt == nil {
		return nil
	}
	return []string{fmt.Sprintf("a full sync also runs at the times of %v (crontab, --full-sync-cron)", m.cfg.FullSyncAt)}
}

func durationText(d time.Duration) string {
	if d == 0 {
		return "at once"
	}
	return d.String()
}

// ruleOrigin says where the rule of d was given.
func (m *Mirror) ruleOrigin(d filter.Decision) string {
	switch {
	case d.Origin != "":
		return d.Origin
	case d.Filter && m.cfg.RulesOrigin != "":
		return m.cfg.RulesOrigin
	case d.Filter:
		return "--filter"
	case d.Index < len(m.excludeOrigins):
		return m.excludeOrigins[d.Index]
	}
	return ""
}

// relativeTo returns p relative to src: p is an absolute path (or one
// relative to the working directory that exists) inside src, or a path
// relative to src.
func relativeTo(src, p string) (string, error) {
	clean := strings.TrimSuffix(p, "/")
	if clean == "" {
		clean = "/"
	}
	if _, err := os.Lstat(clean); filepath.IsAbs(clean) || err == nil {
		abs, err := filepath.Abs(clean)
		if err != nil {
			return "", configErrorf("path %s: %v", p, err)
		}
		if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			abs = filepath.Join(dir, filepath.Base(abs))
		}
		rel, err := filepath.Rel(src, abs)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return filepath.ToSlash(rel), nil
		}
		if filepath.IsAbs(clean) {
			return "", configErrorf("path %s is not inside the source %s", p, src)
		}
	}
	rel := path.Clean(filepath.ToSlash(clean))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", configErrorf("path %s is not inside the source %s", p, src)
	}
	return rel, nil
}

// patternLines returns "FILE:LINE" for each pattern read from the
// exclude file name, in order (the first line, after the previous
// pattern's, that ends with it).
func patternLines(name string, pats []string) []string {
	out := make([]string, len(pats))
	for i := range out {
		out[i] = name
	}
	f, err := os.Open(name)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line, i := 0, 0
	for sc.Scan() && i < len(pats) {
		line++
		if strings.HasSuffix(strings.TrimSpace(sc.Text()), pats[i]) {
			out[i] = fmt.Sprintf("%s:%d", name, line)
			i++
		}
	}
	return out
}
