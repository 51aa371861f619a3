//go:build !linux

package transport

import (
	"errors"
	"fmt"
	"io/fs"
)

// xattrsOwned: no xattrs are mirrored on this platform.
func (r *run) xattrsOwned(string) func(string) bool { return func(string) bool { return false } }

// srcXattrs reports that this platform keeps no xattrs or ACLs.
func (r *run) srcXattrs(string, fs.FileInfo) (map[string][]byte, error) {
	return nil, &xattrError{attr: "xattrs and ACLs", err: fmt.Errorf("read xattrs: %w", errors.ErrUnsupported)}
}

func setXattrs(string, map[string][]byte, func(string) bool) (bool, error) { return false, nil }

func unsupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
