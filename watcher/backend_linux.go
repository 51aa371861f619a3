package watcher

// DefaultBackend is the backend New uses when Options.Backend is empty.
const DefaultBackend = BackendInotify

// Backends lists the backend names New accepts on this system.
func Backends() []string { return []string{BackendInotify, BackendFsnotify} }
