package rsyncproto

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"os"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gsync/gsync/internal/beneath"
)

// iflags bits (rsync.h ITEM_*).
const (
	itemReportTime      = 1 << 3
	itemReportXattr     = 1 << 8
	itemBasisTypeFollow = 1 << 11
	itemXnameFollows    = 1 << 12
	itemIsNew           = 1 << 13
	itemLocalChange     = 1 << 14
	itemTransfer        = 1 << 15
)

// pushState tracks one push's per-file outcome.
type pushState struct {
	fl      *fileList
	names   *nameSet   // paths listed incrementally (fl.list holds the others)
	inc     *incSender // incremental recursion; nil without
	ioError int32
	res     *Result
	changed map[string]bool
	// xferErr: a per-file error the receiver was not told about as an
	// I/O error (an xattr value that could not be re-read): exit 23.
	xferErr bool
}

// push runs the sender after setupProtocol (main.c:client_run, sender half).
func (s *session) push(ctx context.Context, req *Request, fl *fileList) (*Result, error) {
	if fl.deferred && s.compat&cfIncRecurse == 0 {
		// The receiver declined incremental recursion: the whole list.
		root := fl.root
		fl.attrs.close()
		fl.attrs, fl.root = nil, nil
		built, err := buildWithRoot(ctx, root, req, s.c.touch)
		if err != nil {
			root.Close()
			s.c.interrupt()
			s.finish()
			return &Result{Protocol: s.proto, ExitCode: ExitFileSelect}, fmt.Errorf("build file list: %w", err)
		}
		fl = built
	}
	ps := &pushState{fl: fl, ioError: fl.ioError, changed: map[string]bool{},
		res: &Result{Protocol: s.proto, Checksum: s.sums.kind.String(), Compress: s.compressName()}}
	defer fl.close()
	if fl.deferred {
		ps.names = newNameSet()
		ps.inc = newIncSender(ctx, s, fl, ps.names)
		ps.res.IncRecurse = true
	}
	ps.res.Failed = append(ps.res.Failed, fl.failed...)
	for _, w := range fl.warnings {
		s.warn(w)
	}
	if req.Options.RemoveSourceFiles && ps.inc == nil {
		s.mu.Lock()
		s.confirmCap = int32(len(fl.list))
		s.mu.Unlock()
	}
	err := s.sendLists(req, fl, ps)
	if err == nil {
		err = s.sendFiles(ctx, req, ps)
	}
	if err == nil {
		err = s.goodbye()
	}
	if err == nil && req.Options.RemoveSourceFiles && !req.Options.DryRun {
		// Every MSG_SUCCESS came before the final goodbye, and the
		// demux handled it before passing the goodbye on.
		s.removeConfirmed(ps)
	}
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) && s.serverExited() {
			s.errorExit()
			_ = s.out.flush()
		}
		s.c.interrupt()
	}
	s.finish()
	if ps.inc != nil {
		// What listing found, as it went.
		ps.ioError |= fl.ioError
		ps.res.Failed = append(ps.res.Failed, fl.failed...)
	}
	s.collect(ps)
	if err == nil && ps.res.DeletesSkipped {
		ps.res.Failed = append(ps.res.Failed, skippedDeletes(fl)...)
	}
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			ps.res.ExitCode = ee.Code
		} else {
			ps.res.ExitCode = ExitStreamIO
		}
		return ps.res, err
	}
	return ps.res, nil
}

func (s *session) serverExited() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gotExit
}

