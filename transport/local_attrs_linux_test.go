package transport_test

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/internal/change"
	"github.com/gsync/gsync/internal/testutil"
	"github.com/gsync/gsync/rsyncopts"
	"github.com/gsync/gsync/transport"
)

// needRsyncRoot skips a test that needs C rsync as its oracle and root to
// own files by others.
func needRsyncRoot(t *testing.T) string {
	t.Helper()
	rsync, err := exec.LookPath("rsync")
	if err != nil {
		t.Skip("rsync not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	return rsync
}

// attrTree fills src with entries of several kinds, owners and modes.
func attrTree(t *testing.T, src string) {
	t.Helper()
	testutil.WriteFile(t, filepath.Join(src, "plain"), "plain")
	testutil.WriteFile(t, filepath.Join(src, "d/nobody"), "nobody's")
	testutil.WriteFile(t, filepath.Join(src, "d/noname"), "owned by an id without a name")
	testutil.WriteFile(t, filepath.Join(src, "d/sub/suid"), "setuid")
	testutil.WriteFile(t, filepath.Join(src, "exec"), "#!/bin/sh\n")
	testutil.Must(t, os.Chmod(filepath.Join(src, "exec"), 0o750))
	testutil.Must(t, os.Lchown(filepath.Join(src, "d/nobody"), 65534, 65534))
	testutil.Must(t, os.Lchown(filepath.Join(src, "d/noname"), 12345, 12346))
	testutil.Must(t, os.Lchown(filepath.Join(src, "d/sub"), 65534, 12345))
	testutil.Must(t, os.Chmod(filepath.Join(src, "d/sub/suid"), 0o4755|os.ModeSetuid))
	testutil.Must(t, unix.Chmod(filepath.Join(src, "d/sub/suid"), 0o4755))
	testutil.Must(t, unix.Chmod(filepath.Join(src, "d"), 0o2750))
	testutil.Must(t, os.Symlink("plain", filepath.Join(src, "link")))
	testutil.Must(t, os.Lchown(filepath.Join(src, "link"), 12345, 65534))
	testutil.Must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o640))
	testutil.Must(t, unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	pastMtimes(t, src)
}

// pastMtimes sets every mtime below root to one in the past, with
// nanoseconds: rsync compares whole seconds (util1.c:same_time) and
// leaves an entry made in the source's second with its own.
func pastMtimes(t *testing.T, root string) {
	t.Helper()
	testutil.Must(t, filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// One mtime per name, the same at each call.
		h := fnv.New32a()
		h.Write([]byte(strings.TrimPrefix(p, root)))
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Sec: 1620284889 + int64(h.Sum32()%100000), Nsec: 123456789}}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
}

// pushBoth mirrors src with a local target under attrs and with C rsync
// -a and flags, into fresh directories (or prepared ones), and returns
// them.
func pushBoth(t *testing.T, rsync, src string, attrs rsyncopts.Attrs, flags []string, prep func(dst string)) (got, want string) {
	t.Helper()
	got, want = filepath.Join(t.TempDir(), "got"), filepath.Join(t.TempDir(), "want")
	if prep != nil {
		testutil.MustMkdir(t, got)
		testutil.MustMkdir(t, want)
		prep(got)
		prep(want)
	}
	l, err := transport.NewLocal(got, transport.Options{Source: src, Attrs: attrs, Delete: transport.DeleteAlways})
	testutil.Must(t, err)
	st, err := l.FullSync(context.Background())
	testutil.Must(t, err)
	if len(st.Failed) > 0 {
		t.Fatalf("full sync failed: %v", st.Failed)
	}
	runRsync(t, rsync, src, want, flags)
	return got, want
}

func runRsync(t *testing.T, rsync, src, dst string, flags []string) {
	t.Helper()
	args := append([]string{"-a", "--delete"}, flags...)
	args = append(args, src+"/", dst+"/")
	if out, err := exec.Command(rsync, args...).CombinedOutput(); err != nil {
		t.Fatalf("rsync %v: %v\n%s", args, err, out)
	}
}

