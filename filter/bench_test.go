package filter

import (
	"fmt"
	"io/fs"
	"testing"
)

// BenchmarkExcluded asks for 20,000 files in 500 directories, with
// lsyncd's patterns, the same as rsync rules, and with -F (a .rsync-filter at the root and in 50 of the
// directories, read once each and then cached).
func BenchmarkExcluded(b *testing.B) {
	var paths []string
	for d := range 500 {
		for f := range 40 {
			paths = append(paths, fmt.Sprintf("top/d%d/f%d.txt", d, f))
		}
	}
	files := map[string]string{".rsync-filter": "- *.o\n"}
	for d := range 50 {
		files[fmt.Sprintf("top/d%d/.rsync-filter", d)] = "- f1.txt\n"
	}
	read := func(rel string) ([]byte, error) {
		if c, ok := files[rel]; ok {
			return []byte(c), nil
		}
		return nil, fs.ErrNotExist
	}
	for _, bc := range []struct {
		name     string
		specs    []Spec
		excludes []string
	}{
		{"lsyncd", nil, []string{"*.o", "/top/d1/f1.txt"}},
		{"rules", []Spec{{Kind: SpecExclude, Arg: "*.o"}, {Kind: SpecFilter, Arg: "- /top/d1/f1.txt"}}, nil},
		{"F", []Spec{{Kind: SpecF}}, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Compile(Options{Rules: bc.specs, Excludes: bc.excludes, ReadFile: read})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				for _, p := range paths {
					s.Excluded(p, false)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(paths)), "ns/path")
		})
	}
}
