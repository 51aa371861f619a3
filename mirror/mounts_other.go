//go:build !linux

package mirror

import (
	"io/fs"
	"path/filepath"
)

// findMounts lists the mount points strictly below src, relative to it:
// without a mount table, the directories whose device differs from their
// parent's. Directories that cannot be read are skipped.
func findMounts(src string) ([]string, error) {
	var out []string
	devs := map[string]uint64{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		dev, err := deviceOf(p)
		if err != nil {
			return fs.SkipDir
		}
		devs[p] = dev
		if p == src {
			return nil
		}
		if dev != devs[filepath.Dir(p)] {
			rel, _ := filepath.Rel(src, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}
