package transport_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/rsyncopts"
	"github.com/gsync/gsync/rsyncproto"
	"github.com/gsync/gsync/transport"
)

// TestLocalXattrRules: the local target copies the xattr names rsync's
// x rules let through, keeps the target names the receiver's side
// protects, removes those only the sender's side excludes, and its
// verify compares by the same rules: a protected or excluded name that
// differs is no difference, a copied one is.
func TestLocalXattrRules(t *testing.T) {
	t.Parallel()
	src, dst := filepath.Join(t.TempDir(), "src"), t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "f"), "f")
	set := func(p string, kv ...string) {
		t.Helper()
		for i := 0; i < len(kv); i += 2 {
			if err := unix.Lsetxattr(p, kv[i], []byte(kv[i+1]), 0); err != nil {
				if errors.Is(err, unix.ENOTSUP) {
					t.Skip(err)
				}
				t.Fatal(err)
			}
		}
	}
	get := func(p, name string) string {
		b := make([]byte, 64)
		n, err := unix.Lgetxattr(p, name, b)
		if err != nil {
			return "-"
		}
		return string(b[:n])
	}
	set(filepath.Join(src, "f"), "user.a", "a", "user.secret", "s", "user.keep", "src", "user.gone", "src")
	set(dst, "user.secret", "t", "user.keep", "t", "user.gone", "t")
	set(src, "user.a", "root")
	rules, err := filter.Compile(filter.Options{Rules: []filter.Spec{
		{Kind: filter.SpecFilter, Arg: "-x user.secret"}, {Kind: filter.SpecFilter, Arg: "-xr user.keep"}, {Kind: filter.SpecFilter, Arg: "-xs user.gone"},
	}})
	testutil.Must(t, err)
	l, err := transport.NewLocal(dst, transport.Options{Source: src, Exclude: rules.Excluded, Protect: rules.Protected,
		XattrExclude: rules.XattrExcluded, XattrProtect: rules.XattrProtected, Attrs: rsyncopts.Attrs{XAttrs: true}})
	testutil.Must(t, err)
	st, err := l.FullSync(context.Background())
	testutil.Must(t, err)
	if len(st.Failed) > 0 {
		t.Fatalf("failures: %v", st.Failed)
	}
	for _, c := range []struct{ rel, name, want string }{
		{"f", "user.a", "a"}, {"f", "user.secret", "-"}, {"f", "user.keep", "-"}, {"f", "user.gone", "-"},
		{".", "user.a", "root"}, {".", "user.secret", "t"}, {".", "user.keep", "t"}, {".", "user.gone", "-"},
	} {
		if got := get(filepath.Join(dst, c.rel), c.name); got != c.want {
			t.Errorf("%s: %s = %q, want %q", c.rel, c.name, got, c.want)
		}
	}
	xattrItems := func() []string {
		res, err := l.Verify(context.Background(), transport.VerifyOptions{})
		testutil.Must(t, err)
		var out []string
		for _, it := range res.Items {
			if it.Flags&rsyncproto.ItemReportXattr != 0 {
				out = append(out, it.Name)
			}
		}
		return out
	}
	if got := xattrItems(); len(got) > 0 {
		t.Errorf("verify after the push: xattrs differ on %q", got)
	}
	set(filepath.Join(dst, "f"), "user.secret", "x", "user.keep", "x")
	if got := xattrItems(); len(got) > 0 {
		t.Errorf("verify with protected names on the target: xattrs differ on %q", got)
	}
	set(filepath.Join(dst, "f"), "user.a", "changed")
	if got := xattrItems(); len(got) != 1 || got[0] != "f" {
		t.Errorf("verify with a copied name changed: xattrs differ on %q, want [f]", got)
	}
}
