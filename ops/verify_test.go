package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/rsyncproto"
)

func TestPrintVerify(t *testing.T) {
	items := []rsyncproto.Item{
		{Name: "gone", Mode: 0o100644, Deleted: true},
		{Name: "new", Mode: 0o100644, Flags: rsyncproto.ItemTransfer | rsyncproto.ItemIsNew},
		{Name: "big", Mode: 0o100644, Flags: rsyncproto.ItemTransfer | rsyncproto.ItemReportSize | rsyncproto.ItemReportTime},
		{Name: "l", Mode: 0o120777, Link: "t", Flags: rsyncproto.ItemLocalChange | rsyncproto.ItemReportChange},
		{Name: "m", Mode: 0o100600, Flags: rsyncproto.ItemReportPerms},
	}
	reps := []mirror.VerifyReport{
		{Source: "/src", Target: "host::m", Items: items, Sending: true, Repaired: true},
		{Source: "/src", Target: "/mnt/b"},
		{Source: "/src", Target: "x::y", Err: errors.New("connection refused")},
	}
	var b bytes.Buffer
	PrintVerify(&b, reps)
	want := `# /src -> host::m
*deleting   gone
<f+++++++++ new
<f.st...... big
cLc........ l -> t
.f...p..... m
# /src -> x::y
/src -> host::m: 5 difference(s): 1 missing, 1 to update, 2 attributes only, 1 extra; repaired, now equal
/src -> /mnt/b: equal
/src -> x::y: error: connection refused
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	b.Reset()
	if err := PrintVerifyJSON(&b, reps[:1]); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Equal       bool
		Repaired    bool
		Differences []struct {
			Item, Path, Type, Kind, Link string
			Changes                      []string
		}
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	d := got[0].Differences
	if got[0].Equal || !got[0].Repaired || len(d) != 5 || d[2].Kind != "update" || strings.Join(d[2].Changes, ",") != "size,mtime" ||
		d[3].Type != "symlink" || strings.Join(d[3].Changes, ",") != "link target" || d[0].Kind != "extra" || d[1].Kind != "missing" || d[4].Kind != "attributes" {
		t.Errorf("json: %s", b.String())
	}
}
