// Package rsyncopts holds rsync's transfer options as gsync takes them,
// in rsync's spelling: from gsync's command line, from lsyncd's
// rsync = {...} keys and from their _extra words. It parses and validates
// them (Attrs, ParseChmod, ParseIDMap) and imports no other gsync package;
// the targets act on the result.
package rsyncopts

// Attrs says which file attributes a push keeps on the target, in rsync's
// terms. The zero value is rsync -a's set (-rlptgoD: symlinks, modes,
// mtimes, owner, group, devices and specials); the No fields turn one off
// as rsync's --no-OPTION does, the others add what -a leaves out.
// Attrs is comparable: two syncs with equal Attrs push alike.
type Attrs struct {
	NoLinks    bool // --no-links: symlinks are skipped, not copied
	NoPerms    bool // --no-perms: the target keeps its own modes (new entries: the source's less the umask)
	NoTimes    bool // --no-times: mtimes are not kept
	NoOwner    bool // --no-owner: new entries belong to the receiving user
	NoGroup    bool // --no-group: new entries get the receiving user's group
	NoDevices  bool // --no-devices: device files are skipped
	NoSpecials bool // --no-specials: FIFOs and sockets are skipped

	HardLinks  bool // -H: names of one inode stay one inode on the target
	ACLs       bool // -A: POSIX ACLs (implies perms)
	XAttrs     bool // -X: extended attributes
	Sparse     bool // -S: runs of zeros become holes on the target
	NumericIDs bool // --numeric-ids: owners by number, not by name
	// Executability (-E) keeps, without -p, whether regular files are
	// executable: the target's modes get their x bits from the source's
	// (rsync.c:dest_mode).
	Executability bool

	// Usermap and Groupmap are rsync's --usermap and --groupmap
	// ("FROM:TO,...", see ParseIDMap); --chown=USER:GROUP sets them to
	// "*:USER" and "*:GROUP" (and keeps owner and group).
	Usermap  string
	Groupmap string
	// Chmod is rsync's --chmod ("D2775,F664", "u+rwX,go-w", see
	// ParseChmod), applied to the modes of the source's entries.
	Chmod string
}
