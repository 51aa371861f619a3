//go:build linux

package rsyncproto

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/testutil"
)

// attrPeers are the C rsync binaries the ACL and xattr pushes are checked
// against: /usr/bin/rsync and $GSYNC_RSYNC_327 when set.
func attrPeers(t *testing.T) map[string]string {
	t.Helper()
	peers := map[string]string{"rsync": needRsync(t)}
	if p := os.Getenv("GSYNC_RSYNC_327"); p != "" {
		if _, err := os.Stat(p); err == nil {
			peers["rsync327"] = p
		}
	} else {
		t.Log("GSYNC_RSYNC_327 not set: only the installed rsync")
	}
	return peers
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

func setxattr(t *testing.T, p, name string, v []byte) {
	t.Helper()
	if err := unix.Lsetxattr(p, name, v, 0); err != nil {
		t.Fatalf("setxattr %s %s: %v", p, name, err)
	}
}

// needACLs skips unless the file system of dir keeps ACLs and user xattrs.
func needACLs(t *testing.T, dir string) {
	t.Helper()
	needTool(t, "setfacl")
	p := filepath.Join(dir, ".probe")
	testutil.Must(t, os.WriteFile(p, nil, 0o644))
	defer os.Remove(p)
	if out, err := exec.Command("setfacl", "-m", "u:12345:r", p).CombinedOutput(); err != nil {
		t.Skipf("no ACLs on %s: %s", dir, out)
	}
	if err := unix.Setxattr(p, "user.probe", []byte("x"), 0); err != nil {
		t.Skipf("no user xattrs on %s: %v", dir, err)
	}
}

// makeAttrTree builds a tree with access and default ACLs (named users
// and groups with and without names, masks), files without ACLs, one ACL
// on many files, xattrs short, long and a few KiB, one xattr set on many
// files, trusted.* and security.* as root, and symlinks.
func makeAttrTree(t *testing.T, root string) {
	t.Helper()
	base := time.Unix(1704164645, 250000000)
	long := bytes.Repeat([]byte("0123456789abcdef"), 5) // 80 bytes
	big := pseudoRandom(1500, 5)
	for i := 0; i < 12; i++ {
		p := filepath.Join(root, "same", fmt.Sprintf("f%02d", i))
		writeFile(t, p, []byte(fmt.Sprint(i)), 0o640, base)
		run(t, "setfacl", "-m", "u:12345:rw,g:65534:r,u:0:r", p)
		setxattr(t, p, "user.shared", []byte("one set on many files"))
		setxattr(t, p, "user.shared.long", long)
		setxattr(t, p, "user.shared.big", big)
	}
	writeFile(t, filepath.Join(root, "plain"), []byte("no acl"), 0o644, base)
	writeFile(t, filepath.Join(root, "plain2"), []byte("no acl either"), 0o600, base)
	named := filepath.Join(root, "named")
	writeFile(t, named, []byte("named"), 0o664, base)
	run(t, "setfacl", "-m", "u:0:rwx,u:65534:r,u:12345:w,g:0:x,g:65534:rw,g:54321:r,m::rw", named)
	maskOnly := filepath.Join(root, "mask")
	writeFile(t, maskOnly, []byte("mask"), 0o640, base)
	run(t, "setfacl", "-m", "g:12345:rwx,m::r", maskOnly)
	dir := filepath.Join(root, "acldir")
	testutil.MustMkdir(t, dir)
	run(t, "setfacl", "-m", "u:12345:rwx,g:65534:rx", dir)
	run(t, "setfacl", "-d", "-m", "u:12345:rx,g:54321:rwx,o::-", dir)
	writeFile(t, filepath.Join(dir, "inherited"), []byte("inherits"), 0o644, base)
	defOnly := filepath.Join(root, "defonly")
	testutil.MustMkdir(t, defOnly)
	run(t, "setfacl", "-d", "-m", "u:65534:r", defOnly)
	for i := 0; i < 6; i++ {
		p := filepath.Join(root, "xa", fmt.Sprintf("x%d", i))
		writeFile(t, p, []byte("xattrs"), 0o644, base)
		setxattr(t, p, "user.short", []byte(fmt.Sprintf("v%d", i)))
		setxattr(t, p, "user.empty", nil)
		setxattr(t, p, "user.exactly32", bytes.Repeat([]byte{'e'}, 32))
		setxattr(t, p, "user.long33", bytes.Repeat([]byte{byte('a' + i)}, 33))
		setxattr(t, p, "user.kib", pseudoRandom(2500+i, uint32(i+1)))
		// rsync's own names are not sent with one -X.
		setxattr(t, p, "user.rsync.%stat", []byte("100644 0,0 0:0"))
	}
	setxattr(t, filepath.Join(root, "xa"), "user.on.dir", []byte("dir value"))
	testutil.Must(t, os.Symlink("plain", filepath.Join(root, "link")))
	if os.Geteuid() == 0 {
		p := filepath.Join(root, "xa", "x0")
		setxattr(t, p, "trusted.secret", []byte("trusted value"))
		setxattr(t, p, "trusted.long", pseudoRandom(200, 9))
		setxattr(t, p, "security.gsync", []byte("security value"))
		setxattr(t, filepath.Join(root, "link"), "trusted.onlink", []byte("link value"))
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chtimes(p, base, base)
		}
		return nil
	})
}

