// Package opstest reads the status file ops writes (lsyncd's layout) the
// way a monitoring script would; it is for tests only.
package opstest

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Sync is one sync block of a status file, as a monitoring script
// would read it.
type Sync struct {
	Name, Source, Target string
	Delays               int
	Lines                []string // the delay lines
	Excludes, Filters    []string
	Pushed               bool
}

// Status is a whole status file: its syncs and the watch count.
type Status struct {
	Syncs   []Sync
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

// ParseStatus parses a status file in lsyncd's layout.
func ParseStatus(b []byte) (Status, error) {
	var st Status
	sc := bufio.NewScanner(bytes.NewReader(b))
	if !sc.Scan() || !statusHeadRE.MatchString(sc.Text()) {
		return st, fmt.Errorf("no header: %q", b)
	}
	var cur *Sync
	section := ""
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "":
			section = ""
		case syncLineRE.MatchString(l):
			m := syncLineRE.FindStringSubmatch(l)
			st.Syncs = append(st.Syncs, Sync{Name: m[1], Source: m[2]})
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
