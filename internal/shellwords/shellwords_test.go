package shellwords

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "", want: nil},
		{in: "  a   b\tc\n", want: []string{"a", "b", "c"}},
		{in: `/usr/bin/curl -X POST 'http://x/a b'`, want: []string{"/usr/bin/curl", "-X", "POST", "http://x/a b"}},
		{in: `echo "a \"q\" \$HOME \x" b`, want: []string{"echo", `a "q" $HOME \x`, "b"}},
		{in: `a\ b c\\d`, want: []string{"a b", `c\d`}},
		{in: `x'' ''`, want: []string{"x", ""}},
		{in: "$(rm -rf /) ; | &&", want: []string{"$(rm", "-rf", "/)", ";", "|", "&&"}},
		{in: `'open`, err: true},
		{in: `"open`, err: true},
	} {
		got, err := Split(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("Split(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" && !tc.err {
			t.Errorf("Split(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}
