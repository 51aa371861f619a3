package mirror

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// fileID identifies a directory whatever the path it is reached by: a
// bind mount shows the same device and inode as the directory it binds.
type fileID struct{ dev, ino uint64 }

// idFunc returns the identity of a path (fileIDOf); ok is false where the
// platform has none.
type idFunc func(path string) (id fileID, ok bool, err error)

// CheckTargetApart refuses a local target directory that is the source
// src, lies inside it, or contains it: a target inside the source makes
// every push a new event, forever; a target that contains the source
// deletes the source as "extra" target files. src is absolute and
// symlink-resolved, target absolute. Paths are compared after resolving
// symlinks, then by the device and inode of every ancestor (bind mounts).
func CheckTargetApart(src, target string) error {
	return targetApart(src, target, fileIDOf)
}

// targetApart is checkTargetApart with the identity function given.
func targetApart(src, target string, idOf idFunc) error {
	real, exists := resolveExisting(target)
	if rel := relation(src, real); rel != "" {
		return apartError(src, target, rel)
	}
	srcIDs, err := ancestorIDs(src, idOf)
	if err != nil {
		return configErrorf("check source %s against target %s: %v", src, target, err)
	}
	// real is the target, or its nearest existing ancestor.
	tgtIDs, err := ancestorIDs(realPrefix(real, exists), idOf)
	if err != nil {
		return configErrorf("check target %s against source %s: %v", target, src, err)
	}
	if rel := relationByID(srcIDs, tgtIDs, exists); rel != "" {
		return apartError(src, target, rel)
	}
	return nil
}

// relationByID compares the identity chains (a path, then its ancestors)
// of the source and of the target (or, when the target does not exist
// yet, of its nearest existing ancestor): "is", "inside", "contains" or
// "". Empty chains (no identities on this platform) compare as "".
func relationByID(srcIDs, tgtIDs []fileID, tgtExists bool) string {
	if len(srcIDs) == 0 || len(tgtIDs) == 0 {
		return ""
	}
	if tgtExists {
		for i, id := range srcIDs {
			if id == tgtIDs[0] {
				if i == 0 {
					return "is"
				}
				return "contains"
			}
		}
	}
	for _, id := range tgtIDs {
		if id == srcIDs[0] {
			return "inside"
		}
	}
	return ""
}

// apartError is the usage error for a target that is, contains or lies
// inside the source.
func apartError(src, target, rel string) error {
	what := map[string]string{
		"is":       "is the source %s",
		"inside":   "lies inside the source %s",
		"contains": "contains the source %s (it would be deleted as an extra file of the target)",
	}[rel]
	return configErrorf("target %s "+what+" (compared after resolving symlinks and bind mounts); a target must not be the source, lie inside the source or contain it: choose a directory outside the source", target, src)
}

// relation compares two clean absolute paths by name: "is" (equal),
// "inside" (t below src), "contains" (src below t) or "".
func relation(src, t string) string {
	sep := string(filepath.Separator)
	switch {
	case t == src:
		return "is"
	case strings.HasPrefix(t, strings.TrimSuffix(src, sep)+sep):
		return "inside"
	case strings.HasPrefix(src, strings.TrimSuffix(t, sep)+sep):
		return "contains"
	}
	return ""
}

// resolveExisting resolves the symlinks of the longest existing prefix
// of the absolute path p and appends the rest; exists reports whether
// all of p exists.
func resolveExisting(p string) (real string, exists bool) {
	rest := ""
	for dir := p; ; {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(r, rest), rest == ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return p, false
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}

// realPrefix returns p when it exists, else its nearest existing
// ancestor.
func realPrefix(p string, exists bool) string {
	for !exists {
		parent := filepath.Dir(p)
		if parent == p {
			return p
		}
		p = parent
		_, err := os.Stat(p)
		exists = err == nil
	}
	return p
}

// ancestorIDs returns the identities of p and of each of its ancestors up
// to the root, p first; nil where the platform has no identities.
func ancestorIDs(p string, idOf idFunc) ([]fileID, error) {
	var ids []fileID
	for {
		id, ok, err := idOf(p)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", p, err)
		}
		if !ok {
			return nil, nil
		}
		ids = append(ids, id)
		parent := filepath.Dir(p)
		if parent == p {
			return ids, nil
		}
		p = parent
	}
}
