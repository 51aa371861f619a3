package treediff

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Census counts what a tree holds of the attributes Compare can compare,
// so that a test can check that an oracle's tree is not trivially equal
// (an rsync that kept no ACL equals a gsync that kept none).
type Census struct {
	Entries int // below the root
	// ACLs counts entries with an access or a default ACL.
	ACLs int
	// Xattrs counts entries with an xattr in each namespace ("user",
	// "trusted", "security"; ACLs not counted).
	Xattrs map[string]int
	// HardLinked counts non-directories with more than one link.
	HardLinked int
	// Sparse counts regular files taking less space than their size.
	Sparse int
	// Owners counts the distinct uid:gid pairs.
	Owners int
	// Nodes counts devices, fifos and sockets.
	Nodes int
	// SetID counts entries with the setuid, setgid or sticky bit.
	SetID int
}

// String renders the census on one line.
func (c Census) String() string {
	return fmt.Sprintf("%d entries, %d with ACLs, xattrs %v, %d hard-linked, %d sparse, %d owners, %d nodes, %d setuid/setgid/sticky",
		c.Entries, c.ACLs, c.Xattrs, c.HardLinked, c.Sparse, c.Owners, c.Nodes, c.SetID)
}

// TakeCensus walks root (not following symlinks) and counts. Xattrs and
// ACLs are counted on Linux only.
func TakeCensus(root string) (Census, error) {
	c := Census{Xattrs: map[string]int{}}
	owners := map[[2]uint32]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		c.Entries++
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat: %w", err)
		}
		if u, g, ok := owner(fi); ok {
			owners[[2]uint32{u, g}] = true
		}
		m := fi.Mode()
		if isNode(m) {
			c.Nodes++
		}
		if m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			c.SetID++
		}
		if _, nlink, blocks, ok := inodeOf(fi); ok && !m.IsDir() {
			if nlink > 1 {
				c.HardLinked++
			}
			if m.IsRegular() && blocks*512 < fi.Size() {
				c.Sparse++
			}
		}
		names, _, err := listXattrs(p)
		if err != nil {
			return nil // not supported here: not counted
		}
		acl := false
		seen := map[string]bool{}
		for _, n := range names {
			if n == XattrACLAccess || n == XattrACLDefault {
				acl = true
				continue
			}
			ns, _, _ := strings.Cut(n, ".")
			if !seen[ns] {
				seen[ns] = true
				c.Xattrs[ns]++
			}
		}
		if acl {
			c.ACLs++
		}
		return nil
	})
	c.Owners = len(owners)
	if err != nil {
		return c, fmt.Errorf("census of %s: %w", root, err)
	}
	return c, nil
}
