//go:build !unix

package transport

import "io/fs"

// linkID: hard links are not tracked on this system.
func linkID(fs.FileInfo) (fileID, bool) { return fileID{}, false }