// sendLists writes the filter list (when the receiver deletes) and the
// file list (exclude.c:send_filter_list, flist.c:send_file_list).
func (s *session) sendLists(req *Request, fl *fileList, ps *pushState) error {
	o := &req.Options
	if sendFilterList(o, s.proto) {
		rules := receiverRules(o)
		if r := backupProtectRule(o); r != "" && s.proto >= 29 {
			rules = append([]string{r}, rules...)
		}
		s.out.buf = appendFilterList(s.out.buf, scopeRules(rules, fl, s.proto))
	}
	if ps.inc != nil {
		if err := ps.inc.sendFirst(); err != nil {
			return err
		}
		if err := s.out.flush(); err != nil {
			return fmt.Errorf("send file list: %w", s.cause(err))
		}
		return nil
	}
	sortEntries(fl.list, s.proto)
	if o.HardLinks {
		assignHardLinks(fl.list, s.proto)
	}
	fo := flistOpts{proto: s.proto, varint: s.compat&cfVarintFlistFlags != 0,
		id0Names: s.compat&cfID0Names != 0, owner: o.Owner, group: o.Group,
		numericIDs: o.NumericIDs, devices: o.Devices, specials: o.Specials, hardLinks: o.HardLinks,
		checksum: o.Checksum, csumLen: s.sums.kind.digestLen(),
		noLinks: o.NoLinks, acls: o.ACLs, xattrs: o.XAttrs}
	if o.Checksum {
		for _, e := range fl.list {
			if e.isReg() {
				if sum := s.listChecksum(fl, e); sum != nil {
					e.ext().sum = sum
				}
			}
		}
	}
	enc := newFlistEncoder(fo, lookupUser, lookupGroup)
	for _, e := range fl.list {
		s.out.buf = enc.appendEntry(s.out.buf, e)
		if err := s.out.maybeFlush(); err != nil {
			return fmt.Errorf("send file list: %w", s.cause(err))
		}
	}
	if o.Listed != nil {
		o.Listed(len(fl.list))
	}
	safe := s.compat&cfSafeFlist != 0 || s.proto >= 31
	s.out.buf = enc.appendEnd(s.out.buf, ps.ioError, safe)
	if s.proto >= 30 && !safe && ps.ioError != 0 {
		if err := s.out.msgInt(msgIOError, ps.ioError); err != nil {
			return fmt.Errorf("send io error: %w", s.cause(err))
		}
	}
	if err := s.out.flush(); err != nil {
		return fmt.Errorf("send file list: %w", s.cause(err))
	}
	return nil
}

// listChecksum is the --checksum digest of the regular entry e
// (flist.c:make_file, file_checksum), read beneath the root; nil when the
// file cannot be read as listed (the receiver then compares an all-zero
// sum, which never matches, and asks for the data).
func (s *session) listChecksum(fl *fileList, e *entry) []byte {
	f, err := openListed(fl, e)
	if err != nil {
		return nil
	}
	defer f.Close()
	h := s.sums.listHash()
	if _, err := io.Copy(h, f); err != nil {
		return nil
	}
	if s.sums.kind == csumMD4 {
		return h.Sum(nil)
	}
	return s.sums.fileSum(h)
}

func lookupUser(id uint32) string {
	u, err := user.LookupId(strconv.FormatUint(uint64(id), 10))
	if err != nil {
		return ""
	}
	return u.Username
}

func lookupGroup(id uint32) string {
	g, err := user.LookupGroupId(strconv.FormatUint(uint64(id), 10))
	if err != nil {
		return ""
	}
	return g.Name
}

