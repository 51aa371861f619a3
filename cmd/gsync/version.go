package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/gsync/gsync/rsyncproto"
)

// Build stamps, set by the release build:
//
//	go build -ldflags "-X main.version=v0.1.0-12-gabcdef -X main.commit=abcdef"
//
// Without them, versionString falls back to what the Go toolchain recorded
// in the binary (module version for `go install module@version`, VCS
// revision for builds inside a git checkout).
var (
	version = "dev"
	commit  = ""
)

// versionString is what --version prints after the program name, e.g.
// "v0.1.0-12-gabcdef (commit abcdef, go1.26.8, rsync protocols 27-32)".
func versionString() string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(version, commit, bi)
}

// formatVersion combines the stamped version and commit with the build
// information bi (which may be nil).
func formatVersion(ver, rev string, bi *debug.BuildInfo) string {
	goVersion := runtime.Version()
	if bi != nil {
		if ver == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		if rev == "" {
			rev = vcsRevision(bi.Settings)
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return fmt.Sprintf("%s (commit %s, %s, rsync protocols %d-%d)", ver, rev, goVersion, rsyncproto.MinProtocol, rsyncproto.MaxProtocol)
}

// vcsRevision returns the short VCS revision the toolchain stamped, with
// "-dirty" when the work tree had local changes, or "".
func vcsRevision(settings []debug.BuildSetting) string {
	var rev string
	var dirty bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return ""
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
