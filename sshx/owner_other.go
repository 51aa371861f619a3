//go:build !unix

package sshx

import "io/fs"

// fileOwner reports no owner: there are no Unix permissions to check.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }

// readOnlyFS: no Unix permissions are checked here at all.
func readOnlyFS(string) bool { return false }
