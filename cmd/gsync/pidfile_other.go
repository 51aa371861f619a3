//go:build !unix

package main

import "os"

// lockFile does nothing where flock is missing.
func lockFile(*os.File) error { return nil }
