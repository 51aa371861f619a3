package mirror

import (
	"strings"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/cronsched"
	"github.com/gsync/gsync/internal/testutil"
)

// TestFullSyncSchedule: with FullSyncAt (lsyncd 2.3's crontab), each
// time the schedule names queues a full sync of every target, logged;
// nothing runs before it. The fake clock stands in for the minutes.
func TestFullSyncSchedule(t *testing.T) {
	every, err := cronsched.Parse([]string{"* * * * *"}) // each minute
	if err != nil {
		t.Fatal(err)
	}
	a, b := &fakeTarget{name: "a"}, &fakeTarget{name: "b"}
	e := newLoop(t, Config{FullSyncAt: every}, false, a, b)
	fulls := func(f *fakeTarget) int { return read(f, func(f *fakeTarget) int { return f.fulls }) }
	testutil.Eventually(t, "startup full syncs", func() bool { return fulls(a) == 1 && fulls(b) == 1 })
	never(t, "a full sync before the scheduled time", func() bool { return fulls(a) > 1 })
	for round := 2; round <= 3; round++ {
		// The loop may set its timer just after an advance: advance
		// again until the scheduled sync ran.
		testutil.Eventually(t, "the scheduled full syncs", func() bool {
			if fulls(a) < round || fulls(b) < round {
				e.clock.Advance(30 * time.Second)
				return false
			}
			return true
		})
	}
	if got := strings.Count(e.log.String(), "scheduled full sync (crontab)"); got < 2 {
		t.Errorf("%d log lines about scheduled full syncs, want 2 or more:\n%s", got, e.log.String())
	}
}
