//go:build !unix

package treediff

import "io/fs"

func owner(fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }

func rdev(fs.FileInfo) uint64 { return 0 }

func inodeOf(fs.FileInfo) (id inodeID, nlink uint64, blocks int64, ok bool) {
	return inodeID{}, 0, 0, false
}
