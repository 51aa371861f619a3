package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/gsync/gsync/transport"
)

// CheckReport is what gsync check found for one target of a sync: the
// settings the sync would run with, and the target's check.
type CheckReport struct {
	Name   string // the sync's name ("": none)
	Source string // resolved
	Target string // as given
	// The sync's settings as resolved (exclude files read).
	Delay       time.Duration
	MaxDelays   int
	Delete      transport.DeleteMode
	Excludes    []string
	Filters     []string
	Hooks       []string
	VerifyEvery time.Duration

	Result transport.CheckResult
	Err    error
}

// Check validates cfg and checks each target as gsync would use it,
// without changing anything: the source and the rules are read, each
// target is opened in dry-run mode (a missing remote directory is not
// created; a missing local target directory is, as NewLocal does) and
// asked to check itself (transport.Checker). The error is a
// configuration error (the first); a failed target check is in its
// report.
func Check(ctx context.Context, cfg Config) ([]CheckReport, error) {
	cfg.DryRun = true
	verifyEvery := cfg.VerifyEvery
	cfg.VerifyEvery = 0 // no twin connections
	m := New(cfg)
	if err := m.setup(); err != nil {
		m.close()
		return nil, err
	}
	defer m.close()
	excl, filt := m.rules.Patterns()
	var hooks []string
	for _, h := range cfg.Hooks {
		hooks = append(hooks, h.String())
	}
	out := make([]CheckReport, 0, len(m.targets))
	for _, t := range m.targets {
		r := CheckReport{Name: cfg.Name, Source: m.src, Target: t.spec, Delay: cfg.Delay, MaxDelays: cfg.MaxDelays,
			Delete: cfg.Delete, Excludes: excl, Filters: filt, Hooks: hooks, VerifyEvery: verifyEvery}
		c, ok := t.tgt.(transport.Checker)
		if !ok {
			r.Err = fmt.Errorf("check %s: this kind of target cannot be checked", t.spec)
		} else {
			r.Result, r.Err = c.Check(ctx)
		}
		out = append(out, r)
	}
	return out, nil
}