// rawAttrs returns every xattr (system.posix_acl_* included) of every
// path below root, by relative path, read with llistxattr/lgetxattr.
func rawAttrs(t *testing.T, root string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sz, err := unix.Llistxattr(p, nil)
		if err != nil {
			return fmt.Errorf("llistxattr %s: %w", p, err)
		}
		buf := make([]byte, sz)
		n, err := unix.Llistxattr(p, buf)
		if err != nil {
			return err
		}
		attrs := map[string]string{}
		for _, name := range strings.Split(string(buf[:n]), "\x00") {
			if name == "" {
				continue
			}
			vs, err := unix.Lgetxattr(p, name, nil)
			if err != nil {
				return fmt.Errorf("lgetxattr %s %s: %w", p, name, err)
			}
			v := make([]byte, vs)
			vn, err := unix.Lgetxattr(p, name, v)
			if err != nil {
				return err
			}
			attrs[name] = string(v[:vn])
		}
		out[rel] = attrs
		return nil
	})
	testutil.Must(t, err)
	return out
}

// selectAttrs keeps the xattrs a push with -A (acls) and -X (xattrs)
// carries: the ACL xattrs, the others but rsync's own.
func selectAttrs(all map[string]map[string]string, acls, xattrs bool) map[string]map[string]string {
	out := map[string]map[string]string{}
	for rel, attrs := range all {
		sel := map[string]string{}
		for name, v := range attrs {
			isACL := strings.HasPrefix(name, "system.posix_acl_")
			if (isACL && acls) || (!isACL && xattrs && !strings.HasPrefix(name, "user.rsync.%")) {
				sel[name] = v
			}
		}
		out[rel] = sel
	}
	return out
}

// diffAttrs reports how want and got differ, one line per path.
func diffAttrs(want, got map[string]map[string]string) []string {
	var diffs []string
	for _, rel := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[rel]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: missing", rel))
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(want[rel])) {
			gv, ok := g[name]
			switch {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("%s: %s missing", rel, name))
			case gv != want[rel][name]:
				diffs = append(diffs, fmt.Sprintf("%s: %s = %q, want %q", rel, name, abbrev(gv), abbrev(want[rel][name])))
			}
		}
		for name := range g {
			if _, ok := want[rel][name]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s: extra %s", rel, name))
			}
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: extra path", rel))
		}
	}
	return diffs
}

func abbrev(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", s[:40], len(s))
	}
	return s
}

func checkSameAttrs(t *testing.T, what string, want, got map[string]map[string]string) {
	t.Helper()
	if d := diffAttrs(want, got); len(d) > 0 {
		t.Errorf("%s: %d differences:\n%s", what, len(d), strings.Join(d, "\n"))
	}
}

// pushRef copies src into dst with C rsync itself (client and server),
// with the flags a gsync push of opts sends.
func pushRef(t *testing.T, bin, src, dst string, proto int, opts Options) {
	t.Helper()
	args := []string{"-rlptD", fmt.Sprintf("--protocol=%d", proto)}
	if opts.Owner {
		args = append(args, "-o")
	}
	if opts.Group {
		args = append(args, "-g")
	}
	if opts.NumericIDs {
		args = append(args, "--numeric-ids")
	}
	if opts.ACLs {
		args = append(args, "-A")
	}
	if opts.XAttrs {
		args = append(args, "-X")
	}
	if opts.IgnoreTimes {
		args = append(args, "-I")
	}
	run(t, bin, append(args, src+"/", dst+"/")...)
}

