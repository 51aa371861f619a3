package main

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gsync/gsync/transport"
)

// destination is where a target writes, for finding targets that write
// into the same tree: the peer (local, a daemon host and port, an ssh
// user and host) and the directory in it.
type destination struct {
	peer string
	dir  string // slash-separated, cleaned, absolute for local targets
}

// destinationOf parses a target spec as openTarget does; ok is false for
// specs it cannot read (openTarget reports those).
func destinationOf(c *config, spec string) (destination, bool) {
	if dc, isDaemon, err := transport.ParseDaemonTarget(spec); err == nil && isDaemon {
		port := dc.Port
		if c.port != 0 {
			port = c.port
		}
		if port == 0 {
			port = 873
		}
		return destination{peer: fmt.Sprintf("rsync://%s:%d/%s", strings.ToLower(dc.Host), port, dc.Module),
			dir: path.Clean("/" + dc.Path)}, true
	}
	if i := strings.IndexByte(spec, ':'); c.ssh.force || (i > 0 && !strings.ContainsRune(spec[:i], '/')) {
		user, host, dir, ok := transport.ParseSSHTarget(spec)
		if !ok {
			return destination{}, false
		}
		if !strings.HasPrefix(dir, "/") {
			dir = "~/" + dir // below the login directory
		}
		return destination{peer: "ssh://" + user + "@" + strings.ToLower(host) + "/" + strings.Join(c.ssh.rshArgs, " "),
			dir: path.Clean(dir)}, true
	}
	abs, err := filepath.Abs(spec)
	if err != nil {
		return destination{}, false
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	return destination{peer: "local", dir: filepath.ToSlash(abs)}, true
}

// overlaps reports whether a and b write into the same tree: the same
// peer, and one directory is the other or below it.
func (a destination) overlaps(b destination) bool {
	if a.peer != b.peer {
		return false
	}
	within := func(d, root string) bool {
		return d == root || strings.HasPrefix(d, strings.TrimSuffix(root, "/")+"/")
	}
	return within(a.dir, b.dir) || within(b.dir, a.dir)
}

// serializeOverlaps gives the syncs whose targets write into the same or
// overlapping trees (the same sync{} written twice, a sync into a
// subdirectory of another's target) one shared lock, so that their
// pushes take turns instead of racing on the same files and directories
// (lsyncd runs them concurrently and relies on retries), their startup
// syncs in config order (serialGroup). It returns a
// line per group of such syncs, for the log.
func serializeOverlaps(cfgs []*config) []string {
	type entry struct {
		c    *config
		dest destination
	}
	var es []entry
	for _, c := range cfgs {
		if len(c.targets) == 0 || c.actions != nil {
			continue // a sync with actions writes nothing itself
		}
		if d, ok := destinationOf(c, c.targets[0]); ok {
			es = append(es, entry{c, d})
		}
	}
	// Union-find over the overlap relation.
	parent := make([]int, len(es))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			i = parent[i]
		}
		return i
	}
	for i := range es {
		for j := i + 1; j < len(es); j++ {
			if es[i].dest.overlaps(es[j].dest) {
				parent[find(j)] = find(i)
			}
		}
	}
	groups := map[int][]int{}
	var roots []int
	for i := range es {
		r := find(i)
		if groups[r] == nil {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], i)
	}
	var notes []string
	for _, r := range roots {
		g := groups[r]
		if len(g) < 2 {
			continue
		}
		sg := &serialGroup{}
		var names []string
		for k, i := range g {
			c := es[i].c
			started := make(chan struct{})
			if c.noInit {
				close(started) // no startup sync to wait for
			}
			sg.started = append(sg.started, started)
			c.serial = &serialMember{group: sg, index: k}
			names = append(names, fmt.Sprintf("%s (%s)", c.name, c.targets[0]))
		}
		notes = append(notes, strings.Join(names, ", "))
	}
	return notes
}

// serialGroup is the lock that syncs writing into overlapping targets
// share, and the order of their startup syncs: config order, so that a
// sync into a subdirectory of another's target starts after the outer
// one made the directory (an rsync daemon does not create parents).
type serialGroup struct {
	mu      sync.Mutex
	started []chan struct{} // closed when member i's first full sync ended
}

// serialMember is one sync of a serialGroup.
type serialMember struct {
	group *serialGroup
	index int
	once  sync.Once
}

// serialTarget is a target whose pushes hold its group's lock.
type serialTarget struct {
	transport.Target
	m *serialMember
}

// lockCtx takes the lock, or gives up when ctx ends first.
func (t serialTarget) lockCtx(ctx context.Context) error {
	mu := &t.m.group.mu
	got := make(chan struct{})
	go func() {
		mu.Lock()
		close(got)
	}()
	select {
	case <-got:
		return nil
	case <-ctx.Done():
		go func() { // the lock arrives later: hand it back
			<-got
			mu.Unlock()
		}()
		return transport.Transient(fmt.Errorf("wait for the overlapping sync's push: %w", ctx.Err()))
	}
}

// WaitFullSync waits for the startup syncs of the members before this
// one (mirror.FullSyncWaiter: the engine calls it before the full sync
// takes one of settings{} maxProcesses, which those may need).
func (t serialTarget) WaitFullSync(ctx context.Context) error {
	for _, ch := range t.m.group.started[:t.m.index] {
		select {
		case <-ch:
		case <-ctx.Done():
			return transport.Transient(fmt.Errorf("wait for the overlapping sync's startup: %w", ctx.Err()))
		}
	}
	return nil
}

// FullSync runs the target's full sync holding the lock; the first one
// waits for the startup syncs of the members before it.
func (t serialTarget) FullSync(ctx context.Context) (transport.Stats, error) {
	g := t.m.group
	if err := t.WaitFullSync(ctx); err != nil {
		return transport.Stats{}, err
	}
	defer t.m.once.Do(func() { close(g.started[t.m.index]) })
	if err := t.lockCtx(ctx); err != nil {
		return transport.Stats{}, err
	}
	defer g.mu.Unlock()
	return t.Target.FullSync(ctx)
}

// Push runs the target's push holding the lock.
func (t serialTarget) Push(ctx context.Context, changes []transport.Change) (transport.Stats, error) {
	if err := t.lockCtx(ctx); err != nil {
		return transport.Stats{}, err
	}
	defer t.m.group.mu.Unlock()
	return t.Target.Push(ctx, changes)
}