// entry is what the oracle compares of one path.
type entry struct {
	Type     fs.FileMode
	UID, GID uint32
	Mode     uint32
	Mtime    int64
	Nlink    uint64
	Blocks   int64
	Content  string
	Xattrs   string
	Group    string // the first name of a multiply linked file's inode
}

// cmpOpts says what a comparison leaves out.
type cmpOpts struct {
	noMtime, blocks bool
}

// snapshot describes every path below root.
func snapshot(t *testing.T, root string, o cmpOpts) map[string]entry {
	t.Helper()
	out := make(map[string]entry)
	first := make(map[uint64]string) // inode -> first name (WalkDir's order)
	testutil.Must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := entry{Type: d.Type(), UID: st.Uid, GID: st.Gid, Mode: st.Mode, Xattrs: xattrList(t, p)}
		if !o.noMtime {
			e.Mtime = st.Mtim.Nano()
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			testutil.Must(t, err)
			e.Content, e.Nlink = string(b), uint64(st.Nlink)
			if st.Nlink > 1 {
				if _, ok := first[st.Ino]; !ok {
					first[st.Ino] = rel
				}
				e.Group = first[st.Ino]
			}
			if o.blocks {
				e.Blocks = st.Blocks
			}
		}
		if d.Type() == fs.ModeSymlink {
			e.Content, _ = os.Readlink(p)
		}
		out[rel] = e
		return nil
	}))
	return out
}

// xattrList renders every raw xattr of p (system.posix_acl_* included).
func xattrList(t *testing.T, p string) string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		t.Fatalf("llistxattr %s: %v", p, err)
	}
	names := strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00")
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		if name == "" {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			t.Fatalf("lgetxattr %s %s: %v", p, name, err)
		}
		fmt.Fprintf(&b, "%s=%x;", name, v[:m])
	}
	return b.String()
}

// sameTrees fails when the two trees differ in anything snapshot sees.
func sameTrees(t *testing.T, got, want string, o cmpOpts) {
	t.Helper()
	g, w := snapshot(t, got, o), snapshot(t, want, o)
	for rel, we := range w {
		ge, ok := g[rel]
		switch {
		case !ok:
			t.Errorf("%s: missing (rsync has it: %+v)", rel, we)
		case ge != we:
			t.Errorf("%s:\n got  %+v\n want %+v (rsync)", rel, ge, we)
		}
	}
	for rel := range g {
		if _, ok := w[rel]; !ok {
			t.Errorf("%s: present, rsync has no such entry", rel)
		}
	}
}

// TestLocalAttrsMatchRsync pushes one tree under each option set with the
// local target and with C rsync and compares owners, modes, mtimes,
// xattrs and ACLs of every path.
func TestLocalAttrsMatchRsync(t *testing.T) {
	t.Parallel()
	rsync := needRsyncRoot(t)
	for _, tc := range []struct {
		name  string
		attrs rsyncopts.Attrs
		flags []string
		o     cmpOpts
	}{
		{"archive", rsyncopts.Attrs{}, nil, cmpOpts{}},
		{"no-owner-no-group", rsyncopts.Attrs{NoOwner: true, NoGroup: true}, []string{"--no-owner", "--no-group"}, cmpOpts{}},
		{"no-owner", rsyncopts.Attrs{NoOwner: true}, []string{"--no-owner"}, cmpOpts{}},
		{"no-perms", rsyncopts.Attrs{NoPerms: true}, []string{"--no-perms"}, cmpOpts{}},
		{"chmod-octal", rsyncopts.Attrs{Chmod: "D2775,F664"}, []string{"--chmod=D2775,F664"}, cmpOpts{}},
		{"chmod-symbolic", rsyncopts.Attrs{Chmod: "Dg+s,ug+w,Fo-w,+X"}, []string{"--chmod=Dg+s,ug+w,Fo-w,+X"}, cmpOpts{}},
		{"maps", rsyncopts.Attrs{Usermap: "0-99:nobody,12345:daemon,*:bin", Groupmap: "nogroup:staff,12346:7"},
			[]string{"--usermap=0-99:nobody,12345:daemon,*:bin", "--groupmap=nogroup:staff,12346:7"}, cmpOpts{}},
		{"chown", rsyncopts.Attrs{Usermap: "*:daemon", Groupmap: "*:staff"}, []string{"--chown=daemon:staff"}, cmpOpts{}},
		{"numeric-maps", rsyncopts.Attrs{NumericIDs: true, Usermap: "nobody:bin,65534:daemon"},
			[]string{"--numeric-ids", "--usermap=nobody:bin,65534:daemon"}, cmpOpts{}},
		{"no-times", rsyncopts.Attrs{NoTimes: true}, []string{"--no-times"}, cmpOpts{noMtime: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(t.TempDir(), "src")
			attrTree(t, src)
			got, want := pushBoth(t, rsync, src, tc.attrs, tc.flags, nil)
			sameTrees(t, got, want, tc.o)
		})
	}
}

