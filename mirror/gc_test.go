package mirror

import (
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestLowerGC: a full sync runs with GOGC lowered to fullSyncGCPercent
// and sets back the user's when it ends; an overlapping one leaves it
// alone, so it is never left lowered; a lower GOGC is kept. Not
// parallel: GOGC is the process's.
func TestLowerGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	restore := lowerGC()
	if got := gogc(); got != fullSyncGCPercent {
		t.Fatalf("GOGC during a full sync = %d, want %d", got, fullSyncGCPercent)
	}
	inner := lowerGC()
	restore()
	if got := gogc(); got != 100 {
		t.Errorf("GOGC after the first full sync = %d, want 100", got)
	}
	inner()
	if got := gogc(); got != 100 {
		t.Errorf("GOGC after an overlapping full sync = %d, want 100", got)
	}
	debug.SetGCPercent(20)
	lowerGC()()
	if got := gogc(); got != 20 {
		t.Errorf("GOGC 20 around a full sync = %d, want 20 kept", got)
	}
}