// readItem reads the next request (rsync.c:read_ndx_and_attrs); nfiles
// is one more than the highest index sent.
func (s *session) readItem(nfiles int) (ndx int32, iflags uint16, fnType byte, xname string, err error) {
	for {
		ndx = s.ndxIn.readNdx(s.in, s.proto)
		if s.in.err != nil {
			return 0, 0, 0, "", s.readErr("reading a file index", s.in.err)
		}
		if ndx == ndxDone {
			return ndx, 0, 0, "", nil
		}
		if ndx == ndxDelStats {
			// main.c:read_del_stats: files, dirs, symlinks, devices,
			// specials. The receiver sends them once, at the end
			// (main.c:do_recv); a stream of them is a peer stalling.
			if s.gotDelStats {
				return 0, 0, 0, "", &ExitError{Code: ExitProtocol, Msg: "protocol violation: the receiver sent its delete statistics twice"}
			}
			s.gotDelStats = true
			n := 0
			for i := 0; i < 5; i++ {
				n += int(s.in.varint())
			}
			if s.in.err != nil {
				return 0, 0, 0, "", s.readErr("reading delete stats", s.in.err)
			}
			continue
		}
		if ndx < 0 || int(ndx) > nfiles {
			return 0, 0, 0, "", &ExitError{Code: ExitStreamIO, Msg: fmt.Sprintf("invalid file index %d (list has %d)", ndx, nfiles)}
		}
		if s.proto >= 29 {
			iflags = s.in.short()
		} else {
			iflags = itemTransfer
		}
		if s.proto < 30 && s.proto >= 29 && int(ndx) == nfiles && iflags == itemIsNew {
			continue // protocol-29 keep-alive
		}
		if int(ndx) == nfiles {
			return 0, 0, 0, "", &ExitError{Code: ExitStreamIO, Msg: fmt.Sprintf("invalid file index %d", ndx)}
		}
		if iflags&itemBasisTypeFollow != 0 {
			fnType = s.in.byte()
		}
		if iflags&itemXnameFollows != 0 {
			xname = s.in.vstring()
		}
		if s.in.err != nil {
			return 0, 0, 0, "", s.readErr("reading item attributes", s.in.err)
		}
		return ndx, iflags, fnType, xname, nil
	}
}

// appendItem echoes ndx and attributes (sender.c:write_ndx_and_attrs).
func (s *session) appendItem(ndx int32, iflags uint16, fnType byte, xname string) {
	s.out.buf = s.ndxOut.appendNdx(s.out.buf, ndx, s.proto)
	if s.proto < 29 {
		return
	}
	s.out.buf = appendShort(s.out.buf, iflags)
	if iflags&itemBasisTypeFollow != 0 {
		s.out.buf = append(s.out.buf, fnType)
	}
	if iflags&itemXnameFollows != 0 {
		s.out.buf = appendVstring(s.out.buf, xname)
	}
}

// xattrRequest reports whether an item with iflags carries the
// receiver's request for xattr values, and our echo the values
// (sender.c:send_files and write_ndx_and_attrs: with -X, ITEM_REPORT_XATTR
// and data transfers, unless the xattr optimization applies).
func (s *session) xattrRequest(iflags uint16) bool {
	if !s.opts.XAttrs || iflags&itemReportXattr == 0 || s.opts.DryRun {
		return false
	}
	optim := s.proto >= 31 && s.compat&cfAvoidXattrOptim == 0
	return !(optim && iflags&itemXnameFollows != 0 && iflags&itemLocalChange != 0)
}

// appendXattrs appends the xattr values the receiver asked for about e,
// re-read from the source (xattrs.c:send_xattr_request).
func (s *session) appendXattrs(ps *pushState, e *entry) {
	var errs []error
	var values map[string][]byte // read once, for every name asked
	var readErr error
	s.out.buf, errs = appendXattrReply(s.out.buf, e.xattrs(), func(name string) ([]byte, error) {
		if values == nil && readErr == nil {
			values, readErr = ps.fl.attrs.xattrValues(e)
		}
		if readErr != nil {
			return nil, readErr
		}
		v, ok := values[name]
		if !ok {
			return nil, fmt.Errorf("xattr %s is gone", EscapeText(name))
		}
		return v, nil
	})
	for _, err := range errs {
		s.warn(fmt.Sprintf("failed to re-read xattr for %q: %v", e.name, err))
		ps.fail(e.name, err)
		ps.xferErr = true
	}
}

