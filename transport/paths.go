package transport

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// excludedPath reports whether rel (slash-separated, relative to the source
// root) or one of its parent directories is excluded by ex.
func excludedPath(ex func(rel string, isDir bool) bool, rel string, isDir bool) bool {
	if ex == nil || rel == "" || rel == "." {
		return false
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && ex(rel[:i], true) {
			return true
		}
	}
	return ex(rel, isDir)
}

// lstatBelow stats rel below root without following a symlink in any
// component: a path below a symlink or a file does not exist.
func lstatBelow(root, rel string) (fs.FileInfo, error) {
	for i := 0; i < len(rel); i++ {
		if rel[i] != '/' {
			continue
		}
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel[:i])))
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			return nil, fs.ErrNotExist
		}
	}
	return os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
}

// add sums two push results.
func (s Stats) add(o Stats) Stats {
	s.Files += o.Files
	s.Deleted += o.Deleted
	s.Renamed += o.Renamed
	s.Bytes += o.Bytes
	s.Failed = append(s.Failed, o.Failed...)
	return s
}

// absSource checks that opts names a source directory and makes its path
// absolute; kind names the target in the error ("local", "ssh", ...).
func absSource(kind string, opts Options) (Options, error) {
	if opts.Source == "" {
		return opts, Fatal(fmt.Errorf("create %s target: no source directory", kind))
	}
	src, err := filepath.Abs(opts.Source)
	if err != nil {
		return opts, Fatal(fmt.Errorf("resolve source %s: %w", opts.Source, err))
	}
	opts.Source = src
	return opts, nil
}
