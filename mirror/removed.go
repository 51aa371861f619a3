package mirror

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
)

// maxOwnRemovals bounds the source files remembered as removed by gsync
// itself (--remove-source-files) until the kernel reports their deletion;
// past it the oldest are forgotten all at once (a delete event that never
// came: a coalesced or lost one).
const maxOwnRemovals = 100000

// ownRemovals are the source files a target removed after it had them
// (transport.Stats.Removed, rsync's --remove-source-files): the delete
// events they cause are gsync's own, and must not delete the files on
// the target. Only the target's push goroutine and the loop touch it,
// one after the other.
type ownRemovals map[string]struct{}

// note records the files a push removed.
func (o *ownRemovals) note(paths []string) {
	if len(paths) == 0 {
		return
	}
	if *o == nil || len(*o)+len(paths) > maxOwnRemovals {
		*o = make(ownRemovals, len(paths))
	}
	for _, p := range paths {
		(*o)[p] = struct{}{}
	}
}

// filter drops from changes those that only say a file gsync removed is
// gone: its path is one the target removed, and it is still absent from
// src. A path that exists again is a change to mirror; either way it is
// forgotten.
func (o ownRemovals) filter(src string, changes []transport.Change) []transport.Change {
	if len(o) == 0 {
		return changes
	}
	out := changes[:0:0]
	for _, c := range changes {
		if _, ok := o[c.Path]; ok && c.Op != change.Move {
			delete(o, c.Path)
			if _, err := os.Lstat(filepath.Join(src, filepath.FromSlash(c.Path))); errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
