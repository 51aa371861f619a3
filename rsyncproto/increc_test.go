package rsyncproto

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gsync/gsync/internal/testutil"
)

// TestIncRecurse pushes a varied tree with incremental recursion offered,
// to rsync --server and to a daemon, at every protocol: from 30 on the
// list must go out incrementally, below it at once; the target must equal
// the source, also after a second push that deletes and changes.
func TestIncRecurse(t *testing.T) {
	needRsync(t)
	src := t.TempDir()
	makeTree(t, src, true)
	for i := 0; i < 30; i++ { // more than one lookahead's worth of lists
		testutil.Must(t, os.MkdirAll(filepath.Join(src, "many", fmt.Sprintf("d%02d", i), "x"), 0o755))
		for j := 0; j < 40; j++ {
			writeFile(t, filepath.Join(src, "many", fmt.Sprintf("d%02d", i), fmt.Sprintf("f%d", j)), []byte{byte(i), byte(j)}, 0o644, time.Unix(1704164645, 0))
		}
	}
	// Directory mtimes in the past: a receiver leaves a directory it
	// created in the same second as the source's mtime with its own
	// mtime (C rsync's sender too).
	ageDirs(t, src)
	// Both kinds of receiver, both dialects of the file list (varint
	// flags at 31 and 32, byte flags at 30), and 29, which declines.
	for _, pr := range []peer{sshPeer(32), daemonPeer(31), sshPeer(30), daemonPeer(30), sshPeer(29)} {
		p := pr.proto
		t.Run(pr.name, func(t *testing.T) {
			dest, dir, push := pr.target(t)
			req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dest,
				Options: Options{Devices: true, Specials: true, Owner: true, Group: true, Delete: true, IncRecurse: true}}
			res, err := push(req)
			if err != nil {
				t.Fatalf("push: %v", err)
			}
			if res.ExitCode != 0 || len(res.Failed) > 0 {
				t.Fatalf("exit %d failed %v warnings %v", res.ExitCode, res.Failed, res.Warnings)
			}
			if want := p >= 30; res.IncRecurse != want {
				t.Fatalf("incremental = %v at protocol %d, want %v", res.IncRecurse, p, want)
			}
			skip := func(rel string) bool { return rel == "abs-link" && pr.name[:6] == "daemon" }
			compareTrees(t, src, dir, p >= 31, skip)

			// Extra files at the target go, changed files arrive.
			testutil.Must(t, os.MkdirAll(filepath.Join(dir, "many", "d03", "extra", "deeper"), 0o755))
			testutil.WriteFile(t, filepath.Join(dir, "many", "d03", "extra", "deeper", "f"), "x")
			testutil.WriteFile(t, filepath.Join(dir, "stray"), "x")
			writeFile(t, filepath.Join(src, "many", "d05", "f1"), []byte("changed"), 0o600, time.Unix(1704164999, 0))
			res, err = push(req)
			if err != nil {
				t.Fatalf("second push: %v", err)
			}
			if res.ExitCode != 0 || len(res.Failed) > 0 || res.Files != 1 {
				t.Fatalf("second push: exit %d, %d files, failed %v warnings %v", res.ExitCode, res.Files, res.Failed, res.Warnings)
			}
			compareTrees(t, src, dir, p >= 31, skip)
			writeFile(t, filepath.Join(src, "many", "d05", "f1"), []byte{5, 1}, 0o644, time.Unix(1704164645, 0))
		})
	}
}

// ageDirs sets the mtime of every directory below root to a fixed time
// in the past.
func ageDirs(t *testing.T, root string) {
	t.Helper()
	old := time.Unix(1704164000, 0)
	testutil.Must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	}))
}