// TestLocalNoPermsKeepsTargetModes: without perms existing entries keep
// their modes, as with rsync.
func TestLocalNoPermsKeepsTargetModes(t *testing.T) {
	t.Parallel()
	rsync := needRsyncRoot(t)
	src := filepath.Join(t.TempDir(), "src")
	attrTree(t, src)
	prep := func(dst string) {
		testutil.WriteFile(t, filepath.Join(dst, "plain"), "older and longer")
		testutil.Must(t, os.Chmod(filepath.Join(dst, "plain"), 0o604))
		testutil.MustMkdir(t, filepath.Join(dst, "d"))
		testutil.Must(t, os.Chmod(filepath.Join(dst, "d"), 0o711))
	}
	got, want := pushBoth(t, rsync, src, rsyncopts.Attrs{NoPerms: true}, []string{"--no-perms"}, prep)
	sameTrees(t, got, want, cmpOpts{})
}

// TestLocalSkipsNonRegular: without links, devices or specials those
// entries are not sent, and the target's entries at their names survive
// --delete.
func TestLocalSkipsNonRegular(t *testing.T) {
	t.Parallel()
	rsync := needRsyncRoot(t)
	src := filepath.Join(t.TempDir(), "src")
	attrTree(t, src)
	prep := func(dst string) {
		testutil.WriteFile(t, filepath.Join(dst, "link"), "a file where the source has a symlink")
		testutil.WriteFile(t, filepath.Join(dst, "fifo"), "a file where the source has a fifo")
		testutil.MustMkdir(t, filepath.Join(dst, "null"))
		testutil.WriteFile(t, filepath.Join(dst, "extra"), "deleted")
	}
	for _, tc := range []struct {
		name  string
		attrs rsyncopts.Attrs
		flags []string
	}{
		{"no-links", rsyncopts.Attrs{NoLinks: true}, []string{"--no-links"}},
		{"no-devices", rsyncopts.Attrs{NoDevices: true}, []string{"--no-devices"}},
		{"no-specials", rsyncopts.Attrs{NoSpecials: true}, []string{"--no-specials"}},
		{"all", rsyncopts.Attrs{NoLinks: true, NoDevices: true, NoSpecials: true}, []string{"--no-links", "--no-devices", "--no-specials"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, want := pushBoth(t, rsync, src, tc.attrs, tc.flags, prep)
			// The root's mtime: rsync's root is created by the test.
			sameTrees(t, got, want, cmpOpts{noMtime: true})
		})
	}
}

// xattrTree adds ACLs and xattrs to attrTree's entries.
func xattrTree(t *testing.T, src string) {
	t.Helper()
	attrTree(t, src)
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("setfacl", "-m", "u:65534:rw,g:12345:r", filepath.Join(src, "plain"))
	run("setfacl", "-m", "d:u:65534:rwx,u:12345:rx", filepath.Join(src, "d"))
	run("setfacl", "-m", "u:65534:r", filepath.Join(src, "d/sub/suid"))
	run("setfattr", "-n", "user.color", "-v", "blue", filepath.Join(src, "plain"))
	run("setfattr", "-n", "trusted.secret", "-v", "0x00ff", filepath.Join(src, "d/nobody"))
	run("setfattr", "-n", "security.label", "-v", "top", filepath.Join(src, "d"))
	run("setfattr", "-n", "user.rsync.%stat", "-v", "100644 0,0 0:0", filepath.Join(src, "exec"))
	run("setfattr", "-h", "-n", "trusted.onlink", "-v", "x", filepath.Join(src, "link"))
	pastMtimes(t, src)
}

