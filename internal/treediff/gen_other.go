//go:build !linux

package treediff

import "errors"

// GenerateAttrTree is implemented on Linux only.
func GenerateAttrTree(string, uint64) (*AttrTree, error) {
	return nil, errors.New("GenerateAttrTree is implemented on Linux only")
}