func attrOpts(acls, xattrs bool, proto int) Options {
	return Options{Owner: true, Group: true, Devices: true, Specials: true, ACLs: acls, XAttrs: xattrs, MaxProtocol: proto}
}

// TestAttrsInterop pushes a tree of ACLs and xattrs with gsync's sender
// to C rsync receivers at protocols 30 to 32 with -A, -X and both, and
// the same tree with C rsync itself; every path must end with the same
// xattrs (ACLs included) in both targets and as at the source. Then an
// ACL and xattr values change without a change of size or mtime, and a
// push with IgnoreTimes must bring them over.
func TestAttrsInterop(t *testing.T) {
	src := t.TempDir()
	needACLs(t, src)
	makeAttrTree(t, src)
	srcAttrs := rawAttrs(t, src)
	// The fixture must hold what the test is about.
	if !strings.Contains(srcAttrs["named"]["system.posix_acl_access"], "\x02\x00") || srcAttrs["acldir"]["system.posix_acl_default"] == "" || len(srcAttrs["xa/x1"]["user.kib"]) < 2500 {
		t.Fatalf("fixture lacks ACLs or xattrs: %v", srcAttrs["named"])
	}
	for pname, bin := range attrPeers(t) {
		for _, proto := range []int{30, 31, 32} {
			for _, set := range []struct {
				name         string
				acls, xattrs bool
				ids          func(o *Options)
			}{{"A", true, false, nil}, {"X", false, true, nil}, {"AX", true, true, nil},
				// The id lists carry the ACLs' ids without -o and -g too.
				{"A-no-owner", true, false, func(o *Options) { o.Owner, o.Group = false, false }},
				{"A-numeric", true, false, func(o *Options) { o.NumericIDs = true }},
				// Incremental recursion: ids go inline, in entries and ACLs.
				{"AX-inc", true, true, func(o *Options) { o.IncRecurse = true }},
				{"A-inc-no-owner", true, false, func(o *Options) { o.IncRecurse, o.Owner, o.Group = true, false, false }}} {
				t.Run(fmt.Sprintf("%s/p%d/%s", pname, proto, set.name), func(t *testing.T) {
					t.Parallel()
					opts := attrOpts(set.acls, set.xattrs, proto)
					if set.ids != nil {
						set.ids(&opts)
					}
					testAttrPush(t, bin, src, srcAttrs, opts)
				})
			}
		}
	}
}

func testAttrPush(t *testing.T, bin, src string, srcAttrs map[string]map[string]string, opts Options) {
	proto, acls, xattrs := opts.MaxProtocol, opts.ACLs, opts.XAttrs
	dst := filepath.Join(t.TempDir(), "dst")
	ref := filepath.Join(t.TempDir(), "ref")
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst, Options: opts}
	res, err := pushSSHBin(t, bin, req, proto)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if res.ExitCode != 0 || len(res.Failed) > 0 || res.Protocol != proto || res.IncRecurse != opts.IncRecurse {
		t.Fatalf("push: proto %d incremental %v exit %d failed %v warnings %v", res.Protocol, res.IncRecurse, res.ExitCode, res.Failed, res.Warnings)
	}
	pushRef(t, bin, src, ref, proto, opts)
	if opts.Owner {
		compareTrees(t, src, dst, proto >= 31, nil)
	}
	got, want := rawAttrs(t, dst), rawAttrs(t, ref)
	checkSameAttrs(t, "gsync target vs C rsync target", want, got)
	checkSameAttrs(t, "gsync target vs source", selectAttrs(srcAttrs, acls, xattrs), got)
	if acls {
		out, err := exec.Command("getfacl", "-Rp", dst).CombinedOutput()
		outRef, errRef := exec.Command("getfacl", "-Rp", ref).CombinedOutput()
		if err == nil && errRef == nil {
			norm := strings.ReplaceAll(string(out), dst, "ROOT")
			normRef := strings.ReplaceAll(string(outRef), ref, "ROOT")
			if norm != normRef {
				t.Errorf("getfacl -R differs:\n%s\nC rsync:\n%s", norm, normRef)
			}
		}
	}

	// Change an ACL and xattr values, keeping size and mtime.
	upd := t.TempDir()
	run(t, "cp", "-a", src+"/.", upd)
	named := filepath.Join(upd, "named")
	run(t, "setfacl", "-m", "u:12345:rx,g:777:w", named)
	setxattr(t, filepath.Join(upd, "xa/x2"), "user.kib", pseudoRandom(2502, 77))
	setxattr(t, filepath.Join(upd, "xa/x2"), "user.short", []byte("V2"))
	testutil.Must(t, unix.Lremovexattr(filepath.Join(upd, "xa/x3"), "user.long33"))
	req.Root = upd
	req.Options.IgnoreTimes = true
	res, err = pushSSHBin(t, bin, req, proto)
	if err != nil || res.ExitCode != 0 || len(res.Failed) > 0 {
		t.Fatalf("update push: %v exit %d failed %v warnings %v", err, resExit(res), resFailed(res), resWarnings(res))
	}
	checkSameAttrs(t, "updated target vs updated source", selectAttrs(rawAttrs(t, upd), acls, xattrs), rawAttrs(t, dst))
}