// TestLocalACLsXattrsMatchRsync compares -A, -X and both with rsync, on
// fresh targets and on targets with ACLs and xattrs the source lacks.
func TestLocalACLsXattrsMatchRsync(t *testing.T) {
	t.Parallel()
	rsync := needRsyncRoot(t)
	src := filepath.Join(t.TempDir(), "src")
	xattrTree(t, src)
	prep := func(dst string) {
		testutil.WriteFile(t, filepath.Join(dst, "exec"), "#!/bin/sh\n")
		testutil.WriteFile(t, filepath.Join(dst, "d/noname"), "owned by an id without a name")
		for _, p := range []string{"exec", "d/noname", "d"} {
			testutil.Must(t, unix.Lsetxattr(filepath.Join(dst, p), "user.stale", []byte("x"), 0))
			testutil.Must(t, unix.Lsetxattr(filepath.Join(dst, p), "trusted.stale", []byte("x"), 0))
			if out, err := exec.Command("setfacl", "-m", "u:7:r", filepath.Join(dst, p)).CombinedOutput(); err != nil {
				t.Fatalf("setfacl: %v %s", err, out)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		attrs rsyncopts.Attrs
		flags []string
		prep  func(string)
	}{
		{"A", rsyncopts.Attrs{ACLs: true}, []string{"-A"}, nil},
		{"X", rsyncopts.Attrs{XAttrs: true}, []string{"-X"}, nil},
		{"AX", rsyncopts.Attrs{ACLs: true, XAttrs: true}, []string{"-AX"}, nil},
		{"A-existing", rsyncopts.Attrs{ACLs: true}, []string{"-A"}, prep},
		{"X-existing", rsyncopts.Attrs{XAttrs: true}, []string{"-X"}, prep},
		{"AX-existing", rsyncopts.Attrs{ACLs: true, XAttrs: true}, []string{"-AX"}, prep},
		{"none-existing", rsyncopts.Attrs{}, nil, prep},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, want := pushBoth(t, rsync, src, tc.attrs, tc.flags, tc.prep)
			sameTrees(t, got, want, cmpOpts{noMtime: tc.prep != nil})
		})
	}
}

