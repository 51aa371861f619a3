package treediff

// AttrTreeIDs returns the owners GenerateAttrTree hands out, as uids and
// as gids: root, daemon, bin and nobody/nogroup have names on common
// systems, 12345 and 23456 have none.
func AttrTreeIDs() []uint32 { return []uint32{0, 1, 2, 65534, 12345, 23456} }

// AttrTree describes the tree GenerateAttrTree made, for tests that change
// it further. Paths are slash-separated and relative to the root.
type AttrTree struct {
	// Entries counts the names below the root (each name of a hard-link
	// group).
	Entries int
	// Files are regular files with one name and no ACL.
	Files []string
	// HardLinks are the names of each hard-link group, first name first.
	HardLinks [][]string
	// Dirs are the directories, the root left out.
	Dirs []string
	// Sparse are the files with holes or long runs of zeros.
	Sparse []string
}
