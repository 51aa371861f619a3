//go:build !linux

package watcher

import (
	"context"
	"fmt"
	"runtime"
)

// DefaultBackend is the backend New uses when Options.Backend is empty.
const DefaultBackend = BackendFsnotify

// Backends lists the backend names New accepts on this system.
func Backends() []string { return []string{BackendFsnotify} }

func newInotify(context.Context, Options) (Watcher, error) {
	return nil, fmt.Errorf("watch backend %q: only available on linux, not %s (valid: %s)",
		BackendInotify, runtime.GOOS, BackendFsnotify)
}
