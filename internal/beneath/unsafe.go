package beneath

import "strings"

// UnsafeSymlink reports whether a symlink named src (relative to the
// transfer root) pointing to dest could lead out of the tree: an
// absolute or empty target, a ".." anywhere but in a leading run, a
// trailing "/..", or more leading ".." than src has directories above
// it. This is rsync's rule for --safe-links and --copy-unsafe-links (util1.c:unsafe_symlink),
// written anew.
func UnsafeSymlink(dest, src string) bool {
	if dest == "" || dest[0] == '/' {
		return true
	}
	rest := dest
	for strings.HasPrefix(rest, "../") {
		rest = strings.TrimLeft(rest[3:], "/")
	}
	if strings.Contains(rest, "/../") || (len(dest) > 3 && strings.HasSuffix(dest, "/..")) {
		return true
	}
	// How deep src lies: its directories, ".." starting the count over.
	depth := 0
	dirs, last := splitDirs(src)
	for _, d := range dirs {
		switch d {
		case ".":
		case "..":
			depth = 0
		default:
			depth++
		}
	}
	if last == ".." {
		depth = 0
	}
	dirs, last = splitDirs(dest)
	for _, d := range dirs {
		switch d {
		case ".":
		case "..":
			if depth--; depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	if last == ".." {
		depth--
	}
	return depth < 0
}

// splitDirs splits p at its slashes into the directory names before the
// last slash (repeated slashes count as one) and the name after it.
func splitDirs(p string) (dirs []string, last string) {
	parts := strings.Split(p, "/")
	for _, d := range parts[:len(parts)-1] {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs, parts[len(parts)-1]
}
