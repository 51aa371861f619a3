package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/gsync/gsync/rsyncproto"
)

// classifyExit gives the retry class (ARCHITECTURE.md, fatal vs transient) of a session that
// the receiving rsync ended with ee; prefix is "verb target". Refused
// options (explained by optionsHint), the --max-delete limit and an
// unsupported protocol (protocolHint) are fatal; every other code (3, 5,
// 6, 10-12, 14, 20-22, 30, 35, 255 and the unknown) is worth a retry.
func classifyExit(prefix string, err error, ee *rsyncproto.ExitError, optionsHint, protocolHint string) error {
	switch ee.Code {
	case rsyncproto.ExitSyntax, rsyncproto.ExitUnsupported:
		return Fatal(fmt.Errorf("%s: %w (%s)", prefix, err, optionsHint))
	case rsyncproto.ExitDelLimit:
		return Fatal(fmt.Errorf("%s: %w: %w", prefix, ErrDeleteLimit, err))
	case rsyncproto.ExitProtocol:
		if errors.Is(err, rsyncproto.ErrAttrsProtocol) {
			protocolHint = "-A and -X need rsync >= 3.0 at both ends and no --protocol below 30"
		}
		return Fatal(fmt.Errorf("%s: %w (%s)", prefix, err, protocolHint))
	}
	return Transient(fmt.Errorf("%s: %w", prefix, err))
}

// sourceGone reports whether err says a file does not exist because the
// source root itself vanished (an unmounted source, say): not worth a
// retry.
func sourceGone(err error, src string) bool {
	if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	_, serr := os.Stat(src)
	return serr != nil
}
