package transport

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/gsync/gsync/rsyncopts"
)

// attrPlan is rsyncopts.Attrs as the local target acts on it: the
// options, their parsed --chmod and --usermap/--groupmap, the umask.
type attrPlan struct {
	rsyncopts.Attrs
	chmod      rsyncopts.Chmod
	umap, gmap rsyncopts.IDMap
	umask      uint32
	// root: gsync runs as root, as rsync's am_root (xattrs: a receiver
	// that is not root keeps the user namespace only).
	root bool
}

// newAttrPlan parses the values of a.
func newAttrPlan(a rsyncopts.Attrs) (attrPlan, error) {
	p := attrPlan{Attrs: a, umask: uint32(rsyncopts.ProcessUmask()), root: os.Geteuid() == 0}
	var err error
	if p.chmod, err = rsyncopts.ParseChmod(a.Chmod); err != nil {
		return p, err
	}
	if p.umap, err = rsyncopts.ParseIDMap(a.Usermap); err != nil {
		return p, fmt.Errorf("parse --usermap: %w", err)
	}
	if p.gmap, err = rsyncopts.ParseIDMap(a.Groupmap); err != nil {
		return p, fmt.Errorf("parse --groupmap: %w", err)
	}
	return p, nil
}

// xattrsKept reports whether any xattr (ACLs included) is mirrored.
func (a attrPlan) xattrsKept() bool { return a.XAttrs || a.ACLs }

// skip reports whether the source entry of mode m is not mirrored at all
// (generator.c:recv_generator, "skipping non-regular file"): a symlink
// without links, a device without devices, a FIFO or socket without
// specials. Its target entry, if any, is left alone, and not deleted.
func (a attrPlan) skip(m fs.FileMode) bool {
	switch t := m.Type(); {
	case t == fs.ModeSymlink:
		return a.NoLinks
	case t&fs.ModeDevice != 0:
		return a.NoDevices
	case t&(fs.ModeNamedPipe|fs.ModeSocket) != 0:
		return a.NoSpecials
	}
	return false
}

// srcMode is the mode of the source entry as rsync's sender lists it:
// --chmod applied to all but symlinks (flist.c:make_file, tweak_mode).
func (a attrPlan) srcMode(sfi fs.FileInfo) fs.FileMode {
	m := sfi.Mode()
	if a.chmod.IsZero() || m.Type() == fs.ModeSymlink {
		return m
	}
	st := unixPerm(m)
	if m.IsDir() {
		st |= 0o040000
	}
	return m.Type() | goPerm(a.chmod.Apply(st))
}

// wantMode is the mode the target entry gets (rsync.c:dest_mode): the
// source's; without perms an existing entry (tfi, of the same kind)
// keeps its own and a new one gets the source's less the umask, without
// setuid, setgid and sticky.
func (a attrPlan) wantMode(sfi, tfi fs.FileInfo) fs.FileMode {
	m := a.srcMode(sfi)
	if !a.NoPerms {
		return m
	}
	if tfi != nil && tfi.IsDir() == sfi.IsDir() {
		keep := tfi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if a.Executability && m.IsRegular() {
			// rsync.c:dest_mode: a file the source has not executable
			// loses its x bits; one it has executable gets x wherever
			// r is, unless it is executable already.
			switch {
			case m.Perm()&0o111 == 0:
				keep &^= 0o111
			case keep&0o111 == 0:
				keep |= (keep & 0o444) >> 2
			}
		}
		return m.Type() | keep
	}
	return m.Type() | goPerm(unixPerm(m)&0o777&^a.umask)
}

// unixPerm returns the st_mode permission bits (07777) of m.
func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

// goPerm returns the fs.FileMode of the st_mode permission bits p.
func goPerm(p uint32) fs.FileMode {
	m := fs.FileMode(p & 0o777)
	if p&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if p&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if p&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// permBits is the part of a FileMode that chmod sets.
const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// xattrError is a failure to read or keep an xattr or ACL; attr names the
// attribute ("xattrs", "ACLs") for the warning when the file system
// cannot keep it.
type xattrError struct {
	attr string
	err  error
}

func (e *xattrError) Error() string { return e.err.Error() }
func (e *xattrError) Unwrap() error { return e.err }

// attrWarn reports err of the entry rel as a warning, once per attribute
// per push, when it means the target cannot keep the attribute, and
// returns nil; other errors are returned.
func (r *run) attrWarn(rel string, err error) error {
	if err == nil {
		return nil
	}
	var rest []error
	for _, e := range unjoin(err) {
		var xe *xattrError
		if !errors.As(e, &xe) || !unsupported(e) {
			rest = append(rest, e)
			continue
		}
		if _, done := r.warned[xe.attr]; done {
			continue
		}
		r.warned[xe.attr] = struct{}{}
		r.l.log.Warn("target cannot keep "+xe.attr, "path", srcRel(rel), "err", e)
	}
	return errors.Join(rest...)
}

// unjoin splits an errors.Join.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// sparseChunk is the size of the pieces a sparse copy examines: rsync's
// receiver writes the data of a whole-file transfer in CHUNK_SIZE pieces.
const sparseChunk = 32 << 10

// copySparse copies src to dst as rsync -S writes it
// (fileio.c:write_sparse, sparse_end): the zeros that lead or trail each
// piece are skipped by seeking, leaving holes, and the file gets its full
// length at the end.
func copySparse(dst *os.File, src io.Reader) (int64, error) {
	buf := make([]byte, sparseChunk)
	var total, pending int64
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			b := buf[:n]
			lead := zeroPrefix(b)
			total += int64(n)
			if lead == n {
				pending += int64(n)
			} else {
				trail := zeroSuffix(b[lead:])
				if _, err := dst.Seek(pending+int64(lead), io.SeekCurrent); err != nil {
					return total, fmt.Errorf("seek over zeros: %w", err)
				}
				if _, err := dst.Write(b[lead : n-trail]); err != nil {
					return total, err
				}
				pending = int64(trail)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return total, err
		}
	}
	if pending > 0 {
		if err := dst.Truncate(total); err != nil {
			return total, fmt.Errorf("extend over trailing zeros: %w", err)
		}
	}
	return total, nil
}

func zeroPrefix(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return len(b)
}

func zeroSuffix(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return len(b) - 1 - i
		}
	}
	return len(b)
}
