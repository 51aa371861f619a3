package rsyncopts

import (
	"strings"
	"testing"
)

// attrsOf parses words and applies every Attr option, as the command line
// and lsyncd's _extra do.
func attrsOf(t *testing.T, start Attrs, words ...string) (Attrs, error) {
	t.Helper()
	opts, err := Parse(words)
	if err != nil {
		return start, err
	}
	a := start
	for _, o := range opts {
		if o.Kind != Attr {
			continue
		}
		if err := a.Set(o); err != nil {
			return a, err
		}
	}
	return a, nil
}

func TestParseAttrs(t *testing.T) {
	lts := Attrs{NoPerms: true, NoOwner: true, NoGroup: true, NoDevices: true, NoSpecials: true}
	for _, tc := range []struct {
		name  string
		start Attrs
		words []string
		want  Attrs
	}{
		{"archive from lsyncd's -lts", lts, []string{"-a"}, Attrs{}},
		{"bundle", Attrs{}, []string{"-aHAXS"}, Attrs{HardLinks: true, ACLs: true, XAttrs: true, Sparse: true}},
		{"later wins: no owner after -a", Attrs{}, []string{"-a", "--no-o"}, Attrs{NoOwner: true}},
		{"later wins: -a after no owner", Attrs{}, []string{"--no-owner", "-a"}, Attrs{}},
		{"no-D", Attrs{}, []string{"--no-D"}, Attrs{NoDevices: true, NoSpecials: true}},
		{"specials back", Attrs{NoDevices: true, NoSpecials: true}, []string{"--specials"}, Attrs{NoDevices: true}},
		{"-A implies -p", lts, []string{"-A"}, Attrs{NoOwner: true, NoGroup: true, NoDevices: true, NoSpecials: true, ACLs: true}},
		{"owner and group", lts, []string{"-og"}, Attrs{NoPerms: true, NoDevices: true, NoSpecials: true}},
		{"chown both", lts, []string{"--chown=nobody:nogroup"},
			Attrs{NoPerms: true, NoDevices: true, NoSpecials: true, Usermap: "*:nobody", Groupmap: "*:nogroup"}},
		{"chown group only", lts, []string{"--chown", ":staff"},
			Attrs{NoPerms: true, NoOwner: true, NoDevices: true, NoSpecials: true, Groupmap: "*:staff"}},
		{"chmod twice adds", Attrs{}, []string{"--chmod=D2775", "--chmod", "F664"}, Attrs{Chmod: "D2775,F664"}},
		{"maps and numeric ids", Attrs{}, []string{"--usermap=0-99:nobody", "--groupmap=*:users", "--numeric-ids"},
			Attrs{Usermap: "0-99:nobody", Groupmap: "*:users", NumericIDs: true}},
		{"no-effect options are not attrs", Attrs{}, []string{"-rvh", "--progress", "--no-whole-file"}, Attrs{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := attrsOf(t, tc.start, tc.words...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%q: got %+v, want %+v", tc.words, got, tc.want)
			}
		})
	}
}

func TestParseErrorsNameTheOption(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"--frobnicate"}, "--frobnicate"},
		{[]string{"-aQ"}, "-Q"},
		{[]string{"--chmod"}, "--chmod needs a value"},
		{[]string{"--owner=yes"}, "takes no value"},
		{[]string{"--no-chmod=F644"}, "--no-chmod"},
		{[]string{"/src/"}, "not an rsync option"},
		{[]string{"--usermap=a:b", "--chown=c"}, "conflicts"},
		{[]string{"--usermap=a:b", "--usermap=c:d"}, "twice"},
		{[]string{"--chown=:"}, "no user and no group"},
	} {
		_, err := attrsOf(t, Attrs{}, tc.words...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one containing %q", tc.words, err, tc.want)
		}
	}
}

func TestParseKinds(t *testing.T) {
	opts, err := Parse([]string{"-nxz", "--timeout=30", "--bwlimit", "100", "-e", "ssh -p 2", "--no-v"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range opts {
		s := o.Name
		if o.Value != "" {
			s += "=" + o.Value
		}
		if o.No {
			s = "no-" + s
		}
		got = append(got, s+":"+[]string{"", "attr", "none", "setting", "unsupported"}[o.Kind])
	}
	want := "dry-run:setting one-file-system:setting compress:setting timeout=30:setting bwlimit=100:setting rsh=ssh -p 2:unsupported no-verbose:none"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestCheckValidatesValues(t *testing.T) {
	if err := (Attrs{Chmod: "D2775,F664", Usermap: "0-99:nobody,*:0", Groupmap: "*:0"}).Check(); err != nil {
		t.Errorf("valid values refused: %v", err)
	}
	for _, a := range []Attrs{{Chmod: "q+w"}, {Usermap: "nocolon"}, {Groupmap: "staff"}} {
		if err := a.Check(); err == nil {
			t.Errorf("%+v: accepted", a)
		}
	}
}
