//go:build !linux

package rsyncproto

import (
	"errors"

	"github.com/gsync/gsync/internal/beneath"
)

// errAttrsUnsupported: -A and -X read ACLs and xattrs the Linux way only.
var errAttrsUnsupported = errors.New("ACLs (-A) and xattrs (-X) are supported on Linux only")

// attrReader reads no attributes on this system.
type attrReader struct{ links *beneath.Links }

func openAttrReader(*beneath.Root) (*attrReader, error) { return nil, errAttrsUnsupported }

func (a *attrReader) close() {}

func (a *attrReader) readEntry(*entry, *Options) error { return errAttrsUnsupported }

func (a *attrReader) xattrValues(*entry) (map[string][]byte, error) { return nil, errAttrsUnsupported }
