package mirror

import (
	"context"
	"fmt"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/rsyncproto"
	"github.com/gsync/gsync/transport"
)

// VerifyOptions are the options of a verify (gsync verify,
// --verify-every).
type VerifyOptions struct {
	// Checksum compares file content, not size and mtime (rsync -c).
	Checksum bool
	// Repair makes a target that differs equal: a full sync (behind
	// the same guards as any full sync), then a push of the files whose
	// content differs with equal size and mtime (found with Checksum
	// only; a full sync's quick check skips them), then a second verify.
	Repair bool
}

// VerifyReport is the verify of one target.
type VerifyReport struct {
	Source string
	Target string // the target as given
	Name   string // the sync's name ("": none)
	// Items are the differences found (see transport.VerifyResult);
	// Sending tells how to render them (rsyncproto.Item.Line).
	Items   []rsyncproto.Item
	Sending bool
	// Unchecked names attributes the target keeps that the compare did
	// not look at.
	Unchecked []string
	// Repaired: Repair ran; Remaining is what a verify after it still
	// found (empty: the target is equal now).
	Repaired  bool
	Remaining []rsyncproto.Item
	Err       error
}

// Differs reports whether the target differed from the source.
func (r VerifyReport) Differs() bool { return len(r.Items) > 0 }

// Verify compares every target of cfg with its source, one after the
// other, without changing them unless o.Repair. The error is a
// configuration error (ConfigError) or the setup's; a failed compare of
// one target is in its report.
func Verify(ctx context.Context, cfg Config, o VerifyOptions) ([]VerifyReport, error) {
	cfg.VerifyEvery = 0 // no twin connections
	if !o.Repair {
		cfg.DryRun = true // a missing remote directory is not created
	}
	m := New(cfg)
	if err := m.setup(); err != nil {
		m.close()
		return nil, err
	}
	defer m.close()
	out := make([]VerifyReport, 0, len(m.targets))
	for _, t := range m.targets {
		out = append(out, m.verifyTarget(ctx, t, o))
	}
	return out, nil
}

// verifyTarget compares t with the source and, with o.Repair, repairs it.
func (m *Mirror) verifyTarget(ctx context.Context, t *targetRun, o VerifyOptions) VerifyReport {
	rep := VerifyReport{Source: m.src, Target: t.spec, Name: m.cfg.Name}
	v, ok := t.tgt.(transport.Verifier)
	if !ok {
		rep.Err = fmt.Errorf("verify %s: this kind of target cannot be compared", t.spec)
		return rep
	}
	vo := transport.VerifyOptions{Checksum: o.Checksum}
	res, err := v.Verify(ctx, vo)
	rep.Items, rep.Sending, rep.Unchecked = res.Items, res.Sending, res.Unchecked
	if err != nil || !o.Repair || len(res.Items) == 0 {
		rep.Err = err
		return rep
	}
	rep.Repaired = true
	if err := m.repair(ctx, t, res.Items); err != nil {
		rep.Err = fmt.Errorf("repair %s: %w", t.spec, err)
		return rep
	}
	after, err := v.Verify(ctx, vo)
	rep.Remaining, rep.Err = after.Items, err
	return rep
}

// repair makes t equal to the source after a verify found items: a full
// sync, then the files whose content alone differs (ItemReportChange on
// a transfer) pushed as a batch, which resends them whatever their size
// and mtime.
func (m *Mirror) repair(ctx context.Context, t *targetRun, items []rsyncproto.Item) error {
	st, err := m.fullSync(ctx, t)
	if err != nil {
		return err
	}
	var resend []transport.Change
	for _, it := range items {
		if !it.Deleted && it.Flags&rsyncproto.ItemTransfer != 0 && it.Flags&rsyncproto.ItemReportChange != 0 {
			resend = append(resend, transport.Change{Op: change.Modify, Path: it.Name})
		}
	}
	if len(resend) > 0 {
		bst, err := m.pushBatch(ctx, t, resend)
		if err != nil {
			return err
		}
		st.Failed = append(st.Failed, bst.Failed...)
	}
	if len(st.Failed) > 0 {
		return fmt.Errorf("%d path(s) not mirrored, first: %w", len(st.Failed), st.Failed[0])
	}
	return nil
}
