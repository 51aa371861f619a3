package mirror

import (
	"fmt"
	"os"
)

// findMounts lists the mount points strictly below src (absolute,
// symlink-resolved), relative to it, from /proc/self/mountinfo.
func findMounts(src string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("open mount table: %w", err)
	}
	defer f.Close()
	return mountsBelow(f, src)
}