// sendFiles answers the generator's requests (sender.c:send_files).
func (s *session) sendFiles(ctx context.Context, req *Request, ps *pushState) error {
	phase, maxPhase := 0, 1
	if s.proto >= 29 {
		maxPhase = 2
	}
	startIOError := ps.ioError
	for {
		nfiles := len(ps.fl.list)
		if ps.inc != nil {
			if err := ps.inc.sendAhead(); err != nil {
				return err
			}
			nfiles = ps.inc.limit()
		}
		if err := s.out.flush(); err != nil {
			return fmt.Errorf("send: %w", s.cause(err))
		}
		ndx, iflags, fnType, xname, err := s.readItem(nfiles)
		if err != nil {
			return err
		}
		if ndx == ndxDone {
			if ps.inc != nil && ps.inc.done() {
				s.out.buf = s.ndxOut.appendNdx(s.out.buf, ndxDone, s.proto)
				continue
			}
			phase++
			if phase > maxPhase {
				break
			}
			s.out.buf = s.ndxOut.appendNdx(s.out.buf, ndxDone, s.proto)
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := ps.entry(ndx)
		if err != nil {
			return err
		}
		s.itemized(e, iflags, xname)
		if iflags&itemTransfer != 0 && !e.isReg() {
			return nonRegularRequest(e)
		}
		xattrReq := s.xattrRequest(iflags)
		if xattrReq {
			if err := readXattrRequest(s.in, e.xattrs()); err != nil {
				return s.readErr("reading an xattr request", err)
			}
		}
		if iflags&itemTransfer == 0 || req.Options.DryRun {
			if iflags&itemTransfer != 0 {
				ps.res.Files++ // a dry run counts what would be sent
			}
			s.appendItem(ndx, iflags, fnType, xname)
			if xattrReq {
				s.appendXattrs(ps, e)
			}
			continue
		}
		if phase == 2 {
			return &ExitError{Code: ExitStreamIO, Msg: "got a transfer request in phase 2"}
		}
		// The redo phase sends in full (sender.c:send_files negates
		// append_mode and make_backups for it).
		mode := sendMode{updating: updatingBasis(&req.Options, s.proto, phase, fnType)}
		if phase == 0 {
			mode.appendMode = req.Options.Append
			if mode.appendMode == 1 && s.proto < 30 {
				// compat.c:setup_protocol: before protocol 30 --append
				// is --append-verify.
				mode.appendMode = 2
			}
		}
		var sh *sumHead
		if mode.appendMode > 0 {
			// sender.c:receive_sums: no block sums follow.
			sh, err = readSumHead(s.in, s.proto, s.sums.kind.digestLen())
		} else {
			sh, err = readSumHeadFor(s.in, s.proto, s.sums.kind.digestLen(), e.size)
		}
		if err != nil {
			return s.readErr("reading block sums", err)
		}
		if err := s.sendOne(ps, ndx, iflags, fnType, xname, e, sh, xattrReq, mode); err != nil {
			return err
		}
	}
	if ps.ioError != startIOError && s.proto >= 30 {
		if err := s.out.msgInt(msgIOError, ps.ioError); err != nil {
			return fmt.Errorf("send io error: %w", s.cause(err))
		}
	}
	s.out.buf = s.ndxOut.appendNdx(s.out.buf, ndxDone, s.proto)
	if err := s.out.flush(); err != nil {
		return fmt.Errorf("send: %w", s.cause(err))
	}
	return nil
}

// sendOne sends one file's data, or MSG_NO_SEND when it cannot be opened.
func (s *session) sendOne(ps *pushState, ndx int32, iflags uint16, fnType byte, xname string, e *entry, sh *sumHead, xattrReq bool, mode sendMode) error {
	f, fi, err := openData(ps.fl, e)
	if err != nil {
		switch {
		case gone(err):
			ps.ioError |= ioErrVanished
			s.warn(fmt.Sprintf("file has vanished: %q", e.name))
			ps.fail(e.name, fmt.Errorf("%w: %v", ErrVanished, err))
		default:
			if errors.Is(err, beneath.ErrNotRegular) {
				// Replaced by a directory or a link since the file
				// list: gone rather than unreadable, which would stop
				// the receiver's deletions (the retry sends what is
				// there now).
				ps.ioError |= ioErrVanished
			} else {
				ps.ioError |= ioErrGeneral
			}
			s.warn(fmt.Sprintf("send_files failed to open %q: %v", e.name, err))
			ps.fail(e.name, err)
		}
		if s.proto >= 30 {
			if err := s.out.msgInt(msgNoSend, ndx); err != nil {
				return fmt.Errorf("send MSG_NO_SEND: %w", s.cause(err))
			}
		}
		return nil
	}
	defer f.Close()
	size := fi.Size()
	if size != e.size || fi.ModTime().Unix() != e.mtime || int32(fi.ModTime().Nanosecond()) != e.nsec {
		ps.changedFile(e.name)
	}
	if mode.appendMode > 0 && size < e.size {
		// sender.c:send_files: --append sends nothing of a file that
		// shrank since it was listed.
		s.warn(fmt.Sprintf("skipped diminished file: %q", e.name))
		if s.proto >= 30 {
			if err := s.out.msgInt(msgNoSend, ndx); err != nil {
				return fmt.Errorf("send MSG_NO_SEND: %w", s.cause(err))
			}
		}
		return nil
	}
	s.appendItem(ndx, iflags, fnType, xname)
	if xattrReq {
		s.appendXattrs(ps, e)
	}
	s.out.buf = sh.appendHead(s.out.buf, s.proto)
	m := matcher{s: s, h: sh, name: e.name, buf: s.dataBuf[:0], mode: mode}
	short, err := m.send(f, size)
	s.dataBuf = m.buf[:0] // reused by the next file
	if err != nil {
		return err
	}
	ps.res.Files++
	ps.res.LiteralBytes += m.literal
	ps.res.MatchedBytes += m.matched
	if p := s.opts.Progress; p != nil {
		p(e.name, m.literal+m.matched)
	}
	if short {
		ps.ioError |= ioErrGeneral
		s.warn(fmt.Sprintf("%q shrank while being sent", e.name))
		ps.changedFile(e.name)
	} else if fi2, err := f.Stat(); err == nil && (fi2.Size() != size || !fi2.ModTime().Equal(fi.ModTime())) {
		ps.changedFile(e.name)
	}
	return nil
}

// removeConfirmed removes from the source the entries the receiver
// confirmed (sender.c:successful_send): files, symlinks, devices and
// specials, never directories; beneath the root, only when the entry
// there still is the listed one, with the listed mtime (and size, for a
// file); a changed one is kept, with rsync's message.
func (s *session) removeConfirmed(ps *pushState) {
	s.mu.Lock()
	ndxs := make([]int32, 0, len(s.confirmed))
	for ndx := range s.confirmed {
		ndxs = append(ndxs, ndx)
	}
	s.mu.Unlock()
	slices.Sort(ndxs)
	for _, ndx := range ndxs {
		if int(ndx) >= len(ps.fl.list) {
			continue
		}
		e := ps.fl.list[ndx]
		if e.mode&sIFMT == sIFDIR || ps.changed[e.name] {
			continue
		}
		if e.realPath() != "" {
			// Reached through a followed symlink (-L, ...): rsync
			// unlinks the name, which may lie outside the root; gsync
			// removes nothing there.
			s.warn(fmt.Sprintf("Skipping sender remove of a file reached through a followed symlink: %q", e.name))
			continue
		}
		err := ps.fl.root.RemoveFile(e.name, func(fi fs.FileInfo) bool {
			return sameIdentity(e, fi) && (!e.isReg() || fi.Size() == e.size) && fi.ModTime().Unix() == e.mtime &&
				int32(fi.ModTime().Nanosecond()) == e.nsec
		})
		switch {
		case err == nil:
			ps.res.Removed = append(ps.res.Removed, e.name)
		case errors.Is(err, beneath.ErrChanged):
			s.warn(fmt.Sprintf("ERROR: Skipping sender remove for changed file: %q", e.name))
		default:
			s.warn(fmt.Sprintf("ERROR: cannot remove source file %q: %v", e.name, err))
		}
	}
}

// entry is the entry the receiver names by ndx.
func (ps *pushState) entry(ndx int32) (*entry, error) {
	if ps.inc != nil {
		return ps.inc.entry(ndx)
	}
	return ps.fl.list[ndx], nil
}

func (ps *pushState) fail(name string, err error) {
	ps.res.Failed = append(ps.res.Failed, FileError{Path: name, Err: err})
}

func (ps *pushState) changedFile(name string) {
	if ps.changed[name] {
		return
	}
	ps.changed[name] = true
	ps.fail(name, ErrChanged)
}

// goodbye is main.c:read_final_goodbye for a client sender.
func (s *session) goodbye() error {
	if s.proto < 29 {
		v := s.in.int32()
		if s.in.err != nil {
			return s.readErr("reading the final goodbye", s.in.err)
		}
		if v != ndxDone {
			return &ExitError{Code: ExitStreamIO, Msg: fmt.Sprintf("invalid packet at end of run (%d)", v)}
		}
		return nil
	}
	ndx, _, _, _, err := s.readItem(0)
	if err != nil {
		return err
	}
	if s.proto >= 31 && ndx == ndxDone {
		s.out.buf = s.ndxOut.appendNdx(s.out.buf, ndxDone, s.proto)
		if err := s.out.flush(); err != nil {
			return fmt.Errorf("send goodbye: %w", s.cause(err))
		}
		ndx, _, _, _, err = s.readItem(0)
		if err != nil {
			return err
		}
	}
	if ndx != ndxDone {
		return &ExitError{Code: ExitStreamIO, Msg: fmt.Sprintf("invalid packet at end of run (%d)", ndx)}
	}
	return nil
}

// collect fills the result from what the demux gathered and sets the exit
// code like cleanup.c:_exit_cleanup.
func (s *session) collect(ps *pushState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := ps.res
	r.Deleted = s.deleted
	r.Warnings = append(r.Warnings, s.warnings...)
	r.BytesRead = s.c.read.Load()
	r.BytesWritten = s.c.written.Load()
	names := ps.names
	if names == nil {
		names = newNameSet()
	}
	for _, e := range ps.fl.list {
		names.add(e.name)
	}
	r.names = names
	r.Failed = append(r.Failed, s.xferFailures(names)...)
	for i, raw := range s.xferRaw {
		if attrNotKept(raw) {
			r.attrNotKept(s.xferErrs[i])
		}
	}
	r.DeletesSkipped = s.opts.Delete && deletesSkipped(s.proto, ps.fl.ioError, ps.ioError|s.peerIOError)
	switch {
	case s.gotExit:
		r.ExitCode = s.exitCode
	case len(s.xferErrs) > 0 || (ps.ioError|s.peerIOError)&ioErrGeneral != 0 || ps.fl.localErr || ps.xferErr:
		r.ExitCode = ExitPartial
	case (ps.ioError|s.peerIOError)&ioErrVanished != 0:
		r.ExitCode = ExitVanished
	}
}

// skippedDeletes lists, as failures with ErrDeletesSkipped, the listed
// paths whose deletions the receiver skipped: those the file list found
// missing at the source and its recursive directories.
func skippedDeletes(fl *fileList) []FileError {
	out := make([]FileError, 0, len(fl.missing)+len(fl.scoped))
	for _, name := range fl.missing {
		out = append(out, FileError{Path: name, Err: ErrDeletesSkipped})
	}
	for _, p := range fl.scoped {
		out = append(out, FileError{Path: p.Name, Err: ErrDeletesSkipped})
	}
	return out
}

// nonRegularRequest ends the session when the receiver asks for the data
// of an entry that is not a regular file: no real receiver does
// (generator.c:recv_generator sets ITEM_TRANSFER for regular files only),
// and a hostile one would get what a symlink points to, or hang the
// sender on a FIFO (the class of CVE-2024-12747).
func nonRegularRequest(e *entry) error {
	return &ExitError{Code: ExitProtocol, Msg: fmt.Sprintf("protocol violation: the receiver asked for the data of %q, a non-regular entry (%s)", e.name, typeName(e.mode))}
}

// typeName names the file type of a wire mode.
func typeName(mode uint32) string {
	switch mode & sIFMT {
	case sIFDIR:
		return "directory"
	case sIFLNK:
		return "symlink"
	case sIFCHR:
		return "character device"
	case sIFBLK:
		return "block device"
	case sIFIFO:
		return "FIFO"
	case sIFSOCK:
		return "socket"
	case sIFREG:
		return "regular file"
	}
	return fmt.Sprintf("mode %#o", mode)
}

// openData opens the listed regular file e for its data
// (sender.c:send_files, do_open_checklinks): beneath the root without
// following a symlink in any component, O_NONBLOCK, and the open file must
// be the listed one (fstat: a regular file with the listed device and
// inode); anything else counts as vanished, or as beneath.ErrNotRegular.
// An entry reached through a followed symlink (-L, --copy-unsafe-links,
// -k) is opened at its real path from "/", with the same checks: a link
// swapped since the list was built is not followed to its new target.
func openData(fl *fileList, e *entry) (*os.File, fs.FileInfo, error) {
	var f *os.File
	var fi fs.FileInfo
	var err error
	if real := e.realPath(); real != "" {
		f, fi, err = fl.links.OpenFile(real)
	} else {
		f, fi, err = fl.root.OpenFile(e.name)
	}
	if err != nil {
		return nil, nil, err
	}
	if !sameIdentity(e, fi) {
		f.Close()
		return nil, nil, fmt.Errorf("open %s: %w: replaced since it was listed", e.name, ErrVanished)
	}
	return f, fi, nil
}

// openListed is openData without the file's attributes.
func openListed(fl *fileList, e *entry) (*os.File, error) {
	f, _, err := openData(fl, e)
	return f, err
}

// deletesSkipped reports whether a receiver asked to delete skipped its
// deletions because of the session's I/O errors: C rsync does so after a
// general error (generator.c:delete_in_dir, "IO error encountered --
// skipping file deletion"), gokrazy/rsync (protocol 27) after any error
// in the file list (receiver/do.go:deleteFiles). Below protocol 29 any
// file-list error counts; at 30 and up a later MSG_IO_ERROR may arrive
// after some directories were cleaned, so this may say more than happened,
// never less.
func deletesSkipped(proto int, flistIOError, ioError int32) bool {
	if proto < 29 && flistIOError != 0 {
		return true
	}
	return ioError&ioErrGeneral != 0
}

// attribute finds the listed path a receiver message is about: the longest
// suffix (at a "/" boundary) of a quoted path, or of the name before
// " failed verification", that is in the file list. Temp names
// (".name.XXXXXX") map to their file. "" if none matches.
func attribute(msg string, names *nameSet) string {
	var cands []string
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		if j := strings.LastIndexByte(msg, '"'); j > i {
			cands = append(cands, msg[i+1:j])
		}
	}
	if i := strings.Index(msg, " failed verification"); i >= 0 {
		c := msg[:i]
		if k := strings.LastIndex(c, ": "); k >= 0 {
			c = c[k+2:]
		}
		cands = append(cands, c)
	}
	for _, c := range cands {
		c = strings.TrimSuffix(c, "/")
		try := []string{c}
		dir, base := "", c
		if k := strings.LastIndexByte(c, '/'); k >= 0 {
			dir, base = c[:k+1], c[k+1:]
		}
		if len(base) > 8 && base[0] == '.' && base[len(base)-7] == '.' {
			try = append(try, dir+base[1:len(base)-7])
		}
		for _, t := range try {
			for p := t; p != ""; {
				if names.has(p) {
					return p
				}
				k := strings.IndexByte(p, '/')
				if k < 0 {
					break
				}
				p = p[k+1:]
			}
		}
	}
	return ""
}

