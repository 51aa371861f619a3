package beneath

import "testing"

// TestUnsafeSymlink: rsync's rule for --safe-links and --copy-unsafe-links (util1.c:unsafe_symlink),
// with the cases of rsync's own t_unsafe.c.
func TestUnsafeSymlink(t *testing.T) {
	for _, tc := range []struct {
		dest, src string
		unsafe    bool
	}{
		{"/etc/passwd", "link", true},
		{"", "link", true},
		{"../x", "link", true},
		{"../x", "a/link", false},
		{"../../x", "a/link", true},
		{"../../x", "a/b/link", false},
		{"a/../../x", "a/b/link", true}, // "/../" past the leading run
		{"a/..", "link", true},
		{"x/y", "link", false},
		{"./x", "link", false},
		{"..//../x", "a/b/link", false},
		{"..", "a/link", false},
		{"..", "link", true},
		{"foo", "../link", false},
		{"../foo", "a/../link", true}, // ".." in src starts the count over
		{"x/../y", "link", true},
	} {
		if got := UnsafeSymlink(tc.dest, tc.src); got != tc.unsafe {
			t.Errorf("UnsafeSymlink(%q, %q) = %v, want %v", tc.dest, tc.src, got, tc.unsafe)
		}
	}
}