// TestIncRecurseDeclined: a receiver that does not take incremental
// recursion although it was offered (here told so by its own
// --no-inc-recursive) gets the whole list at once.
func TestIncRecurseDeclined(t *testing.T) {
	bin := needRsync(t)
	src := t.TempDir()
	makeTree(t, src, false)
	ageDirs(t, src)
	dst := filepath.Join(t.TempDir(), "dst")
	req := Request{Root: src, Paths: []Path{{Name: ".", Recursive: true}}, Dest: dst,
		Options: Options{Owner: true, Group: true, IncRecurse: true}}
	args := ServerArgs(req)
	args = append([]string{args[0], "--no-inc-recursive"}, args[1:]...)
	pc, wait := startRsyncBin(t, bin, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := PushServer(ctx, pc, req)
	pc.Close()
	wait()
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if res.IncRecurse || res.ExitCode != 0 || len(res.Failed) > 0 {
		t.Fatalf("incremental %v exit %d failed %v warnings %v", res.IncRecurse, res.ExitCode, res.Failed, res.Warnings)
	}
	compareTrees(t, src, dst, true, nil)
}

// TestIncRecurseNeedsWholeTree: incremental recursion is for a push of
// the whole tree only; anything else is refused before a byte is sent.
func TestIncRecurseNeedsWholeTree(t *testing.T) {
	bin := needRsync(t)
	src := t.TempDir()
	makeTree(t, src, false)
	req := Request{Root: src, Paths: []Path{{Name: "d1", Recursive: true}}, Dest: t.TempDir(),
		Options: Options{IncRecurse: true}}
	pc, wait := startRsyncBin(t, bin, ServerArgs(req)...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := PushServer(ctx, pc, req)
	pc.Close()
	wait()
	if !errors.Is(err, errNotWholeTree) {
		t.Fatalf("push of d1 with IncRecurse: %v, want errNotWholeTree", err)
	}
}

// TestIncRecurseIndexes: the receiver names entries by index; an index
// of a list it finished, between lists, or past the last one is an error,
// never another entry; start-1 of a list is the directory it lists.
func TestIncRecurseIndexes(t *testing.T) {
	root := &entry{name: ".", mode: sIFDIR | 0o755}
	a := &entry{name: "a", mode: sIFDIR | 0o755}
	f := &entry{name: "f", mode: sIFREG | 0o644}
	af := &entry{name: "a/f", mode: sIFREG | 0o644}
	in := &incSender{next: 1}
	in.dirs.add(root)
	in.dirs.add(a)
	in.lists = []*incList{{start: 1, parent: 0, entries: []*entry{root, f, a}}}
	in.next = 5
	in.lists = append(in.lists, &incList{start: 5, parent: 1, entries: []*entry{af}})
	in.next = 7
	for ndx, want := range map[int32]*entry{0: root, 1: root, 2: f, 3: a, 4: a, 5: af} {
		if got, err := in.entry(ndx); err != nil || got != want {
			t.Errorf("entry(%d) = %v, %v; want %s", ndx, got, err, want.name)
		}
	}
	for _, ndx := range []int32{6, 7, 1 << 30} {
		if e, err := in.entry(ndx); err == nil {
			t.Errorf("entry(%d) = %s, want an error", ndx, e.name)
		}
	}
	if !in.done() {
		t.Fatal("done with a list left reports none left")
	}
	for _, ndx := range []int32{0, 1, 2, 3} {
		if e, err := in.entry(ndx); err == nil {
			t.Errorf("entry(%d) of a finished list = %s, want an error", ndx, e.name)
		}
	}
	if got, err := in.entry(4); err != nil || got != a {
		t.Errorf("entry(4) = %v, %v; want the directory a", got, err)
	}
	if in.done() {
		t.Error("done after the last list reports lists left")
	}
	if in.done() {
		t.Error("done with no list left reports lists left")
	}
}

// TestDirTable: a chunk of directories is freed once it is full and all
// its directories were dropped; the others keep theirs.
func TestDirTable(t *testing.T) {
	var tab dirTable
	es := make([]*entry, 2*dirChunk+3)
	for i := range es {
		es[i] = &entry{name: fmt.Sprint(i), mode: sIFDIR | 0o755}
		tab.add(es[i])
	}
	if tab.len() != int32(len(es)) {
		t.Fatalf("len %d, want %d", tab.len(), len(es))
	}
	for i := range int32(dirChunk) {
		tab.drop(i)
		tab.drop(i) // twice: no effect
	}
	if tab.chunks[0] != nil {
		t.Error("a full chunk with every directory dropped is kept")
	}
	for i := range es[2*dirChunk:] {
		tab.drop(int32(2*dirChunk + i))
	}
	if tab.chunks[2] == nil {
		t.Error("the chunk being filled was freed")
	}
	tab.add(&entry{name: "more", mode: sIFDIR | 0o755})
	for i := range int32(dirChunk) {
		if i == 5 {
			continue
		}
		tab.drop(dirChunk + i)
	}
	if tab.chunks[1] == nil || tab.get(dirChunk+5) != es[dirChunk+5] || tab.get(dirChunk+6) != nil {
		t.Error("a chunk with a directory left was freed, or a dropped directory is still there")
	}
	if tab.get(0) != nil || tab.get(tab.len()-1).name != "more" {
		t.Error("get after drop and add")
	}
}
