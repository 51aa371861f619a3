package rsyncproto

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/gsync/gsync/internal/bwlimit"
)

// session is one push over an established stream. The session goroutine
// owns the writer; the demux goroutine owns the reader once multiplexing
// started; the watchdog goroutine only interrupts the stream.
type session struct {
	c  *conn
	br *bufio.Reader // raw input (handshake) and the demux's source
	// dataBuf is the file data buffer, kept from one file to the next.
	dataBuf []byte
	out     *muxWriter
	in      *wireReader // protocol stream from the server (after demux)
	dm      *demux
	proto   int
	compat  uint32
	sums    sumConfig
	tok     *tokenCoder // file data compression; nil: plain
	opts    *Options
	ndxOut  ndxState
	ndxIn   ndxState

	// filled by the demux goroutine; guarded by mu
	mu          sync.Mutex
	warnings    []string // at most maxKeptWarnings, then one summary line
	moreWarn    int      // warnings not kept
	peerMsgs    int      // peer messages passed to Options.Warn
	xferErrs    []string // MSG_ERROR_XFER texts, escaped for display
	gotDelStats bool     // NDX_DEL_STATS seen (accepted once per session)
	xferRaw     []string // the same texts as received (capped), to attribute them
	xferSize    int      // bytes held in xferErrs and xferRaw
	moreXfer    int      // MSG_ERROR_XFER messages not kept
	exitCode    int      // server's MSG_ERROR_EXIT code, -1 if none
	gotExit     bool
	peerIOError int32
	deleted     int
	lastError   string
	// confirmed are the file indexes the receiver confirmed with
	// MSG_SUCCESS (--remove-source-files), each below confirmCap.
	confirmed  map[int32]struct{}
	confirmCap int32

	abortMu  sync.Mutex
	abortErr error
}

func newSession(c *conn, br *bufio.Reader, opts *Options) *session {
	if br == nil {
		br = bufio.NewReaderSize(c, 64*1024)
	}
	// --bwlimit: everything we write goes through rsync's token bucket
	// (io.c:writefd_unbuffered, sleep_for_bwlimit).
	w := bwlimit.New(opts.BwLimit).Writer(c)
	return &session{c: c, br: br, out: &muxWriter{w: w}, opts: opts,
		ndxOut: newNdxState(), ndxIn: newNdxState(), exitCode: -1}
}

