package rsyncopts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cvsIgnore is rsync's default list for --cvs-exclude (-C): the
// DEFAULT_CVSIGNORE its build takes from rsync.1.md (usage.c:
// default_cvsignore). Every pattern means the same in lsyncd's dialect
// (a name anywhere in the tree; a trailing "/" for directories).
var cvsIgnore = []string{
	"RCS", "SCCS", "CVS", "CVS.adm", "RCSLOG", "cvslog.*", "tags", "TAGS", ".make.state", ".nse_depinfo",
	"*~", "#*", ".#*", ",*", "_$*", "*$", "*.old", "*.bak", "*.BAK", "*.orig", "*.rej", ".del-*",
	"*.a", "*.olb", "*.o", "*.obj", "*.so", "*.exe", "*.Z", "*.elc", "*.ln", "core",
	".svn/", ".git/", ".hg/", ".bzr/",
}

// CVSExcludes are the exclude patterns of rsync's -C
// (exclude.c:get_cvs_excludes): the default list, then the words of
// home's .cvsignore (a missing file adds none), then the words of
// $CVSIGNORE (env). Per-directory .cvsignore files are not among them.
func CVSExcludes(home, env string) ([]string, error) {
	out := append([]string(nil), cvsIgnore...)
	if home != "" {
		b, err := os.ReadFile(filepath.Join(home, ".cvsignore"))
		switch {
		case err == nil:
			out = append(out, cvsWords(string(b))...)
		case !os.IsNotExist(err):
			return nil, fmt.Errorf("read %s: %w", filepath.Join(home, ".cvsignore"), err)
		}
	}
	return append(out, cvsWords(env)...), nil
}

// cvsWords splits a cvsignore text at white space; a "!" word clears
// the list so far, as cvs and rsync (exclude.c: the "!" rule) do.
func cvsWords(s string) []string {
	var out []string
	for _, w := range strings.Fields(s) {
		if w == "!" {
			out = out[:0]
			continue
		}
		out = append(out, w)
	}
	return out
}
