package control

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, path string, st Status) (stop func()) {
	t.Helper()
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, func() Status { return st }) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
}

func TestQueryRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	path := filepath.Join(dir, "1.sock")
	want := Status{PID: 42, Version: "v1", Started: time.Unix(1700000000, 0).UTC(),
		Targets: []Target{{Sync: "Sync1", Source: "/src", Target: "h::m", State: "idle", Queue: 3, BytesPushed: 99}}}
	stop := serve(t, path, want)
	for p, mode := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode().Perm(), err, mode)
		}
	}
	got, err := Query(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if got.PID != 42 || got.Socket != path || len(got.Targets) != 1 || !reflect.DeepEqual(got.Targets[0], want.Targets[0]) || !got.Started.Equal(want.Started) {
		t.Errorf("Query = %+v, want %+v", got, want)
	}
	// A second process cannot take the live socket.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Listen on a live socket: %v, want an in-use error", err)
	}
	stop()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket left after Serve ended: %v", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	path := filepath.Join(dir, "s.sock")
	// A socket file nobody listens on, as a killed gsync leaves it.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	stop := serve(t, path, Status{PID: 7})
	defer stop()
	got, err := QueryDir(context.Background(), dir)
	if err != nil || len(got) != 1 || got[0].PID != 7 {
		t.Errorf("QueryDir = %+v, %v", got, err)
	}
}

func TestQueryDirDropsDeadSockets(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	dead := filepath.Join(dir, "9.sock")
	ln, err := net.Listen("unix", dead)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	stop := serve(t, filepath.Join(dir, "1.sock"), Status{PID: 1})
	defer stop()
	got, err := QueryDir(context.Background(), dir)
	if err != nil || len(got) != 1 || got[0].PID != 1 {
		t.Errorf("QueryDir = %+v, %v", got, err)
	}
	if _, err := os.Lstat(dead); !os.IsNotExist(err) {
		t.Errorf("dead socket not removed: %v", err)
	}
	if got, err := QueryDir(context.Background(), filepath.Join(dir, "missing")); err != nil || len(got) != 0 {
		t.Errorf("QueryDir of a missing dir = %v, %v", got, err)
	}
}

// TestSocketDirMustBePrivate: a control socket directory that another
// user owns, that others can open, or that is a symlink is refused by the
// server (Listen) and by "gsync status" (Query, QueryDir) alike.
func TestSocketDirMustBePrivate(t *testing.T) {
	cases := map[string]func(t *testing.T, dir string) string{
		"mode 0777": func(t *testing.T, dir string) string {
			os.Chmod(dir, 0o777)
			return "mode 0777"
		},
		"other owner": func(t *testing.T, dir string) string {
			if os.Geteuid() != 0 {
				t.Skip("chown to another user needs root")
			}
			if err := os.Chown(dir, os.Geteuid()+4242, -1); err != nil {
				t.Fatal(err)
			}
			return "owned by uid"
		},
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ctl")
			path := filepath.Join(dir, "1.sock")
			stop := serve(t, path, Status{PID: 1}) // a good directory first
			defer stop()
			want := spoil(t, dir)
			checkRefused(t, dir, path, want)
		})
	}
	t.Run("default dir mode 0755", func(t *testing.T) {
		// The default directory must be exactly 0700; a directory the
		// user named may be searchable by others, never writable.
		base := t.TempDir()
		t.Setenv("XDG_RUNTIME_DIR", base)
		dir := DefaultDir()
		stop := serve(t, filepath.Join(dir, "1.sock"), Status{PID: 1})
		defer stop()
		os.Chmod(dir, 0o755)
		checkRefused(t, dir, filepath.Join(dir, "1.sock"), "mode 0755")
		if err := CheckDir(dir); err == nil {
			t.Error("CheckDir accepted mode 0755")
		}
		named := filepath.Join(base, "named")
		os.Mkdir(named, 0o755)
		stop2 := serve(t, filepath.Join(named, "1.sock"), Status{PID: 2})
		defer stop2()
		if st, err := Query(context.Background(), filepath.Join(named, "1.sock")); err != nil || st.PID != 2 {
			t.Errorf("Query in a named 0755 directory = %+v, %v", st, err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		base := t.TempDir()
		real := filepath.Join(base, "real")
		path := filepath.Join(real, "1.sock")
		stop := serve(t, path, Status{PID: 1})
		defer stop()
		link := filepath.Join(base, "link")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		checkRefused(t, link, filepath.Join(link, "1.sock"), "symlink")
	})
}

// checkRefused asserts that Listen, Query and QueryDir all refuse dir,
// with an error that contains want.
func checkRefused(t *testing.T, dir, path, want string) {
	t.Helper()
	if ln, err := Listen(filepath.Join(dir, "2.sock")); err == nil || !strings.Contains(err.Error(), want) {
		if ln != nil {
			ln.Close()
		}
		t.Errorf("Listen: %v, want an error with %q", err, want)
	}
	if _, err := Query(context.Background(), path); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Query: %v, want an error with %q", err, want)
	}
	if _, err := QueryDir(context.Background(), dir); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("QueryDir: %v, want an error with %q", err, want)
	}
}
