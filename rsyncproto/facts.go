package rsyncproto

import "fmt"

// The rsync protocol versions this sender speaks. Protocol 27 is rsync
// 2.6.0's and gokrazy/rsync's; 32 is rsync 3.4's.
const (
	MinProtocol = 27
	MaxProtocol = 32
)

// minFilterScopedDelete is the first protocol whose peers honour the
// filter list when they delete (see ScopesDeletes).
const minFilterScopedDelete = 29

// CheckProtocol reports, as an error naming the supported range, whether
// v may be offered as the highest protocol version: 0 (the default,
// MaxProtocol) or MinProtocol to MaxProtocol.
func CheckProtocol(v int) error {
	if v != 0 && (v < MinProtocol || v > MaxProtocol) {
		return fmt.Errorf("protocol %d not supported (want %d to %d)", v, MinProtocol, MaxProtocol)
	}
	return nil
}

// ScopesDeletes reports whether a peer that negotiated protocol proto
// honours the filter list when it deletes, so that --delete can be
// confined to the listed paths and excluded target paths are protected by
// Options.ExcludeRules. Below protocol 29 it does not (gokrazy/rsync speaks
// 27 and ignores filter rules when deleting): Push then refuses a scoped
// delete with ErrScopedDeleteUnsupported, and the caller must make the
// transfer root the scope (push the deleted path's parent directory,
// recursively).
func ScopesDeletes(proto int) bool { return proto >= minFilterScopedDelete }
