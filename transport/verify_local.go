package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"

	"github.com/gsync/gsync/internal/beneath"
	"github.com/gsync/gsync/rsyncproto"
)

// Verify compares the target directory with the source by walking both,
// without changing anything: each entry the full sync would change is
// itemized as rsync -i would (generator.c:itemize), by the local
// target's own rules (a file is sent unless its size and mtime, to the
// nanosecond, match; owner and group only as root; modes through
// --chmod and --no-perms), and each target entry the source lacks, when
// the delete mode deletes in full syncs. ACLs and xattrs are compared
// on Linux; with -H, further names of a multiply-linked source file
// must share the first name's inode.
func (l *Local) Verify(ctx context.Context, vo VerifyOptions) (VerifyResult, error) {
	r, err := l.newRun(ctx, true, l.opts.Delete.Full())
	if err != nil {
		return VerifyResult{}, err
	}
	defer r.close()
	r.dry = true
	v := &localVerify{r: r, checksum: vo.Checksum}
	sfi, err := r.src.Stat()
	if err != nil {
		return VerifyResult{}, Fatal(fmt.Errorf("stat source %s: %w", l.src, err))
	}
	tfi, err := os.Lstat(l.root)
	if err != nil {
		return VerifyResult{}, Transient(fmt.Errorf("stat target %s: %w", l.root, pathless(err, l.root)))
	}
	v.entry("", sfi, tfi)
	res := VerifyResult{Items: v.items}
	if l.opts.Attrs.ACLs && runtime.GOOS != "linux" {
		res.Unchecked = append(res.Unchecked, "ACLs")
	}
	if l.opts.Attrs.XAttrs && runtime.GOOS != "linux" {
		res.Unchecked = append(res.Unchecked, "xattrs")
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if len(v.failed) > 0 {
		return res, fmt.Errorf("verify %s: %d path(s) could not be compared, first: %v", l.root, len(v.failed), v.failed[0])
	}
	return res, nil
}

// localVerify is one compare of a local target.
type localVerify struct {
	r        *run
	checksum bool
	items    []rsyncproto.Item
	failed   []FileError
	// leaders maps each multiply-linked source file (-H) to its first
	// name in walk order, which the others must share an inode with.
	leaders map[[2]uint64]string
}

func (v *localVerify) add(rel string, flags uint32, mode fs.FileMode, link string) {
	v.items = append(v.items, rsyncproto.Item{Name: srcRel(rel), Flags: flags, Mode: rsyncproto.StMode(mode), Link: link})
}

func (v *localVerify) fail(rel string, err error) {
	v.failed = append(v.failed, FileError{Path: srcRel(rel), Err: err})
}

// entry compares the source entry rel (sfi) with its target entry (tfi,
// nil when missing), and below a directory everything in it.
func (v *localVerify) entry(rel string, sfi, tfi fs.FileInfo) {
	r := v.r
	if r.ctx.Err() != nil || r.l.attrs.skip(sfi.Mode()) {
		return
	}
	if sfi.IsDir() {
		if kfi, kept := r.keptDirlink(rel, tfi); kept {
			tfi = kfi // -K: the link is the directory
		}
	}
	if tfi != nil && tfi.Mode().Type() != sfi.Mode().Type() {
		if tfi.IsDir() {
			// Replaced by a file: rsync logs what the directory held
			// (delete.c:delete_item, DEL_MAKE_ROOM leaves the
			// directory itself out).
			v.deleteBelow(rel)
		}
		tfi = nil
	}
	link := ""
	if sfi.Mode().Type() == fs.ModeSymlink {
		var err error
		if link, err = r.srcReadlink(rel); err != nil {
			v.fail(rel, fmt.Errorf("read source link: %w", err))
			return
		}
	}
	if v.linkedName(rel, sfi, tfi) {
		return
	}
	if tfi == nil {
		flags := uint32(rsyncproto.ItemIsNew | rsyncproto.ItemLocalChange)
		if sfi.Mode().IsRegular() {
			flags = rsyncproto.ItemIsNew | rsyncproto.ItemTransfer
		}
		v.add(rel, flags, sfi.Mode(), link)
	} else if flags := v.differs(rel, sfi, tfi, link); flags != 0 {
		v.add(rel, flags, sfi.Mode(), link)
	}
	if !sfi.IsDir() || rel != "" && r.mountPoint(sfi) {
		return
	}
	v.dir(rel, sfi, tfi != nil)
}

// linkedName handles a further name of a multiply-linked source file
// (-H): its target entry must be the same inode as the first name's,
// else it is itemized as rsync does ("hf          b => a",
// hlink.c:hard_link_check). It reports whether rel was such a name.
func (v *localVerify) linkedName(rel string, sfi, tfi fs.FileInfo) bool {
	if !v.r.l.opts.Attrs.HardLinks || !sfi.Mode().IsRegular() || nlinkOf(sfi) < 2 {
		return false
	}
	dev, ino, ok := beneath.DevIno(sfi)
	if !ok {
		return false
	}
	if v.leaders == nil {
		v.leaders = map[[2]uint64]string{}
	}
	key := [2]uint64{dev, ino}
	leader, seen := v.leaders[key]
	if !seen {
		v.leaders[key] = rel
		return false
	}
	flags := uint32(rsyncproto.ItemLocalChange | rsyncproto.ItemXnameFollows)
	if tfi == nil {
		flags |= rsyncproto.ItemIsNew
	} else if lfi, err := v.r.dstLstat(leader); err == nil && sameFile(lfi, tfi) {
		return true // linked as at the source
	}
	v.items = append(v.items, rsyncproto.Item{Name: rel, Flags: flags, Mode: rsyncproto.StMode(sfi.Mode()), Xname: leader})
	return true
}

// differs returns the itemize flags of an existing target entry tfi of
// the same type as the source entry sfi (0: equal).
func (v *localVerify) differs(rel string, sfi, tfi fs.FileInfo, link string) uint32 {
	r, a := v.r, v.r.l.attrs
	var f uint32
	mtimeDiffers := !sfi.ModTime().Equal(tfi.ModTime())
	switch m := sfi.Mode(); {
	case m.IsRegular():
		sizeDiffers := sfi.Size() != tfi.Size()
		if sizeDiffers {
			f |= rsyncproto.ItemReportSize
		}
		if v.checksum {
			if sizeDiffers || !v.sameContent(rel) {
				f |= rsyncproto.ItemReportChange | rsyncproto.ItemTransfer
			}
		} else if sizeDiffers || mtimeDiffers {
			f |= rsyncproto.ItemTransfer
		}
	case m.Type() == fs.ModeSymlink:
		cur, err := os.Readlink(r.dstPath(rel))
		if err != nil || cur != link {
			f |= rsyncproto.ItemLocalChange | rsyncproto.ItemReportChange
		}
	case !m.IsDir():
		if !sameDevice(sfi, tfi) {
			f |= rsyncproto.ItemLocalChange | rsyncproto.ItemReportChange
		}
	}
	if !a.NoTimes && mtimeDiffers && !r.isKept(rel) { // -K: the referent keeps its mtime
		f |= rsyncproto.ItemReportTime
	}
	if sfi.Mode().Type() != fs.ModeSymlink && a.wantMode(sfi, tfi)&permBits != tfi.Mode()&permBits {
		f |= rsyncproto.ItemReportPerms
	}
	if acl, xattr := v.xattrFlags(rel, sfi); acl || xattr {
		if acl {
			f |= rsyncproto.ItemReportACL
		}
		if xattr {
			f |= rsyncproto.ItemReportXattr
		}
	}
	uid, gid := r.wantOwner(sfi)
	if ownerDiffers(tfi, uid, -1) {
		f |= rsyncproto.ItemReportOwner
	}
	if ownerDiffers(tfi, -1, gid) {
		f |= rsyncproto.ItemReportGroup
	}
	return f
}

// sameContent compares the bytes of the regular file rel at the source
// and on the target.
func (v *localVerify) sameContent(rel string) bool {
	sf, _, err := v.r.openSrcFile(rel)
	if err != nil {
		v.fail(rel, fmt.Errorf("read source: %w", err))
		return true
	}
	defer sf.Close()
	tf, _, err := v.r.dst.OpenFile(v.r.dstRel(rel))
	if err != nil {
		return false
	}
	defer tf.Close()
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		n, errA := io.ReadFull(sf, a)
		m, errB := io.ReadFull(tf, b)
		if n != m || !bytes.Equal(a[:n], b[:m]) {
			return false
		}
		endA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		endB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		switch {
		case errA != nil && !endA:
			v.fail(rel, fmt.Errorf("read source: %w", errA))
			return true
		case errB != nil && !endB:
			return false
		case endA || endB:
			return endA == endB
		}
	}
}

