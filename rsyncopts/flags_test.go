package rsyncopts

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestAttrFlags: rsync's attribute options on the command line, in
// rsync's order semantics; gsync's default is rsync -a's set.
func TestAttrFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want Attrs
	}{
		{nil, Attrs{}},
		{[]string{"-aHAXS", "--numeric-ids"}, Attrs{HardLinks: true, ACLs: true, XAttrs: true, Sparse: true, NumericIDs: true}},
		{[]string{"--no-owner", "--no-g", "--no-perms"}, Attrs{NoOwner: true, NoGroup: true, NoPerms: true}},
		{[]string{"--no-o", "-a"}, Attrs{}},
		{[]string{"--no-D", "--specials"}, Attrs{NoDevices: true}},
		{[]string{"--chown=nobody:nogroup", "--chmod", "D2775", "--chmod=F664"},
			Attrs{Usermap: "*:nobody", Groupmap: "*:nogroup", Chmod: "D2775,F664"}},
	} {
		var a Attrs
		f := pflag.NewFlagSet("gsync", pflag.ContinueOnError)
		RegisterFlags(f, &a)
		if err := f.Parse(tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if a != tc.want {
			t.Errorf("%q: attrs %+v, want %+v", tc.args, a, tc.want)
		}
	}
	var a Attrs
	f := pflag.NewFlagSet("gsync", pflag.ContinueOnError)
	f.SetOutput(io.Discard)
	RegisterFlags(f, &a)
	if err := f.Parse([]string{"--usermap=a:b", "--chown=c"}); err == nil || !strings.Contains(err.Error(), "conflicts") {
		t.Errorf("--usermap with --chown: err = %v", err)
	}
}