// nameSet is the set of paths a push listed, to attribute receiver
// messages to them: 48-bit hashes of the names (6 bytes a name: a map
// took 40 to 45 and was the largest part of the sender's heap on big
// trees; 64-bit hashes, 8 bytes, were still the largest part of the
// sender's heap at the end of a no-op startup sync), in sorted chunks of
// fixed size. One growing slice was copied at each growth, and on a tree
// of 600,000 names its old and new arrays together were the largest
// block of the startup sync's peak heap. The lookups run after the push,
// once every name was added; a lookup after more adds sorts the chunk
// being filled again.
type nameSet struct {
	seed maphash.Seed
	// full are the full chunks, sorted, each hash big-endian in
	// hashBytes bytes.
	full [][]byte
	// last is the chunk being filled; sorted: it is in order.
	last   []uint64
	sorted bool
}

// nameChunk is the number of hashes in a nameSet chunk (48 KiB).
const nameChunk = 8192

// hashBytes is the size of a nameSet hash: a false positive has odds of
// 2^-48 per listed name, under 2^-25 for a lookup among 10^7 names.
const hashBytes = 6

func newNameSet() *nameSet { return &nameSet{seed: maphash.MakeSeed()} }

func (n *nameSet) hash(name string) uint64 {
	return maphash.String(n.seed, name) >> (64 - 8*hashBytes)
}

