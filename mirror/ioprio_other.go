//go:build !linux

package mirror

// lowIOPriority does nothing here: there is no per-thread I/O priority.
func lowIOPriority() (restore func()) { return func() {} }
