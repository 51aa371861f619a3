package mirror

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/transport"
)

// nestedMounts remembers the file systems mounted below the source root
// and the device each showed when gsync saw it, so that a nested mount
// that disappears (unmounted, a failed automount) is noticed before its
// now empty mount point deletes its subtree on the target. The zero
// value (nil) knows no mounts.
type nestedMounts struct {
	src    string
	points map[string]uint64 // mount point relative to src -> device
	devOf  func(path string) (uint64, error)
}

// newNestedMounts finds the mounts below src (see findMounts).
func newNestedMounts(src string) (*nestedMounts, error) {
	n := &nestedMounts{src: src, points: map[string]uint64{}, devOf: deviceOf}
	if err := n.refresh(); err != nil {
		return nil, err
	}
	return n, nil
}

// refresh adds the mounts that appeared below the source since the last
// look; a known mount that is gone stays known (and vanished).
func (n *nestedMounts) refresh() error {
	if n == nil {
		return nil
	}
	rels, err := findMounts(n.src)
	if err != nil {
		return fmt.Errorf("list mounts below %s: %w", n.src, err)
	}
	for _, rel := range rels {
		if _, ok := n.points[rel]; ok {
			continue
		}
		if dev, err := n.devOf(filepath.Join(n.src, filepath.FromSlash(rel))); err == nil {
			n.points[rel] = dev
		}
	}
	return nil
}

// list returns the known mount points, relative to the source, sorted.
func (n *nestedMounts) list() []string {
	if n == nil {
		return nil
	}
	out := make([]string, 0, len(n.points))
	for rel := range n.points {
		out = append(out, rel)
	}
	sort.Strings(out)
	return out
}

// vanished returns the known mount points that are gone now (missing, or
// showing another device: the directory below the mount), sorted.
func (n *nestedMounts) vanished() []string {
	var out []string
	for _, rel := range n.list() {
		dev, err := n.devOf(filepath.Join(n.src, filepath.FromSlash(rel)))
		if err != nil || dev != n.points[rel] {
			out = append(out, rel)
		}
	}
	return out
}

// holdAcrossMounts splits changes around the vanished mount points gone:
// a change at or below one is held back whole (it would delete what the
// mount held); a recursive change above one is kept without its subtree.
// held lists the paths of the changes held back or narrowed.
func holdAcrossMounts(changes []transport.Change, gone []string) (kept []transport.Change, held []string) {
	for _, c := range changes {
		switch {
		case c.Op == change.Move && (inAnyMount(c.From, gone) || inAnyMount(c.Path, gone)):
			held = append(held, c.Path)
		case inAnyMount(c.Path, gone):
			held = append(held, c.Path)
		case (c.Recursive || c.Op == change.Delete) && aboveAnyMount(c.Path, gone):
			if c.Op == change.Delete {
				held = append(held, c.Path)
				continue
			}
			c.Recursive = false
			held = append(held, c.Path)
			kept = append(kept, c)
		default:
			kept = append(kept, c)
		}
	}
	return kept, held
}

// inAnyMount reports whether rel is one of the mount points or below one.
func inAnyMount(rel string, points []string) bool {
	rel = path.Clean(rel)
	for _, p := range points {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// aboveAnyMount reports whether a mount point lies below rel.
func aboveAnyMount(rel string, points []string) bool {
	rel = path.Clean(rel)
	for _, p := range points {
		if rel == "." || strings.HasPrefix(p, rel+"/") {
			return true
		}
	}
	return false
}

// mountsBelow returns the mount points of a /proc/self/mountinfo listing
// that lie strictly below the directory root, relative to it.
func mountsBelow(r io.Reader, root string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if rel, err := filepath.Rel(root, mp); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) of a mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountExcludes returns exclude patterns (lsyncd syntax, anchored) for the
// contents of every mount point: --one-file-system mirrors the mount
// point directories, never what is mounted on them, and never deletes
// it on the target. Mount points whose names hold pattern characters are
// returned in skipped instead.
func mountExcludes(points []string) (patterns, skipped []string) {
	for _, p := range points {
		if strings.ContainsAny(p, "*?[]\\") {
			skipped = append(skipped, p)
			continue
		}
		patterns = append(patterns, "/"+p+"/*")
	}
	return patterns, skipped
}
