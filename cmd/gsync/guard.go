package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/gsync/gsync/transport"
)

// The safety guards: a source root that disappeared, was unmounted or is
// empty must not wipe the mirror, and --max-delete bounds what one batch
// may delete.

// checkSourceRoot fails when the source root is gone or is no longer the
// file system it was at startup (unmounted: the mount point shows the
// directory below it). Both are fatal: gsync stops with the target as it
// is.
func (m *mirror) checkSourceRoot() error {
	dev, err := deviceOf(m.src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return transport.Fatal(fmt.Errorf("source %s disappeared; stopping with the target unchanged (recreate or remount it, then start gsync again)", m.src))
		}
		return transport.Fatal(fmt.Errorf("check source %s: %w", m.src, err))
	}
	if dev != m.srcDev {
		return transport.Fatal(fmt.Errorf("source %s is no longer on the file system it was on at startup (unmounted?); stopping with the target unchanged (mount it again, then start gsync again)", m.src))
	}
	return nil
}

// sourceEmpty reports whether the source root holds nothing that would be
// mirrored (no entries, or only excluded ones).
func (m *mirror) sourceEmpty() (bool, error) {
	f, err := os.Open(m.src)
	if err != nil {
		return false, fmt.Errorf("read source %s: %w", m.src, err)
	}
	defer f.Close()
	for {
		ents, err := f.ReadDir(64)
		for _, e := range ents {
			if !m.rules.Excluded(e.Name(), e.IsDir()) {
				return false, nil
			}
		}
		if err != nil { // io.EOF: read it all
			return true, nil
		}
	}
}

// fullSync runs a full sync of t behind the guards. With an empty source
// (and no --allow-empty-source) it does nothing: a full sync would delete
// the whole mirror, which is what an unmounted or wrongly emptied source
// looks like.
func (m *mirror) fullSync(ctx context.Context, t *targetRun) (transport.Stats, error) {
	if err := m.checkSourceRoot(); err != nil {
		return transport.Stats{}, err
	}
	if !m.cfg.allowEmptySource && m.cfg.deleteMode.Full() {
		empty, err := m.sourceEmpty()
		if err != nil {
			return transport.Stats{}, transport.Transient(err)
		}
		if empty {
			t.log.Warn("source is empty: full sync skipped so that the target is not wiped; files added to the source are mirrored as usual (use --allow-empty-source to mirror an empty source)",
				"source", m.src)
			return transport.Stats{}, nil
		}
	}
	return t.tgt.FullSync(ctx)
}

// pushBatch pushes one batch of t behind the guards: deletes are held
// back when the source root is empty (unless --allow-empty-source) or
// when there are more than --max-delete of them. Held-back deletes are
// not retried; a later full sync (SIGHUP) applies them once the source is
// as it should be.
func (m *mirror) pushBatch(ctx context.Context, t *targetRun, changes []transport.Change) (transport.Stats, error) {
	if err := m.checkSourceRoot(); err != nil {
		return transport.Stats{}, err
	}
	deletes := 0
	for _, c := range changes {
		if c.Kind == transport.Delete {
			deletes++
		}
	}
	if deletes > 0 {
		reason, empty := "", false
		if max := m.cfg.maxDelete; max > 0 && deletes > max {
			reason = fmt.Sprintf("the batch would delete %d paths, more than --max-delete %d", deletes, max)
		} else if !m.cfg.allowEmptySource {
			var err error
			if empty, err = m.sourceEmpty(); err != nil {
				return transport.Stats{}, transport.Transient(err)
			}
			if empty {
				reason = "the source is empty (unmounted or wiped?)"
			}
		}
		if reason != "" {
			t.log.Error("deletes held back: "+reason+"; nothing was deleted on the target (check the source, then send SIGHUP for a full sync, or raise --max-delete / use --allow-empty-source)",
				"source", m.src, "deletes", deletes)
			kept := changes[:0:0]
			if !empty { // with an empty source every listed path is gone: keep none
				for _, c := range changes {
					if c.Kind != transport.Delete {
						kept = append(kept, c)
					}
				}
			}
			changes = kept
			if len(changes) == 0 {
				return transport.Stats{}, nil
			}
		}
	}
	return t.tgt.Push(ctx, changes)
}