func (n *nameSet) add(name string) {
	if n.last == nil {
		n.last = make([]uint64, 0, nameChunk)
	}
	n.last = append(n.last, n.hash(name))
	n.sorted = false
	if len(n.last) < nameChunk {
		return
	}
	slices.Sort(n.last)
	c := make([]byte, 0, hashBytes*nameChunk)
	for _, h := range n.last {
		for i := hashBytes - 1; i >= 0; i-- {
			c = append(c, byte(h>>(8*i)))
		}
	}
	n.full = append(n.full, c)
	n.last = n.last[:0] // reused for the next chunk
}

// has reports whether name was listed (a false positive has odds of
// about 2^-48 per name).
func (n *nameSet) has(name string) bool {
	if n == nil {
		return false
	}
	if !n.sorted {
		slices.Sort(n.last)
		n.sorted = true
	}
	h := n.hash(name)
	if _, ok := slices.BinarySearch(n.last, h); ok {
		return true
	}
	for _, c := range n.full {
		k := len(c) / hashBytes
		i := sort.Search(k, func(i int) bool { return chunkHash(c, i) >= h })
		if i < k && chunkHash(c, i) == h {
			return true
		}
	}
	return false
}

// chunkHash is the i-th hash of the full chunk c.
func chunkHash(c []byte, i int) uint64 {
	var h uint64
	for _, b := range c[i*hashBytes : (i+1)*hashBytes] {
		h = h<<8 | uint64(b)
	}
	return h
}

// sendMode is how one file's data is sent besides the plain delta.
type sendMode struct {
	// appendMode is Options.Append in the first phase: 1 sends only the
	// data past the receiver's length, 2 also sums the part it has.
	appendMode int
	// updating: the receiver writes into its basis file (--inplace),
	// so no block may be matched at an offset already written
	// (sender.c:send_files, updating_basis_file).
	updating bool
}

// fnameBasis is rsync.h FNAMECMP_FNAME: the basis is the file itself.
const fnameBasis = 0x80

// updatingBasis is sender.c:send_files's updating_basis_file for
// --inplace (and --append, which implies it): the receiver's basis is
// the destination file itself.
func updatingBasis(o *Options, proto, phase int, fnType byte) bool {
	if !o.Inplace && o.Append == 0 {
		return false
	}
	if proto >= 29 {
		return fnType == 0 || fnType == fnameBasis
	}
	return !o.Backup || phase > 0
}
