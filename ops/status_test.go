package ops

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/mirror"
)

// parsedSync is one sync block of a status file, as a monitoring script
// would read it.
type parsedSync struct {
	Name, Source, Target string
	Delays               int
	Lines                []string // the delay lines
	Excludes, Filters    []string
	Pushed               bool
}

type parsedStatus struct {
	Syncs   []parsedSync
	Watches int
}

var (
	syncLineRE    = regexp.MustCompile(`^(Sync\d+) source=(.*)$`)
	delaysRE      = regexp.MustCompile(`^There are (\d+) delays$`)
	watchingRE    = regexp.MustCompile(`^Inotify watching (\d+) directories$`)
	delayLineRE   = regexp.MustCompile(`^(active |wait   |block  )\S`)
	statusHeadRE  = regexp.MustCompile(`^Lsyncd status report at .+$`)
	statusSection = map[string]bool{"Excluding:": true, "Filtering:": true}
)

// parseStatus parses a status file in lsyncd's layout.
func parseStatus(b []byte) (parsedStatus, error) {
	var st parsedStatus
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() || !statusHeadRE.MatchString(sc.Text()) {
		return st, fmt.Errorf("no header: %q", b)
	}
	var cur *parsedSync
	section := ""
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "":
			section = ""
		case syncLineRE.MatchString(l):
			m := syncLineRE.FindStringSubmatch(l)
			st.Syncs = append(st.Syncs, parsedSync{Name: m[1], Source: m[2]})
			cur, section = &st.Syncs[len(st.Syncs)-1], ""
		case watchingRE.MatchString(l):
			st.Watches, _ = strconv.Atoi(watchingRE.FindStringSubmatch(l)[1])
			cur = nil
		case cur == nil:
		case statusSection[l]:
			section = l
		case section == "Excluding:" && l != "  nothing.":
			cur.Excludes = append(cur.Excludes, l)
		case section == "Filtering:" && l != "  nothing.":
			cur.Filters = append(cur.Filters, l)
		case strings.HasPrefix(l, "target="):
			cur.Target = strings.TrimPrefix(l, "target=")
		case delaysRE.MatchString(l):
			cur.Delays, _ = strconv.Atoi(delaysRE.FindStringSubmatch(l)[1])
		case delayLineRE.MatchString(l):
			cur.Lines = append(cur.Lines, l)
		case strings.HasPrefix(l, "Last push finished at "):
			cur.Pushed = true
		}
	}
	return st, sc.Err()
}

// TestStatusReportActive checks the lines of a batch in flight, in
// lsyncd's layout.
func TestStatusReportActive(t *testing.T) {
	s := mirror.Snapshot{Name: "Sync1", Source: "/src", Target: "host::m",
		Queued: 2, Waiting: []delay.Item{{Op: delay.Modify, Path: "a"}}, Active: []delay.Item{
			{Op: delay.Create, Path: "d", IsDir: true},
			{Op: delay.Move, From: "x", Path: "y"},
		}, ActiveTotal: 2, InFlight: true, Watches: 1, State: mirror.StatePushing}
	st, err := parseStatus(renderStatus(time.Now(), []mirror.Snapshot{s}))
	if err != nil {
		t.Fatal(err)
	}
	want := parsedSync{Name: "Sync1", Source: "/src/", Target: "host::m", Delays: 4,
		Lines: []string{"active Create /d/", "active Move /x -> /y", "wait   Modify /a", "wait   (1 more)"}}
	if len(st.Syncs) != 1 {
		t.Fatalf("syncs = %+v", st.Syncs)
	}
	if diff := cmp.Diff(want, st.Syncs[0]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