// TestLocalAttribChangeReachesTarget: a change of ACL, xattr, owner or
// mode alone (same size and mtime) reaches the target in the next batch,
// as rsync would leave it.
func TestLocalAttribChangeReachesTarget(t *testing.T) {
	t.Parallel()
	rsync := needRsyncRoot(t)
	src := filepath.Join(t.TempDir(), "src")
	xattrTree(t, src)
	attrs := rsyncopts.Attrs{ACLs: true, XAttrs: true}
	got := filepath.Join(t.TempDir(), "got")
	l, err := transport.NewLocal(got, transport.Options{Source: src, Attrs: attrs, Delete: transport.DeleteAlways})
	testutil.Must(t, err)
	_, err = l.FullSync(context.Background())
	testutil.Must(t, err)
	for _, c := range [][]string{
		{"setfacl", "-m", "u:33:rwx", "plain"},
		{"setfacl", "-x", "u:65534", "d/sub/suid"},
		{"setfacl", "-k", "d"},
		{"setfattr", "-n", "user.color", "-v", "red", "plain"},
		{"setfattr", "-x", "trusted.secret", "d/nobody"},
		{"chown", "33:34", "d/noname"},
		{"chmod", "0600", "exec"},
	} {
		p := filepath.Join(src, c[len(c)-1])
		if out, err := exec.Command(c[0], append(c[1:len(c)-1], p)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	var batch []transport.Change
	for _, p := range []string{"plain", "d/sub/suid", "d", "d/nobody", "d/noname", "exec"} {
		batch = append(batch, transport.Change{Op: change.Attrib, Path: p})
	}
	st, err := l.Push(context.Background(), batch)
	testutil.Must(t, err)
	if len(st.Failed) > 0 {
		t.Fatalf("push failed: %v", st.Failed)
	}
	want := filepath.Join(t.TempDir(), "want")
	runRsync(t, rsync, src, want, []string{"-AX"})
	sameTrees(t, got, want, cmpOpts{})
	// And a full sync (quick check: same size and mtime) keeps it so.
	testutil.Must(t, exec.Command("setfattr", "-n", "user.color", "-v", "green", filepath.Join(src, "plain")).Run())
	testutil.Must(t, exec.Command("chown", "12:12", filepath.Join(src, "plain")).Run())
	_, err = l.FullSync(context.Background())
	testutil.Must(t, err)
	runRsync(t, rsync, src, want, []string{"-AX"})
	sameTrees(t, got, want, cmpOpts{})
}

// TestLocalXattrUnsupportedWarns: a target file system without user
// xattrs (tmpfs refuses user.* on older kernels; /dev/shm here) is a
// warning, never a lost file.
func TestLocalXattrUnsupportedWarns(t *testing.T) {
	t.Parallel()
	base := "/dev/shm"
	if err := unix.Lsetxattr(base, "user.probe", []byte("x"), 0); err == nil {
		unix.Lremovexattr(base, "user.probe")
		t.Skip("/dev/shm keeps user xattrs here")
	}
	src := filepath.Join(t.TempDir(), "src")
	testutil.WriteFile(t, filepath.Join(src, "a"), "a")
	testutil.WriteFile(t, filepath.Join(src, "b"), "b")
	testutil.Must(t, unix.Lsetxattr(filepath.Join(src, "a"), "user.x", []byte("1"), 0))
	testutil.Must(t, unix.Lsetxattr(filepath.Join(src, "b"), "user.x", []byte("1"), 0))
	dst, err := os.MkdirTemp(base, "gsync-xattr-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(dst) })
	var logs testutil.Buffer
	l, err := transport.NewLocal(dst, transport.Options{Source: src, Attrs: rsyncopts.Attrs{XAttrs: true}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	testutil.Must(t, err)
	st, err := l.FullSync(context.Background())
	testutil.Must(t, err)
	if len(st.Failed) > 0 {
		t.Errorf("failures: %v", st.Failed)
	}
	for _, n := range []string{"a", "b"} {
		if b, err := os.ReadFile(filepath.Join(dst, n)); err != nil || !bytes.Equal(b, []byte(n)) {
			t.Errorf("%s not copied: %q %v", n, b, err)
		}
	}
	if c := strings.Count(logs.String(), "target cannot keep xattrs"); c != 1 {
		t.Errorf("want one warning, got %d:\n%s", c, logs.String())
	}
}

// TestLocalSparseMatchesRsync: with -S runs of zeros become holes as
// rsync -S makes them (same st_blocks); without it the file is dense.
func TestLocalSparseMatchesRsync(t *testing.T) {
	t.Parallel()
	rsync := needRsyncRoot(t)
	src := filepath.Join(t.TempDir(), "src")
	testutil.MustMkdir(t, src)
	f, err := os.Create(filepath.Join(src, "big"))
	testutil.Must(t, err)
	data := make([]byte, 10<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>9 | 1)
	}
	clear(data[3<<20 : 6<<20])      // the hole in the middle
	clear(data[6<<20+5000 : 7<<20]) // zero runs at odd offsets
	clear(data[8<<20+100 : 8<<20+40000])
	clear(data[10<<20-70000:]) // trailing zeros
	_, err = f.Write(data)
	testutil.Must(t, err)
	testutil.Must(t, f.Close())
	testutil.WriteFile(t, filepath.Join(src, "zeros"), string(make([]byte, 100000)))
	pastMtimes(t, src)
	for _, tc := range []struct {
		name  string
		attrs rsyncopts.Attrs
		flags []string
	}{
		{"S", rsyncopts.Attrs{Sparse: true}, []string{"-S"}},
		{"dense", rsyncopts.Attrs{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, want := pushBoth(t, rsync, src, tc.attrs, tc.flags, nil)
			sameTrees(t, got, want, cmpOpts{blocks: true})
		})
	}
}

// hardLinkTree makes two groups of hard links, within and across
// directories, and a file with one name.
func hardLinkTree(t *testing.T, src string) {
	t.Helper()
	testutil.WriteFile(t, filepath.Join(src, "a"), "group a")
	testutil.WriteFile(t, filepath.Join(src, "b/b1"), "group b")
	testutil.WriteFile(t, filepath.Join(src, "single"), "one name")
	testutil.MustMkdir(t, filepath.Join(src, "d/e"))
	testutil.MustMkdir(t, filepath.Join(src, "c"))
	testutil.Must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "a2")))
	testutil.Must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "d/e/a3")))
	testutil.Must(t, os.Link(filepath.Join(src, "b/b1"), filepath.Join(src, "c/b2")))
	pastMtimes(t, src)
}