func resExit(r *Result) int {
	if r == nil {
		return -1
	}
	return r.ExitCode
}

func resFailed(r *Result) []FileError {
	if r == nil {
		return nil
	}
	return r.Failed
}

func resWarnings(r *Result) []string {
	if r == nil {
		return nil
	}
	return r.Warnings
}

// TestAttrsOldProtocol: -A and -X at protocol 29 fail at negotiation with
// rsync's message.
func TestAttrsOldProtocol(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), []byte("x"), 0o644, time.Unix(1704164645, 0))
	for _, c := range []struct {
		acls, xattrs bool
		want         string
	}{{true, false, "--acls requires protocol 30 or higher (negotiated 29)"},
		{false, true, "--xattrs requires protocol 30 or higher (negotiated 29)"}} {
		dst := filepath.Join(t.TempDir(), "dst")
		req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst, Options: attrOpts(c.acls, c.xattrs, 29)}
		_, err := pushSSH(t, req, 29)
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != ExitProtocol || !strings.Contains(err.Error(), c.want) {
			t.Errorf("push at 29 (acls %v xattrs %v): %v, want exit %d with %q", c.acls, c.xattrs, err, ExitProtocol, c.want)
		}
		if _, err := os.Lstat(filepath.Join(dst, "f")); err == nil {
			t.Errorf("a file arrived despite the failed negotiation")
		}
	}
}

// TestNoLinks: without -l the symlink is listed without a target, the
// receiver skips it, and the rest lands.
func TestNoLinks(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	base := time.Unix(1704164645, 0)
	writeFile(t, filepath.Join(src, "a"), []byte("a"), 0o644, base)
	writeFile(t, filepath.Join(src, "d/b"), []byte("b"), 0o644, base)
	testutil.Must(t, os.Symlink("a", filepath.Join(src, "link")))
	testutil.Must(t, os.Symlink("../a", filepath.Join(src, "d/link2")))
	for _, proto := range []int{29, 30, 31, 32} {
		dst := filepath.Join(t.TempDir(), "dst")
		req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
			Options: Options{NoLinks: true, MaxProtocol: proto, XAttrs: proto >= 30}}
		res, err := pushSSH(t, req, proto)
		if err != nil || res.ExitCode != 0 || len(res.Failed) > 0 {
			t.Fatalf("p%d: push: %v exit %d failed %v", proto, err, resExit(res), resFailed(res))
		}
		compareTrees(t, src, dst, false, func(rel string) bool { return strings.HasSuffix(rel, "link") || strings.HasSuffix(rel, "link2") })
		for _, l := range []string{"link", "d/link2"} {
			if _, err := os.Lstat(filepath.Join(dst, l)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("p%d: %s on the target: %v", proto, l, err)
			}
		}
	}
}