// watch starts the watchdog: on ctx cancellation or after timeout without
// I/O it interrupts the stream. The returned func stops it.
func (s *session) watch(ctx context.Context, timeout time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.Second
		if timeout > 0 && timeout/4 < tick {
			tick = max(timeout/4, 10*time.Millisecond)
		}
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				s.abort(ctx.Err())
				return
			case <-t.C:
				if timeout > 0 && time.Since(time.Unix(0, s.c.last.Load())) > timeout {
					s.abort(&ExitError{Code: ExitTimeout, Msg: fmt.Sprintf("no data moved for %v", timeout)})
					return
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (s *session) abort(err error) {
	s.abortMu.Lock()
	if s.abortErr == nil {
		s.abortErr = err
	}
	s.abortMu.Unlock()
	s.c.interrupt()
}

// aborted reports whether the watchdog or the context stopped the session.
func (s *session) aborted() bool {
	s.abortMu.Lock()
	defer s.abortMu.Unlock()
	return s.abortErr != nil
}

// cause maps an I/O error to the watchdog's reason when it fired.
func (s *session) cause(err error) error {
	s.abortMu.Lock()
	defer s.abortMu.Unlock()
	if s.abortErr != nil {
		return fmt.Errorf("%w (after: %v)", s.abortErr, err)
	}
	return err
}

// Caps on what a session keeps of the peer's messages.
const (
	// maxKeptWarnings: Result.Warnings keeps the first warnings and one
	// line counting the rest.
	maxKeptWarnings = 100
	// maxPeerMsgsLogged: peer messages passed to Options.Warn, then one
	// notice; the rest are only counted.
	maxPeerMsgsLogged = 1000
	// maxXferBytes bounds the MSG_ERROR_XFER texts kept to attribute
	// receiver errors to paths (about 7,000 messages of rsync's usual
	// length); later ones are counted.
	maxXferBytes = 1 << 20
)

// warn records a warning of our own (not peer text).
func (s *session) warn(msg string) {
	msg = strings.TrimRight(msg, "\n")
	s.mu.Lock()
	s.keepWarning(msg)
	s.mu.Unlock()
	if s.opts.Warn != nil {
		s.opts.Warn(msg)
	}
}

// keepWarning appends msg to the kept warnings or counts it; s.mu held.
func (s *session) keepWarning(msg string) {
	if len(s.warnings) < maxKeptWarnings {
		s.warnings = append(s.warnings, msg)
		return
	}
	s.moreWarn++
	note := fmt.Sprintf("... and %d more messages (not kept)", s.moreWarn)
	if len(s.warnings) == maxKeptWarnings {
		s.warnings = append(s.warnings, note)
	} else {
		s.warnings[maxKeptWarnings] = note
	}
}

// peerWarn records text (escaped) the peer sent and passes it to
// Options.Warn, up to maxPeerMsgsLogged messages per session.
func (s *session) peerWarn(text string) {
	s.mu.Lock()
	s.keepWarning(text)
	s.peerMsgs++
	n := s.peerMsgs
	s.mu.Unlock()
	if s.opts.Warn == nil || n > maxPeerMsgsLogged+1 {
		return
	}
	if n == maxPeerMsgsLogged+1 {
		text = fmt.Sprintf("peer sent more than %d messages; further ones are not shown", maxPeerMsgsLogged)
	}
	s.opts.Warn(text)
}

// keepXferErr keeps a MSG_ERROR_XFER text (raw and escaped) within
// maxXferBytes; s.mu held.
func (s *session) keepXferErr(raw, escaped string) {
	if s.xferSize+len(raw)+len(escaped) > maxXferBytes && len(s.xferErrs) > 0 {
		s.moreXfer++
		return
	}
	s.xferSize += len(raw) + len(escaped)
	s.xferRaw = append(s.xferRaw, raw)
	s.xferErrs = append(s.xferErrs, escaped)
}

// xferFailures turns the receiver's MSG_ERROR_XFER messages into
// per-path failures: attributed with the text as received (names may
// hold any byte), reported escaped. Messages beyond the cap become one
// failure without a path. The caller holds s.mu.
func (s *session) xferFailures(names *nameSet) []FileError {
	out := make([]FileError, 0, len(s.xferRaw)+1)
	for i, raw := range s.xferRaw {
		if attrNotKept(raw) {
			continue // counted by collect
		}
		out = append(out, FileError{Path: attribute(raw, names), Err: fmt.Errorf("%w: %s", ErrReceiver, s.xferErrs[i])})
	}
	if s.moreXfer > 0 {
		out = append(out, FileError{Err: fmt.Errorf("%w: %d more receiver errors (not kept)", ErrReceiver, s.moreXfer)})
	}
	return out
}

// handleMsg processes an out-of-band server message (io.c:read_a_msg). It
// runs on the demux goroutine and never writes to the stream. The payload
// is at most maxMsgText bytes (demux.readMsg).
func (s *session) handleMsg(m peerMsg) error {
	raw := strings.TrimRight(string(m.payload), "\r\n")
	switch m.tag {
	case msgErrorXfer:
		text := EscapeText(raw)
		s.mu.Lock()
		s.keepXferErr(raw, text)
		s.lastError = text
		s.mu.Unlock()
		s.peerWarn(text)
	case msgError:
		text := EscapeText(raw)
		s.mu.Lock()
		s.lastError = text
		s.mu.Unlock()
		s.peerWarn(text)
	case msgInfo, msgWarning, msgLog, msgClient:
		s.peerWarn(EscapeText(raw))
	case msgIOError:
		if len(m.payload) != 4 { // demux.readMsg checked; handleMsg stays safe alone
			return fmt.Errorf("MSG_IO_ERROR of %d bytes: %w", len(m.payload), errProtocol)
		}
		s.mu.Lock()
		s.peerIOError |= int32(leUint32(m.payload))
		s.mu.Unlock()
	case msgSuccess:
		if !s.opts.RemoveSourceFiles {
			return nil // only asked for with --remove-source-files
		}
		ndx := int32(leUint32(m.payload))
		s.mu.Lock()
		defer s.mu.Unlock()
		if ndx < 0 || ndx >= s.confirmCap {
			return fmt.Errorf("MSG_SUCCESS for file index %d (list has %d): %w", ndx, s.confirmCap, errProtocol)
		}
		if s.confirmed == nil {
			s.confirmed = map[int32]struct{}{}
		}
		s.confirmed[ndx] = struct{}{}
	case msgIOTimeout, msgNoop, msgNoSend:
		// MSG_IO_TIMEOUT: our own watchdog applies; the others need no action.
	case msgDeleted:
		s.mu.Lock()
		s.deleted++
		s.mu.Unlock()
		s.deletedItem(m.payload)
	case msgErrorExit:
		code := 0
		if len(m.payload) >= 4 {
			code = int(int32(leUint32(m.payload)))
		}
		s.mu.Lock()
		s.gotExit, s.exitCode = true, code
		msg := s.lastError
		s.mu.Unlock()
		return &ExitError{Code: code, Msg: "server exited: " + msg}
	default:
		return fmt.Errorf("unexpected message tag %d: %w", m.tag, errProtocol)
	}
	return nil
}

func leUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// setupProtocol runs compat.c:setup_protocol after the version is known:
// compat flags, checksum negotiation, seed. Then multiplexing starts.
func (s *session) setupProtocol() error {
	if err := checkAttrProtocol(s.opts, s.proto); err != nil {
		return err
	}
	raw := &wireReader{r: s.br}
	if s.proto >= 30 {
		s.compat = uint32(raw.varint())
		if raw.err != nil {
			return fmt.Errorf("read compat flags: %w", s.cause(raw.err))
		}
		if s.compat&cfIncRecurse != 0 && !offersIncRecurse(s.opts, s.proto) {
			return &ExitError{Code: ExitProtocol, Msg: "server enabled incremental recursion we did not offer"}
		}
	}
	s.sums = sumConfig{kind: csumMD4, proto: s.proto, seedFirst: s.compat&cfChksumSeedFix != 0}
	if s.proto >= 30 {
		s.sums.kind = csumMD5
	}
	// compat.c:negotiate_the_strings: both lists go out before either
	// is read; the compression list only for -z without a choice.
	compress := s.opts.Compress
	negotiate := s.compat&cfVarintFlistFlags != 0
	if negotiate {
		s.out.buf = appendVstring(s.out.buf, ourChecksums)
		if compress == CompressAuto {
			s.out.buf = appendVstring(s.out.buf, ourCompressions)
		}
		if err := s.out.flush(); err != nil {
			return fmt.Errorf("send checksum list: %w", s.cause(err))
		}
		theirs := raw.vstring() // at most 0x7fff bytes (io.c:read_vstring)
		if raw.err != nil {
			return fmt.Errorf("read checksum list: %w", s.cause(raw.err))
		}
		if compress == CompressAuto {
			theirZ := raw.vstring()
			if raw.err != nil {
				return fmt.Errorf("read compression list: %w", s.cause(raw.err))
			}
			if compress = pickCompress(theirZ); compress == "" {
				return &ExitError{Code: ExitUnsupported, Msg: fmt.Sprintf("failed to negotiate a compression (server offers \"%s\")", EscapeText(theirZ))}
			}
		}
		s.sums.kind = 0
		for _, ours := range strings.Fields(ourChecksums) {
			for _, t := range strings.Fields(theirs) {
				if ours == t && s.sums.kind == 0 {
					s.sums.kind = csumByName(ours)
				}
			}
		}
		if s.sums.kind == 0 {
			return &ExitError{Code: ExitUnsupported, Msg: fmt.Sprintf("failed to negotiate a checksum (server offers \"%s\")", EscapeText(theirs))}
		}
	}
	s.sums.seed = raw.int32()
	if raw.err != nil {
		if errors.Is(raw.err, io.EOF) && !s.aborted() {
			return &ExitError{Code: ExitStartClient, Msg: "server closed the connection before the checksum seed (refused arguments?)"}
		}
		return fmt.Errorf("read checksum seed: %w", s.cause(raw.err))
	}
	if err := s.startCompression(compress); err != nil {
		return err
	}
	// Server output is multiplexed from here; ours from protocol 30 on.
	s.dm = newDemux(s.handleMsg, s.c)
	s.in = &wireReader{r: s.dm}
	s.c.muxed.Store(true)
	go s.dm.run(s.br)
	s.out.framed = s.proto >= 30
	return nil
}

// startCompression sets up the token coder for the compression in
// effect (compat.c:parse_compress_choice): CompressAuto without
// negotiation is classic zlib; zlib and zlibx at level 0 are none.
func (s *session) startCompression(name string) error {
	if name == "" {
		return nil
	}
	if name == CompressAuto {
		name = CompressZlib
	}
	level, on := compressLevel(name, s.opts.CompressLevel, s.opts.CompressLevelSet)
	if !on {
		return nil
	}
	var skip *skipList
	switch {
	case s.opts.SkipCompressSet:
		skip = parseSkipList(s.opts.SkipCompress)
	default:
		skip = parseSkipList(skipSuffixes)
	}
	t, err := newTokenCoder(s.out, name, level, s.proto, skip)
	if err != nil {
		return err
	}
	s.tok = t
	return nil
}

// compressName is the compression of file data in effect ("" for none).
func (s *session) compressName() string {
	if s.tok == nil {
		return ""
	}
	return s.tok.name
}

// checkAttrProtocol refuses -A and -X below protocol 30, which cannot
// carry them (compat.c:setup_protocol).
func checkAttrProtocol(o *Options, proto int) error {
	if proto >= 30 {
		return nil
	}
	for _, opt := range []struct {
		on   bool
		name string
	}{{o.ACLs, "--acls"}, {o.XAttrs, "--xattrs"}} {
		if opt.on {
			return fmt.Errorf("%w: %w", ErrAttrsProtocol,
				&ExitError{Code: ExitProtocol, Msg: fmt.Sprintf("%s requires protocol 30 or higher (negotiated %d)", opt.name, proto)})
		}
	}
	return nil
}

// readErr converts a failed stream read into the session's error.
func (s *session) readErr(what string, err error) error {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee
	}
	if errors.Is(err, io.EOF) && !s.aborted() {
		s.mu.Lock()
		last := s.lastError
		s.mu.Unlock()
		msg := "connection closed by the server while " + what
		if last != "" {
			msg += ": " + last
		}
		return &ExitError{Code: ExitStreamIO, Msg: msg}
	}
	return fmt.Errorf("%s: %w", what, s.cause(err))
}

// finish stops the demux goroutine: it drops data from now on and waits
// for the peer to close (reading its last messages), then interrupts the
// stream after a grace period. A peer that keeps sending data ends it at
// once (maxDataAfterEnd).
func (s *session) finish() {
	if s.dm == nil {
		return
	}
	s.dm.release()
	select {
	case <-s.dm.done:
		return
	case <-time.After(5 * time.Second):
	}
	s.c.interrupt()
	<-s.dm.done
}

// errorExit performs the client side of the error-exit handshake
// (io.c:read_a_msg, cleanup.c:_exit_cleanup) after the server sent
// MSG_ERROR_EXIT: an empty MSG_ERROR_EXIT at protocol >= 31.
func (s *session) errorExit() {
	if s.proto >= 31 && s.out.framed {
		_ = s.out.msg(msgErrorExit, nil)
	}
}
