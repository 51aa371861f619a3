package mirror

import (
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gsync/gsync/delay"
	"github.com/gsync/gsync/internal/change"
)

// Handover carries the changes still queued in the syncs that a config
// reload (SIGHUP) stopped over to the syncs of the reloaded config, by
// source directory: nothing the kernel reported is lost, whatever the new
// config's init setting, and a queued content change of a file stays a
// content change (the new startup full sync's quick check could miss a
// same-size same-mtime rewrite). A nil *Handover carries nothing.
type Handover struct {
	mu      sync.Mutex
	sources map[string]*pendingChanges // by absolute source root
}

// pendingChanges are the changes of one source root waiting for a push.
type pendingChanges struct {
	full  bool // a full sync was queued
	items []delay.Item
}

// NewHandover returns an empty hand-over, to be given to the mirrors of
// one config and of the next.
func NewHandover() *Handover { return &Handover{sources: map[string]*pendingChanges{}} }

// put adds what one target of the source root src still had queued.
func (h *Handover) put(src string, full bool, items []delay.Item) {
	if h == nil || (!full && len(items) == 0) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.sources[src]
	if p == nil {
		p = &pendingChanges{}
		h.sources[src] = p
	}
	p.full = p.full || full
	p.items = append(p.items, items...)
}

// take removes and returns the pending changes that concern the source
// root src, translated to paths relative to it: those of src itself, of
// a root above it (the part below src) and of roots below it. A full
// sync pending on a root above src is a full sync of src; one on a root
// below src is a recursive sync of that directory. Changes outside src
// stay for another taker.
func (h *Handover) take(src string) (full bool, items []delay.Item) {
	if h == nil {
		return false, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for old, p := range h.sources {
		switch {
		case old == src:
			full = full || p.full
			items = append(items, p.items...)
			delete(h.sources, old)
		case below(src, old): // the new root is inside the old one
			prefix := filepath.ToSlash(mustRel(old, src))
			full = full || p.full
			var rest []delay.Item
			for _, it := range splitMoves(p.items) {
				if t, ok := rebase(it, func(rel string) (string, bool) { return trimRoot(rel, prefix) }); ok {
					items = append(items, t)
				} else {
					rest = append(rest, it)
				}
			}
			p.items, p.full = rest, false
			if len(rest) == 0 {
				delete(h.sources, old)
			}
		case below(old, src): // an old root inside the new one
			prefix := filepath.ToSlash(mustRel(src, old))
			if p.full {
				items = append(items, delay.Item{Op: change.Modify, Path: prefix, IsDir: true, Recursive: true})
			}
			for _, it := range p.items {
				t, _ := rebase(it, func(rel string) (string, bool) { return path.Join(prefix, rel), true })
				items = append(items, t)
			}
			delete(h.sources, old)
		}
	}
	return full, items
}

// below reports whether the absolute path p lies strictly below dir.
func below(p, dir string) bool {
	return strings.HasPrefix(p, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

func mustRel(base, p string) string {
	rel, err := filepath.Rel(base, p)
	if err != nil {
		return "."
	}
	return rel
}

// trimRoot returns rel relative to the directory prefix, if below it.
func trimRoot(rel, prefix string) (string, bool) {
	if strings.HasPrefix(rel, prefix+"/") {
		return strings.TrimPrefix(rel, prefix+"/"), true
	}
	return "", false
}

// splitMoves returns items with every move split into a delete of its
// source and a create of its destination, which may fall under
// different roots.
func splitMoves(items []delay.Item) []delay.Item {
	out := make([]delay.Item, 0, len(items))
	for _, it := range items {
		if it.Op != change.Move {
			out = append(out, it)
			continue
		}
		out = append(out,
			delay.Item{Op: change.Delete, Path: it.From, IsDir: it.IsDir, Recursive: true},
			delay.Item{Op: change.Create, Path: it.Path, IsDir: it.IsDir, Recursive: it.IsDir})
	}
	return out
}

// rebase moves an item to another root with mapPath; ok is false when
// the item falls outside it. A move whose source falls outside becomes a
// recursive sync of its destination, one whose destination falls outside
// a delete of its source.
func rebase(it delay.Item, mapPath func(string) (string, bool)) (delay.Item, bool) {
	p, pok := mapPath(it.Path)
	if it.Op != change.Move {
		it.Path = p
		return it, pok
	}
	from, fok := mapPath(it.From)
	switch {
	case pok && fok:
		it.Path, it.From = p, from
		return it, true
	case pok:
		return delay.Item{Op: change.Create, Path: p, IsDir: it.IsDir, Recursive: it.IsDir}, true
	case fok:
		return delay.Item{Op: change.Delete, Path: from, IsDir: it.IsDir, Recursive: true}, true
	}
	return it, false
}