// TestChmod: Options.Chmod sets the modes sent; the source keeps its own.
func TestChmod(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	base := time.Unix(1704164645, 0)
	writeFile(t, filepath.Join(src, "a"), []byte("a"), 0o644, base)
	writeFile(t, filepath.Join(src, "d/b"), []byte("b"), 0o755, base)
	testutil.Must(t, os.Symlink("a", filepath.Join(src, "link")))
	chmod := func(m uint32) uint32 {
		if m&sIFMT == sIFDIR {
			return m&^0o7777 | 0o700
		}
		return m&^0o7777 | 0o600
	}
	dst := filepath.Join(t.TempDir(), "dst")
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst, Options: Options{Chmod: chmod}}
	res, err := pushSSH(t, req, 32)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("push: %v exit %d", err, resExit(res))
	}
	for rel, want := range map[string]fs.FileMode{"a": 0o600, "d/b": 0o600, "d": fs.ModeDir | 0o700, ".": fs.ModeDir | 0o700} {
		fi, err := os.Lstat(filepath.Join(dst, rel))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", rel, modeOf(fi), err, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dst, "link")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link: %v %v", modeOf(fi), err)
	}
	for rel, want := range map[string]fs.FileMode{"a": 0o644, "d/b": 0o755} {
		if fi, err := os.Stat(filepath.Join(src, rel)); err != nil || fi.Mode() != want {
			t.Errorf("source %s changed: %v %v", rel, modeOf(fi), err)
		}
	}
}

func modeOf(fi fs.FileInfo) fs.FileMode {
	if fi == nil {
		return 0
	}
	return fi.Mode()
}

// TestDevicesSpecialsApart: --devices and --specials each alone list and
// encode only their kind, at every protocol, as the receiver expects.
func TestDevicesSpecialsApart(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root for mknod")
	}
	src := t.TempDir()
	base := time.Unix(1704164645, 0)
	writeFile(t, filepath.Join(src, "a"), []byte("a"), 0o644, base)
	testutil.Must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o644))
	testutil.Must(t, unix.Mknod(filepath.Join(src, "chr"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	testutil.Must(t, unix.Mknod(filepath.Join(src, "blk"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 300))))
	writeFile(t, filepath.Join(src, "z"), []byte("z"), 0o644, base)
	for _, proto := range []int{29, 30, 31, 32} {
		for _, c := range []struct{ devices, specials bool }{{true, false}, {false, true}} {
			dst := filepath.Join(t.TempDir(), "dst")
			req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
				Options: Options{Devices: c.devices, Specials: c.specials, MaxProtocol: proto}}
			res, err := pushSSH(t, req, proto)
			if err != nil || res.ExitCode != 0 || len(res.Failed) > 0 {
				t.Fatalf("p%d %+v: %v exit %d failed %v", proto, c, err, resExit(res), resFailed(res))
			}
			want := map[string]bool{"a": true, "z": true, "fifo": c.specials, "chr": c.devices, "blk": c.devices}
			for name, there := range want {
				_, err := os.Lstat(filepath.Join(dst, name))
				if (err == nil) != there {
					t.Errorf("p%d %+v: %s there=%v (%v)", proto, c, name, err == nil, err)
				}
			}
			compareTrees(t, src, dst, false, func(rel string) bool { return !want[rel] && rel != "." })
		}
	}
}

// TestAttrsDaemonAndDryRun: -A -X through an rsync daemon module land as
// at the source; a dry run with them sends nothing and changes nothing
// (no xattr requests without data transfers).
func TestAttrsDaemonAndDryRun(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	needACLs(t, src)
	makeAttrTree(t, src)
	mod := t.TempDir()
	conf := daemonConf(t, mod, "")
	opts := attrOpts(true, true, 0)
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: "m/sub", Options: opts}
	req.Options.DryRun = true
	res, err := pushDaemon(t, conf, DaemonConfig{Module: "m"}, req)
	if err != nil || res.ExitCode != 0 || len(res.Failed) > 0 {
		t.Fatalf("dry run: %v exit %d failed %v", err, resExit(res), resFailed(res))
	}
	if _, err := os.Lstat(filepath.Join(mod, "sub")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the dry run created the target: %v", err)
	}
	req.Options.DryRun = false
	res, err = pushDaemon(t, conf, DaemonConfig{Module: "m"}, req)
	if err != nil || res.ExitCode != 0 || len(res.Failed) > 0 {
		t.Fatalf("push: %v exit %d failed %v", err, resExit(res), resFailed(res))
	}
	checkSameAttrs(t, "daemon target vs source", selectAttrs(rawAttrs(t, src), true, true), rawAttrs(t, filepath.Join(mod, "sub")))
}
