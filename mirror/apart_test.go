package mirror

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// TestTargetApartByPath: a target equal to, inside or containing the
// source is refused, also through symlinks and not-yet-existing paths;
// siblings with a common name prefix are not.
func TestTargetApartByPath(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(base, "backup", "www")
	testutil.MustMkdir(t, src)
	testutil.MustMkdir(t, filepath.Join(base, "elsewhere"))
	if err := os.Symlink(filepath.Join(base, "backup"), filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		target string
		want   string // "" = accepted, else a word of the error
	}{
		{filepath.Join(base, "backup"), "contains"}, // the gsync backup/www backup
		{base, "contains"},
		{"/", "contains"},
		{src, "is the source"},
		{filepath.Join(src, "a", "b"), "inside"},
		{filepath.Join(base, "link"), "contains"},
		{filepath.Join(base, "link", "www"), "is the source"},
		{filepath.Join(base, "link", "www", "new"), "inside"},
		{src + "-other", ""},
		{filepath.Join(base, "backup", "new"), ""},
		{filepath.Join(base, "elsewhere"), ""},
	}
	for _, c := range cases {
		err := CheckTargetApart(src, c.target)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("target %s refused: %v", c.target, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("target %s: %v, want an error with %q", c.target, err, c.want)
		case err != nil && !errors.As(err, new(ConfigError)):
			t.Errorf("target %s: %v is not a usage error (exit 2)", c.target, err)
		case err != nil && !strings.Contains(err.Error(), src):
			t.Errorf("target %s: error %q does not name the source", c.target, err)
		}
	}
}

// TestTargetApartByID: a bind mount reaches a directory by another name;
// the device and inode of every ancestor catch it. The identities are
// faked: /mnt/bind is a bind mount of /data.
func TestTargetApartByID(t *testing.T) {
	ids := map[string]fileID{
		"/":                 {1, 2},
		"/data":             {1, 10},
		"/data/www":         {1, 11},
		"/mnt":              {1, 20},
		"/mnt/bind":         {1, 10}, // = /data
		"/mnt/bind/www":     {1, 11}, // = /data/www
		"/mnt/bind/www/sub": {1, 12},
		"/mnt/other":        {1, 30},
	}
	idOf := func(p string) (fileID, bool, error) {
		id, ok := ids[p]
		if !ok {
			return fileID{}, false, &os.PathError{Op: "stat", Path: p, Err: os.ErrNotExist}
		}
		return id, true, nil
	}
	cases := map[string]string{
		"/mnt/bind":             "contains",
		"/mnt/bind/www":         "is the source",
		"/mnt/bind/www/sub":     "inside",
		"/mnt/other":            "",
		"/mnt/bind/www/sub/new": "inside", // only its ancestors exist
	}
	for target, want := range cases {
		rel := relationByID(mustIDs(t, "/data/www", idOf), mustIDs(t, existingFake(target, ids), idOf), ids[target] != fileID{})
		err := error(nil)
		if rel != "" {
			err = apartError("/data/www", target, rel)
		}
		switch {
		case want == "" && err != nil:
			t.Errorf("target %s refused: %v", target, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("target %s: %v, want an error with %q", target, err, want)
		}
	}
}

// existingFake returns p or its nearest ancestor present in ids.
func existingFake(p string, ids map[string]fileID) string {
	for {
		if _, ok := ids[p]; ok || p == "/" {
			return p
		}
		p = filepath.Dir(p)
	}
}

func mustIDs(t *testing.T, p string, idOf idFunc) []fileID {
	t.Helper()
	ids, err := ancestorIDs(p, idOf)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}