// TestLocalHardLinksMatchRsync: -H keeps the names of one inode one inode
// on the target, in a full sync, for a new name in a later batch and for
// a change seen through one name; without -H each name is a file.
func TestLocalHardLinksMatchRsync(t *testing.T) {
	t.Parallel()
	rsync := needRsyncRoot(t)
	t.Run("full", func(t *testing.T) {
		t.Parallel()
		src := filepath.Join(t.TempDir(), "src")
		hardLinkTree(t, src)
		got, want := pushBoth(t, rsync, src, rsyncopts.Attrs{HardLinks: true}, []string{"-H"}, nil)
		sameTrees(t, got, want, cmpOpts{})
		got, want = pushBoth(t, rsync, src, rsyncopts.Attrs{}, nil, nil)
		sameTrees(t, got, want, cmpOpts{})
	})
	t.Run("batches", func(t *testing.T) {
		t.Parallel()
		src := filepath.Join(t.TempDir(), "src")
		hardLinkTree(t, src)
		got := filepath.Join(t.TempDir(), "got")
		l, err := transport.NewLocal(got, transport.Options{Source: src, Attrs: rsyncopts.Attrs{HardLinks: true}, Delete: transport.DeleteAlways})
		testutil.Must(t, err)
		_, err = l.FullSync(context.Background())
		testutil.Must(t, err)
		push := func(paths ...string) transport.Stats {
			t.Helper()
			var batch []transport.Change
			for _, p := range paths {
				batch = append(batch, transport.Change{Op: change.Create, Path: p})
			}
			st, err := l.Push(context.Background(), batch)
			testutil.Must(t, err)
			if len(st.Failed) > 0 {
				t.Fatalf("push %v: %v", paths, st.Failed)
			}
			want := filepath.Join(t.TempDir(), "want")
			runRsync(t, rsync, src, want, []string{"-H"})
			sameTrees(t, got, want, cmpOpts{})
			return st
		}
		// A new name of a mirrored inode, and a new group in one batch.
		testutil.Must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "c/new")))
		testutil.WriteFile(t, filepath.Join(src, "n1"), "new group")
		testutil.Must(t, os.Link(filepath.Join(src, "n1"), filepath.Join(src, "d/n2")))
		pastMtimes(t, src)
		// Only n1's data is written: the other names are links.
		if st := push("c/new", "n1", "d/n2", "c", "d"); st.Bytes != int64(len("new group")) {
			t.Errorf("batch wrote %d bytes, want only n1's %d", st.Bytes, len("new group"))
		}
		// A change written through one name reaches all of them.
		testutil.Must(t, os.WriteFile(filepath.Join(src, "a2"), []byte("group a, longer now"), 0o644))
		pastMtimes(t, src)
		push("a2", ".")
		// A mode change through one name.
		testutil.Must(t, os.Chmod(filepath.Join(src, "b/b1"), 0o600))
		push("c/b2")
	})
}
