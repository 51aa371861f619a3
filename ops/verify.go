package ops

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/rsyncproto"
)

// PrintVerify renders the reports of gsync verify: each target's
// differences in rsync's itemize format (rsync -i: "<f.st...... name",
// "*deleting   name"), a header per target when there are several,
// then one summary line per target.
func PrintVerify(w io.Writer, reports []mirror.VerifyReport) {
	for _, r := range reports {
		if len(reports) > 1 && (len(r.Items) > 0 || r.Err != nil) {
			fmt.Fprintf(w, "# %s -> %s\n", r.Source, r.Target)
		}
		for _, it := range r.Items {
			fmt.Fprintln(w, it.Line(r.Sending))
		}
		if r.Repaired && len(r.Remaining) > 0 {
			fmt.Fprintf(w, "# still different after the repair:\n")
			for _, it := range r.Remaining {
				fmt.Fprintln(w, it.Line(r.Sending))
			}
		}
	}
	for _, r := range reports {
		fmt.Fprintln(w, summaryLine(r))
	}
}

// summaryLine says what verify found on one target.
func summaryLine(r mirror.VerifyReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s -> %s: ", r.Source, r.Target)
	switch {
	case r.Err != nil && !r.Repaired:
		fmt.Fprintf(&b, "error: %s", oneLine(r.Err.Error()))
		return b.String()
	case len(r.Items) == 0:
		b.WriteString("equal")
	default:
		c := countItems(r.Items)
		fmt.Fprintf(&b, "%d difference(s): %d missing, %d to update, %d attributes only, %d extra", len(r.Items), c.missing, c.update, c.attrs, c.extra)
	}
	switch {
	case r.Repaired && r.Err != nil:
		fmt.Fprintf(&b, "; repair failed: %s", oneLine(r.Err.Error()))
	case r.Repaired && len(r.Remaining) > 0:
		fmt.Fprintf(&b, "; repaired, %d difference(s) left", len(r.Remaining))
	case r.Repaired:
		b.WriteString("; repaired, now equal")
	}
	if len(r.Unchecked) > 0 {
		fmt.Fprintf(&b, " (not compared: %s)", strings.Join(r.Unchecked, ", "))
	}
	return b.String()
}

type itemCounts struct{ missing, update, attrs, extra int }

func countItems(items []rsyncproto.Item) itemCounts {
	var c itemCounts
	for _, it := range items {
		switch {
		case it.Deleted:
			c.extra++
		case it.Flags&rsyncproto.ItemIsNew != 0:
			c.missing++
		case it.Flags&rsyncproto.ItemTransfer != 0:
			c.update++
		default:
			c.attrs++
		}
	}
	return c
}

// verifyItemJSON is one difference in gsync verify --json.
type verifyItemJSON struct {
	Item    string   `json:"item"` // rsync's %i
	Path    string   `json:"path"`
	Type    string   `json:"type"`
	Link    string   `json:"link,omitempty"`
	Kind    string   `json:"kind"` // missing, update, attributes, extra
	Changes []string `json:"changes,omitempty"`
}

// verifyJSON is one target in gsync verify --json.
type verifyJSON struct {
	Source      string           `json:"source"`
	Target      string           `json:"target"`
	Sync        string           `json:"sync,omitempty"`
	Equal       bool             `json:"equal"`
	Differences []verifyItemJSON `json:"differences"`
	Repaired    bool             `json:"repaired,omitempty"`
	Remaining   []verifyItemJSON `json:"remaining,omitempty"`
	Unchecked   []string         `json:"unchecked,omitempty"`
	Error       string           `json:"error,omitempty"`
}

// PrintVerifyJSON renders the reports as one JSON array, a target each.
func PrintVerifyJSON(w io.Writer, reports []mirror.VerifyReport) error {
	out := make([]verifyJSON, 0, len(reports))
	for _, r := range reports {
		j := verifyJSON{Source: r.Source, Target: r.Target, Sync: r.Name, Equal: r.Err == nil && len(r.Items) == 0,
			Differences: itemsJSON(r.Items, r.Sending), Repaired: r.Repaired, Unchecked: r.Unchecked}
		if r.Repaired {
			j.Remaining = itemsJSON(r.Remaining, r.Sending)
		}
		if r.Err != nil {
			j.Error = r.Err.Error()
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write verify report: %w", err)
	}
	return nil
}

func itemsJSON(items []rsyncproto.Item, sending bool) []verifyItemJSON {
	out := make([]verifyItemJSON, 0, len(items))
	for _, it := range items {
		j := verifyItemJSON{Item: it.Code(sending), Path: it.Name, Type: itemType(it.Mode), Link: it.Link}
		switch {
		case it.Deleted:
			j.Kind, j.Link = "extra", ""
		case it.Flags&rsyncproto.ItemIsNew != 0:
			j.Kind = "missing"
		case it.Flags&rsyncproto.ItemTransfer != 0:
			j.Kind = "update"
		default:
			j.Kind = "attributes"
		}
		if !it.Deleted && it.Flags&rsyncproto.ItemIsNew == 0 {
			for _, c := range []struct {
				bit  uint32
				name string
			}{
				{rsyncproto.ItemReportChange, "content"}, {rsyncproto.ItemReportSize, "size"},
				{rsyncproto.ItemReportTime, "mtime"}, {rsyncproto.ItemReportPerms, "perms"},
				{rsyncproto.ItemReportOwner, "owner"}, {rsyncproto.ItemReportGroup, "group"},
				{rsyncproto.ItemReportACL, "acl"}, {rsyncproto.ItemReportXattr, "xattrs"},
			} {
				if it.Flags&c.bit != 0 {
					name := c.name
					if c.name == "content" && it.Mode&0o170000 == 0o120000 {
						name = "link target"
					}
					j.Changes = append(j.Changes, name)
				}
			}
		}
		out = append(out, j)
	}
	return out
}

func itemType(mode uint32) string {
	switch mode & 0o170000 {
	case 0o040000:
		return "dir"
	case 0o120000:
		return "symlink"
	case 0o100000:
		return "file"
	case 0o020000, 0o060000:
		return "device"
	}
	return "special"
}