// dir compares the contents of the source directory rel (sfi) with its
// target directory (when exists): the target's extra entries first (as
// deletions, when the delete mode deletes in full syncs), then the
// source's non-directories, then its directories, each in name order.
func (v *localVerify) dir(rel string, sfi fs.FileInfo, exists bool) {
	r := v.r
	names, infos, err := r.readSource(rel, sfi)
	if err != nil {
		if !isNotExist(err) {
			v.fail(rel, err)
		}
		return
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	if exists && r.del {
		tnames, err := v.targetNames(rel)
		if err != nil {
			v.fail(rel, err)
		}
		slices.Sort(tnames)
		slices.Reverse(tnames) // delete.c:delete_in_dir walks the list backwards
		for _, n := range tnames {
			c := child(rel, n)
			if have[n] {
				continue
			}
			tfi, err := r.dstLstat(c)
			if err != nil || r.protected(c, tfi.IsDir()) {
				continue
			}
			v.deleted(c, tfi)
		}
	}
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		di := infos[i].err == nil && infos[i].fi.IsDir()
		dj := infos[j].err == nil && infos[j].fi.IsDir()
		switch {
		case di != dj && di:
			return 1
		case di != dj:
			return -1
		}
		return bytes.Compare([]byte(names[i]), []byte(names[j]))
	})
	for _, i := range order {
		c := child(rel, names[i])
		cfi, err := infos[i].fi, infos[i].err
		if err != nil {
			if !isNotExist(err) {
				v.fail(c, fmt.Errorf("stat source: %w", err))
			}
			continue
		}
		if r.excluded(c, cfi.IsDir()) {
			continue
		}
		var ctfi fs.FileInfo
		if exists {
			if ctfi, err = r.dstLstat(c); err != nil {
				if !isNotExist(err) {
					v.fail(c, fmt.Errorf("stat target: %w", err))
					continue
				}
				ctfi = nil
			}
		}
		v.entry(c, cfi, ctfi)
	}
}

