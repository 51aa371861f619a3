package rsyncproto

import "testing"

func TestCheckProtocol(t *testing.T) {
	for v, ok := range map[int]bool{0: true, 26: false, 27: true, 29: true, 32: true, 33: false, -1: false} {
		if err := CheckProtocol(v); (err == nil) != ok {
			t.Errorf("CheckProtocol(%d) = %v, want ok=%v", v, err, ok)
		}
	}
	if got := ourProtocol(0); got != MaxProtocol {
		t.Errorf("default protocol %d, want MaxProtocol %d", got, MaxProtocol)
	}
}

func TestScopesDeletes(t *testing.T) {
	for v, want := range map[int]bool{27: false, 28: false, 29: true, 30: true, 32: true} {
		if got := ScopesDeletes(v); got != want {
			t.Errorf("ScopesDeletes(%d) = %v, want %v", v, got, want)
		}
	}
}
