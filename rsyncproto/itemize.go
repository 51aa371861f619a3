package rsyncproto

import (
	"strings"
)

// Itemized changes (rsync -i): with Options.Itemize set, the receiver is
// asked to report each entry it would change (server argument
// --log-format=%i, options.c:server_options), and reports it to the
// sender as an index with ITEM_* flags (generator.c:itemize, protocol >=
// 29), and each entry it deletes as MSG_DELETED (log.c:log_delete). With
// DryRun, that is a compare of the source with the target that changes
// nothing: what `rsync -ani` prints.

// The ITEM_* flags (rsync.h) of an Item.
const (
	ItemReportAtime    = 1 << 0
	ItemReportChange   = 1 << 1  // content (checksum) or symlink target differs
	ItemReportSize     = 1 << 2  // regular files only
	ItemReportTimeFail = 1 << 2  // symlinks only
	ItemReportTime     = 1 << 3  // mtime differs
	ItemReportPerms    = 1 << 4  // permissions differ
	ItemReportOwner    = 1 << 5  // owner differs
	ItemReportGroup    = 1 << 6  // group differs
	ItemReportACL      = 1 << 7  // ACL differs
	ItemReportXattr    = 1 << 8  // xattrs differ
	ItemReportCrtime   = 1 << 10 // creation time differs
	ItemBasisFollows   = 1 << 11 // (wire) a basis type byte follows
	ItemXnameFollows   = 1 << 12 // (wire) a name follows: a hard link's
	ItemIsNew          = 1 << 13 // missing on the target
	ItemLocalChange    = 1 << 14 // made on the receiver without data (dirs, links, devices)
	ItemTransfer       = 1 << 15 // the file's data would be sent
)

// significantItemFlags are the flags that make an item worth reporting
// (rsync.h SIGNIFICANT_ITEM_FLAGS).
const significantItemFlags = ^uint32(ItemBasisFollows | ItemXnameFollows | ItemLocalChange)

// Item is one entry the receiver would change or delete, as rsync -i
// reports it.
type Item struct {
	Name    string // relative to the transfer root, "." for the root itself
	Flags   uint32 // ItemReport*, ItemIsNew, ItemLocalChange, ItemTransfer
	Mode    uint32 // st_mode of the source entry; of a deleted entry: S_IFDIR or S_IFREG
	Link    string // a symlink's target at the source
	Xname   string // a hard link: the name it is linked to
	Deleted bool   // the receiver deletes the entry (*deleting)
}

// Significant reports whether it says that the target differs
// (sender.c:maybe_log_item: significant flags, a hard link, a deletion).
func (it Item) Significant() bool {
	return it.Deleted || it.Flags&significantItemFlags != 0 || it.Xname != ""
}

// Code returns rsync's 11-character %i for it (log.c:log_formatted):
// YXcstpoguax, e.g. ">f.st......", "cd+++++++++", or "*deleting  ".
// sending is the sender's view of a transfer ('<'), else '>' (a local
// copy).
func (it Item) Code(sending bool) string {
	if it.Deleted {
		return "*deleting  "
	}
	var c [11]byte
	f := it.Flags
	switch {
	case f&ItemLocalChange != 0 && f&ItemXnameFollows != 0:
		c[0] = 'h'
	case f&ItemLocalChange != 0:
		c[0] = 'c'
	case f&ItemTransfer == 0:
		c[0] = '.'
	case sending:
		c[0] = '<'
	default:
		c[0] = '>'
	}
	bit := func(mask uint32, ch byte) byte {
		if f&mask != 0 {
			return ch
		}
		return '.'
	}
	if it.Mode&sIFMT == sIFLNK {
		c[1], c[3], c[4] = 'L', '.', bit(ItemReportTime, 't')
	} else {
		switch t := it.Mode & sIFMT; {
		case t == sIFDIR:
			c[1] = 'd'
		case t == sIFIFO || t == sIFSOCK:
			c[1] = 'S'
		case t == sIFCHR || t == sIFBLK:
			c[1] = 'D'
		default:
			c[1] = 'f'
		}
		c[3], c[4] = bit(ItemReportSize, 's'), bit(ItemReportTime, 't')
	}
	c[2] = bit(ItemReportChange, 'c')
	c[5], c[6], c[7] = bit(ItemReportPerms, 'p'), bit(ItemReportOwner, 'o'), bit(ItemReportGroup, 'g')
	switch {
	case f&ItemReportAtime != 0 && f&ItemReportCrtime != 0:
		c[8] = 'b'
	case f&ItemReportAtime != 0:
		c[8] = 'u'
	case f&ItemReportCrtime != 0:
		c[8] = 'n'
	default:
		c[8] = '.'
	}
	c[9], c[10] = bit(ItemReportACL, 'a'), bit(ItemReportXattr, 'x')
	switch {
	case f&ItemIsNew != 0:
		for i := 2; i < len(c); i++ {
			c[i] = '+'
		}
	case c[0] == '.' || c[0] == 'h' || c[0] == 'c':
		if strings.Trim(string(c[2:]), ".") == "" {
			for i := 2; i < len(c); i++ {
				c[i] = ' '
			}
		}
	}
	return string(c[:])
}

// Line returns rsync's "%i %n%L" line for it: the code, the name (a
// directory's with a trailing slash, the root as "./"), a symlink's
// target after " -> ", a hard link's after " => ". Names and targets are
// escaped like rsync's output (EscapeText).
func (it Item) Line(sending bool) string {
	name := it.Name
	if it.Mode&sIFMT == sIFDIR && !strings.HasSuffix(name, "/") {
		name += "/"
	}
	s := it.Code(sending) + " " + EscapeText(name)
	switch {
	case it.Mode&sIFMT == sIFLNK && it.Link != "" && !it.Deleted:
		s += " -> " + EscapeText(it.Link)
	case it.Xname != "":
		s += " => " + EscapeText(it.Xname)
	}
	return s
}

// itemized hands the receiver's report of the listed entry e (its
// iflags as read, a hard link's xname) to Options.Itemize.
func (s *session) itemized(e *entry, iflags uint16, xname string) {
	if s.opts.Itemize == nil {
		return
	}
	it := Item{Name: e.name, Flags: uint32(iflags), Mode: e.mode, Link: e.link()}
	if iflags&ItemXnameFollows != 0 && iflags&ItemLocalChange != 0 {
		it.Xname = xname
	}
	if it.Significant() {
		s.opts.Itemize(it)
	}
}

// deletedItem hands a MSG_DELETED payload to Options.Itemize: the name
// of an entry the receiver deleted (or would delete), a directory's with
// a trailing NUL (log.c:log_delete).
func (s *session) deletedItem(payload []byte) {
	if s.opts.Itemize == nil {
		return
	}
	it := Item{Deleted: true, Mode: sIFREG}
	if n := len(payload); n > 0 && payload[n-1] == 0 {
		payload, it.Mode = payload[:n-1], sIFDIR
	}
	it.Name = string(payload)
	s.opts.Itemize(it)
}
