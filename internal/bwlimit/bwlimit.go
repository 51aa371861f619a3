// Package bwlimit limits the rate of a byte stream the way rsync's
// --bwlimit does (io.c:sleep_for_bwlimit): writes are cut into pieces of
// at most an eighth of a second's worth (options.c: bwlimit_writemax),
// and after each piece the writer sleeps for as long as the bytes it
// wrote since the last sleep are ahead of the rate, once that is at least
// a tenth of a second.
package bwlimit

import (
	"io"
	"time"
)

// usecPerKiB is rsync's ONE_SEC/1024, in integer microseconds, as
// io.c:sleep_for_bwlimit computes with it.
const usecPerKiB = 1000000 / 1024

// Limiter holds the token bucket of one stream (rsync keeps one per
// process). A Limiter is used by one goroutine at a time.
type Limiter struct {
	kib      int64 // KiB per second
	writeMax int
	total    int64 // bytes written ahead of the rate
	prior    time.Time
	now      func() time.Time
	sleep    func(time.Duration)
}

// New returns a limiter of kib KiB per second (rsync's bwlimit value:
// --bwlimit rounded to whole KiB); nil when kib <= 0 (no limit). Its
// methods accept a nil receiver.
func New(kib int) *Limiter {
	if kib <= 0 {
		return nil
	}
	// options.c: bwlimit_writemax = bwlimit * 128, at least 512.
	return &Limiter{kib: int64(kib), writeMax: max(kib*128, 512), now: time.Now, sleep: time.Sleep}
}

// MaxWrite is the largest piece one write may carry (0: no limit).
func (l *Limiter) MaxWrite() int {
	if l == nil {
		return 0
	}
	return l.writeMax
}

// Wrote accounts for n bytes written and sleeps when they are ahead of
// the rate (io.c:sleep_for_bwlimit).
func (l *Limiter) Wrote(n int) {
	if l == nil {
		return
	}
	l.total += int64(n)
	start := l.now()
	if !l.prior.IsZero() {
		elapsed := start.Sub(l.prior).Microseconds()
		l.total -= elapsed * l.kib / usecPerKiB
		if l.total < 0 {
			l.total = 0
		}
	}
	sleepUsec := l.total * usecPerKiB / l.kib
	if sleepUsec < 100000 {
		l.prior = start
		return
	}
	l.sleep(time.Duration(sleepUsec) * time.Microsecond)
	l.prior = l.now()
	elapsed := l.prior.Sub(start).Microseconds()
	l.total = (sleepUsec - elapsed) * l.kib / usecPerKiB
}

// Writer returns w limited by l (w itself when l is nil).
func (l *Limiter) Writer(w io.Writer) io.Writer {
	if l == nil {
		return w
	}
	return &writer{w: w, l: l}
}

// Reader returns r limited by l (r itself when l is nil): each read
// returns at most MaxWrite bytes and is accounted as written, for a
// copy whose writer cannot be wrapped.
func (l *Limiter) Reader(r io.Reader) io.Reader {
	if l == nil {
		return r
	}
	return &reader{r: r, l: l}
}

type writer struct {
	w io.Writer
	l *Limiter
}

func (w *writer) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		piece := p[done:min(len(p), done+w.l.writeMax)]
		n, err := w.w.Write(piece)
		done += n
		if n > 0 {
			w.l.Wrote(n)
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

type reader struct {
	r io.Reader
	l *Limiter
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) > r.l.writeMax {
		p = p[:r.l.writeMax]
	}
	n, err := r.r.Read(p)
	if n > 0 {
		r.l.Wrote(n)
	}
	return n, err
}
