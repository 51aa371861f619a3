package bwlimit

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock that only sleeping advances, plus what the
// test adds: the limiter's arithmetic without waiting.
type fakeClock struct {
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(d time.Duration) {
	c.t = c.t.Add(d)
	c.slept += d
}

func fake(kib int) (*Limiter, *fakeClock) {
	l := New(kib)
	c := &fakeClock{t: time.Unix(1000, 0)}
	l.now, l.sleep = c.now, c.sleep
	return l, c
}

// TestRate: writing 10 s worth of data at once takes 10 s of sleeping
// (within rsync's rounding: ONE_SEC/1024 is 976 µs, and the last tenth
// of a second is never slept), in pieces of an eighth of a second.
func TestRate(t *testing.T) {
	for _, kib := range []int{1, 100, 2048} {
		l, c := fake(kib)
		var sink bytes.Buffer
		w := l.Writer(&sink)
		data := bytes.Repeat([]byte("x"), kib*1024*10)
		n, err := w.Write(data)
		if err != nil || n != len(data) || sink.Len() != len(data) {
			t.Fatalf("%d KiB/s: wrote %d, %v", kib, n, err)
		}
		want := 10 * time.Second
		if c.slept < want-time.Second/5 || c.slept > want+time.Second/5 {
			t.Errorf("%d KiB/s: slept %v for 10 s of data", kib, c.slept)
		}
		if l.MaxWrite() != max(kib*128, 512) {
			t.Errorf("%d KiB/s: pieces of %d", kib, l.MaxWrite())
		}
	}
}

// TestIdleCredit: time that passed without writes pays for the next
// bytes, without letting a burst pile up beyond that.
func TestIdleCredit(t *testing.T) {
	l, c := fake(100)
	l.Wrote(50 * 1024) // half a second of data: sleeps about 0.5 s
	first := c.slept
	if first < 400*time.Millisecond || first > 600*time.Millisecond {
		t.Fatalf("slept %v for half a second of data", first)
	}
	c.t = c.t.Add(5 * time.Second) // idle
	l.Wrote(50 * 1024)
	if c.slept != first {
		t.Errorf("slept again (%v) for data the idle time paid for", c.slept-first)
	}
	l.Wrote(100 * 1024) // a second's worth now: must sleep about 1 s
	if d := c.slept - first; d < 900*time.Millisecond || d > 1100*time.Millisecond {
		t.Errorf("slept %v for a second of data after the credit", d)
	}
}

// TestNil: no limit passes the stream through untouched.
func TestNil(t *testing.T) {
	l := New(0)
	if l != nil {
		t.Fatal("New(0) limits")
	}
	var sink bytes.Buffer
	if w := l.Writer(&sink); w != io.Writer(&sink) {
		t.Error("nil limiter wraps the writer")
	}
	r := strings.NewReader("abc")
	if got := l.Reader(r); got != io.Reader(r) {
		t.Error("nil limiter wraps the reader")
	}
	l.Wrote(1 << 30) // no panic, no sleep
}

// TestReader: a limited reader hands out at most a piece per read and
// accounts for it.
func TestReader(t *testing.T) {
	l, c := fake(4)
	r := l.Reader(strings.NewReader(strings.Repeat("y", 4*1024*3)))
	buf := make([]byte, 1<<16)
	n, _ := r.Read(buf)
	if n != 512 {
		t.Errorf("first read %d bytes, want 512", n)
	}
	got, err := io.ReadAll(r)
	if err != nil || len(got)+n != 4*1024*3 {
		t.Fatalf("read %d, %v", len(got)+n, err)
	}
	if c.slept < 2800*time.Millisecond || c.slept > 3200*time.Millisecond {
		t.Errorf("slept %v for 3 s of data", c.slept)
	}
}
