package cronsched

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 7, 30, 0, time.UTC)
	tests := []struct {
		specs []string
		want  time.Time
	}{
		{[]string{"*/5 * * * *"}, time.Date(2026, 12, 3, 10, 10, 0, 0, time.UTC)},
		// lsyncd 2.3's six fields, seconds first: 03:00:01 every day.
		{[]string{"1 0 3 * * *"}, time.Date(2026, 12, 4, 3, 0, 1, 0, time.UTC)},
		// Several patterns: the earliest wins.
		{[]string{"1 0 3 * * *", "0 11 * * *"}, time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC)},
		{[]string{"@every 10s"}, at.Add(10 * time.Second)},
	}
	for _, tt := range tests {
		s, err := Parse(tt.specs)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.specs, err)
		}
		if got := s.Next(at); !got.Equal(tt.want) {
			t.Errorf("Parse(%q).Next = %v, want %v", tt.specs, got, tt.want)
		}
	}
	if s, err := Parse(nil); s != nil || err != nil {
		t.Errorf("Parse(nil) = %v, %v", s, err)
	}
	if _, err := Parse([]string{"* * * * *", "61 * * * *"}); err == nil || !strings.Contains(err.Error(), `rule 2 "61 * * * *"`) {
		t.Errorf("bad rule: err = %v", err)
	}
}