// targetNames lists the target directory rel without following a
// symlink.
func (v *localVerify) targetNames(rel string) ([]string, error) {
	d, err := v.r.dst.OpenDir(srcRel(v.r.dstRel(rel)))
	if err != nil {
		return nil, fmt.Errorf("open target directory: %w", err)
	}
	defer d.Close()
	return d.ReadNames()
}

// deleted itemizes the deletion of the target entry rel: what a
// directory holds first, then the directory.
func (v *localVerify) deleted(rel string, tfi fs.FileInfo) {
	if tfi.IsDir() {
		v.deleteBelow(rel)
	}
	v.items = append(v.items, rsyncproto.Item{Name: rel, Deleted: true, Mode: rsyncproto.StMode(tfi.Mode().Type())})
}

// deleteBelow itemizes the deletion of everything in the target
// directory rel but excluded entries.
func (v *localVerify) deleteBelow(rel string) {
	names, err := v.targetNames(rel)
	if err != nil {
		v.fail(rel, err)
		return
	}
	slices.Sort(names)
	slices.Reverse(names)
	for _, n := range names {
		c := child(rel, n)
		tfi, err := v.r.dstLstat(c)
		if err != nil || v.r.protected(c, tfi.IsDir()) {
			continue
		}
		v.deleted(c, tfi)
	}
}
