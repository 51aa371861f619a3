package ops

import (
	"fmt"
	"io"

	"github.com/gsync/gsync/mirror"
)

// PrintExplain renders what gsync explain found for a path.
func PrintExplain(w io.Writer, e mirror.Explanation) {
	what := e.Type
	if what == "" {
		what = "does not exist at the source"
	}
	fmt.Fprintf(w, "%s in %s (%s)\n", e.Path, e.Source, what)
	switch {
	case !e.Decided:
		fmt.Fprintln(w, "  mirrored: no exclude or filter rule matches it")
	case e.Decision.Excluded && e.Decision.Path != e.Path:
		fmt.Fprintf(w, "  excluded: its directory %s matches %q (%s)\n", e.Decision.Path, e.Decision.Rule, e.Origin)
	case e.Decision.Excluded:
		fmt.Fprintf(w, "  excluded: matches %q (%s)\n", e.Decision.Rule, e.Origin)
	default:
		fmt.Fprintf(w, "  mirrored: matches %q (%s), which includes it\n", e.Decision.Rule, e.Origin)
	}
	switch {
	case e.Type == "":
	case e.Watched:
		fmt.Fprintln(w, "  watched: yes")
	default:
		fmt.Fprintln(w, "  watched: no (its directory is excluded)")
	}
	for _, t := range e.Targets {
		fmt.Fprintf(w, "  on %s:\n", t.Target)
		for _, x := range t.Effects {
			fmt.Fprintf(w, "    - %s\n", x)
		}
	}
}
