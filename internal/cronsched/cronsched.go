// Package cronsched reads crontab patterns for periodic full syncs
// (lsyncd 2.3's sync{ crontab = {...} } and gsync's --full-sync-cron):
// five fields (minute hour day-of-month month day-of-week, as in
// crontab(5)) or six with seconds first (lsyncd 2.3's lua-crontab form,
// "1 0 3 * * *"), and the descriptors @hourly, @daily, @every 10m, ...
// The parsing is github.com/robfig/cron/v3's.
package cronsched

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// parser accepts both lsyncd 2.3's six fields and crontab(5)'s five.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is the union of several patterns: Next is the earliest time
// any of them names.
type Schedule struct {
	specs  []string
	scheds []cron.Schedule
}

// Parse reads patterns; an empty list gives a nil Schedule. An error
// names the pattern and its position (1-based, as lsyncd counts them).
func Parse(specs []string) (*Schedule, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	s := &Schedule{specs: specs}
	for i, spec := range specs {
		c, err := parser.Parse(spec)
		if err != nil {
			return nil, fmt.Errorf("parse crontab rule %d %q: %w", i+1, spec, err)
		}
		s.scheds = append(s.scheds, c)
	}
	return s, nil
}

// Next returns the first time after t that a pattern names (zero if
// none ever does).
func (s *Schedule) Next(t time.Time) time.Time {
	var next time.Time
	for _, c := range s.scheds {
		if n := c.Next(t); !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next
}

// String lists the patterns.
func (s *Schedule) String() string { return fmt.Sprintf("%q", s.specs) }
