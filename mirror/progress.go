package mirror

import (
	"context"
	"sync/atomic"
	"time"
)

// progressEvery is how often a full sync in flight logs its progress.
const progressEvery = 10 * time.Second

// syncProgress counts what the push in flight of a target has done so
// far; the target's transport updates it from its own goroutine.
type syncProgress struct {
	listed, files, bytes atomic.Int64
}

func (p *syncProgress) reset() {
	p.listed.Store(0)
	p.files.Store(0)
	p.bytes.Store(0)
}

// Progress is how far the full sync in flight of a target got.
type Progress struct {
	Since  time.Time // when it started; zero: no full sync in flight
	Listed int64     // entries listed (rsync targets: sent in file lists)
	Files  int64     // files whose data was sent
	Bytes  int64     // bytes of file data sent
}

// snapshot is p as a Progress of a sync that started at since.
func (p *syncProgress) snapshot(since time.Time) Progress {
	return Progress{Since: since, Listed: p.listed.Load(), Files: p.files.Load(), Bytes: p.bytes.Load()}
}

// reportProgress logs t's full sync progress every progressEvery and
// publishes it, until ctx is done (the sync ended).
func (m *Mirror) reportProgress(ctx context.Context, t *targetRun, since time.Time) {
	for {
		c, stop := m.clock.NewTimer(progressEvery)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-c:
		}
		p := t.prog.snapshot(since)
		t.st.setProgress(p)
		elapsed := m.clock.Now().Sub(since)
		rate := 0.0
		if s := elapsed.Seconds(); s > 0 {
			rate = float64(p.Bytes) / s / 1e6
		}
		t.log.Info("full sync in progress", "listed", p.Listed, "files_sent", p.Files,
			"bytes_sent", p.Bytes, "rate_mb_s", float64(int(rate*10))/10, "elapsed", elapsed.Round(time.Second).String())
	}
}
