package rsyncproto

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestSessionMessageCaps: a flood of receiver messages keeps at most
// maxKeptWarnings warnings (plus one counting line), at most
// maxXferBytes of receiver errors, calls Warn a bounded number of times,
// and everything kept is escaped.
func TestSessionMessageCaps(t *testing.T) {
	warns := 0
	s := newSession(newConn(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(nil), io.Discard}), nil, &Options{Warn: func(string) { warns++ }})
	msg := []byte("rsync: \"dir/f\x1b[1m\" failed: denied\n")
	for i := 0; i < 50000; i++ {
		tag := msgErrorXfer
		if i%2 == 1 {
			tag = msgInfo
		}
		if err := s.handleMsg(peerMsg{tag: tag, payload: msg}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.warnings) != maxKeptWarnings+1 || !strings.Contains(s.warnings[maxKeptWarnings], "49900 more") {
		t.Errorf("%d warnings kept, last %q", len(s.warnings), s.warnings[len(s.warnings)-1])
	}
	if warns != maxPeerMsgsLogged+1 {
		t.Errorf("Warn called %d times", warns)
	}
	if s.xferSize > maxXferBytes || s.moreXfer == 0 {
		t.Errorf("kept %d bytes of receiver errors, %d not kept", s.xferSize, s.moreXfer)
	}
	for _, w := range append(s.warnings, s.xferErrs...) {
		if hasControl(w) {
			t.Fatalf("unescaped %q", w)
		}
	}
	names := nameSetOf("dir/f\x1b[1m")
	fails := s.xferFailures(names)
	if len(fails) != len(s.xferRaw)+1 || fails[0].Path != "dir/f\x1b[1m" || hasControl(fails[0].Err.Error()) || !errors.Is(fails[0].Err, ErrReceiver) {
		t.Errorf("failures: %d, first %+v", len(fails), fails[0])
	}
	if last := fails[len(fails)-1]; last.Path != "" || !strings.Contains(last.Err.Error(), "more receiver errors") {
		t.Errorf("last failure %+v", last)
	}
}

// TestMergeRemoteCaps: stderr lines are escaped and capped; a line naming
// a listed path still attributes it.
func TestMergeRemoteCaps(t *testing.T) {
	var b strings.Builder
	b.WriteString("rsync: mkstemp \"odd\x1b]0;x\x07name\" failed: Permission denied (13)\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "noise \x1b[2J %d\n", i)
	}
	r := &Result{names: nameSetOf("odd\x1b]0;x\x07name")}
	r.MergeRemote(23, []byte(b.String()))
	if len(r.Warnings) != maxRemoteLines+1 || !strings.Contains(r.Warnings[maxRemoteLines], "2001 more") {
		t.Errorf("%d warnings, last %q", len(r.Warnings), r.Warnings[len(r.Warnings)-1])
	}
	for _, w := range r.Warnings {
		if hasControl(w) {
			t.Fatalf("unescaped %q", w)
		}
	}
	if len(r.Failed) != 1 || r.Failed[0].Path != "odd\x1b]0;x\x07name" || hasControl(r.Failed[0].Err.Error()) {
		t.Errorf("failed %+v", r.Failed)
	}
	if r.ExitCode != 23 {
		t.Errorf("exit %d", r.ExitCode)
	}
}

// TestSumHeadKeep: blocks a file cannot hold are read but not kept, and
// what is kept matches what was sent.
func TestSumHeadKeep(t *testing.T) {
	var wire []byte
	h := sumHead{count: 10000, blength: 700, s2length: 4, remainder: 1}
	wire = h.appendHead(wire, 31)
	for i := 0; i < int(h.count); i++ {
		wire = appendInt(wire, int32(i))
		wire = append(wire, byte(i), byte(i>>8), 7, 7)
	}
	wire = append(wire, 0xaa) // what follows the head
	for _, tc := range []struct {
		size int64
		keep int
	}{{-1, 10000}, {0, 1}, {699, 1}, {700, 2}, {7000, 11}, {1 << 40, 10000}} {
		r := &wireReader{r: bytes.NewReader(wire)}
		got, err := readSumHeadFor(r, 31, 16, tc.size)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.sum1) != tc.keep || len(got.sum2) != tc.keep*4 || got.count != h.count {
			t.Errorf("size %d: kept %d/%d sums, count %d; want %d", tc.size, len(got.sum1), len(got.sum2), got.count, tc.keep)
			continue
		}
		if last := tc.keep - 1; got.sum1[last] != uint32(last) || got.sum2[4*last] != byte(last) {
			t.Errorf("size %d: block %d holds %d", tc.size, last, got.sum1[last])
		}
		if r.byte() != 0xaa {
			t.Errorf("size %d: not all sums were read", tc.size)
		}
	}
}

// TestSumHeadClaimedCount: a head claiming many blocks and sending few
// allocates about what was sent, then fails.
func TestSumHeadClaimedCount(t *testing.T) {
	h := sumHead{count: maxSumCount, blength: 700, s2length: 16}
	wire := h.appendHead(nil, 31)
	wire = append(wire, make([]byte, 20*100)...)
	var got *sumHead
	var err error
	total, _ := memUse(func() {
		got, err = readSumHeadFor(&wireReader{r: bytes.NewReader(wire)}, 31, 16, -1)
	})
	if err == nil || got != nil && len(got.sum1) > 0 {
		t.Errorf("err %v", err)
	}
	if total > 4<<20 {
		t.Errorf("allocated %d bytes for 2 KB of sums", total)
	}
}

// nameSetOf is a nameSet of names.
func nameSetOf(names ...string) *nameSet {
	n := newNameSet()
	for _, name := range names {
		n.add(name)
	}
	return n
}

// TestNameSetChunks: names over several chunks are found, lookups between
// adds see the names added since, and names never added are not found.
func TestNameSetChunks(t *testing.T) {
	n := newNameSet()
	const total = 3*nameChunk + 17
	for i := range total {
		n.add(fmt.Sprintf("d%d/f%d", i%97, i))
		if i%5000 == 0 && !n.has(fmt.Sprintf("d%d/f%d", i%97, i)) {
			t.Fatalf("name %d not found right after it was added", i)
		}
	}
	if len(n.full) != 3 || len(n.last) != 17 {
		t.Errorf("%d full chunks and %d hashes in the last for %d names, want 3 and 17", len(n.full), len(n.last), total)
	}
	for i := range total {
		if !n.has(fmt.Sprintf("d%d/f%d", i%97, i)) {
			t.Fatalf("name %d not found", i)
		}
	}
	for _, s := range []string{"", "d0", "d1/f0", fmt.Sprintf("d0/f%d", total)} {
		if n.has(s) {
			t.Errorf("%q found, never added", s)
		}
	}
}
