package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gsync/gsync/internal/testutil"
)

// Module is one module of a test rsync daemon.
type Module struct {
	Name     string
	Path     string // created when missing
	ReadOnly bool
	// AuthUsers are the "auth users" entries (e.g. "alice" or "bob:ro").
	AuthUsers []string
	// Secrets maps user names to passwords for the module's secrets file.
	Secrets map[string]string
	// NoChroot sets "use chroot = no". By default chroot is used when the
	// test runs as root (symlink targets then arrive verbatim) and not
	// otherwise (rsync cannot chroot without root).
	NoChroot bool
	// Extra lines for the module section.
	Extra string
}

// Config describes a test rsync daemon.
type Config struct {
	Modules []Module
	// Binary is the rsync binary; default "rsync" from PATH. The test is
	// skipped when it is missing.
	Binary string
	// ExtraGlobal lines for the global section of rsyncd.conf.
	ExtraGlobal string
	// Protocol, when non-zero, makes the daemon offer at most this protocol
	// version (rsync --daemon --protocol=N), to test older dialects.
	Protocol int
}

// RsyncDaemon is a running `rsync --daemon --no-detach` on 127.0.0.1.
type RsyncDaemon struct {
	Addr    string // 127.0.0.1:Port
	Port    int
	Dir     string // holds rsyncd.conf, the pid, log and secrets files
	LogFile string

	t        testing.TB
	binary   string
	conf     string
	protocol int
	mu       sync.Mutex
	proc     *process // nil while killed
	output   *testutil.Buffer
}

// StartRsyncDaemon writes an rsyncd.conf for cfg, starts the daemon on a free
// port of 127.0.0.1, waits until it accepts connections and stops it in a
// cleanup. On test failure the daemon's log is printed.
func StartRsyncDaemon(t testing.TB, cfg Config) *RsyncDaemon {
	t.Helper()
	bin := cfg.Binary
	if bin == "" {
		bin = "rsync"
	}
	bin = lookBinary(t, bin)
	d := &RsyncDaemon{t: t, binary: bin, Dir: t.TempDir(), output: &testutil.Buffer{}, protocol: cfg.Protocol}
	d.LogFile = filepath.Join(d.Dir, "rsyncd.log")
	d.conf = filepath.Join(d.Dir, "rsyncd.conf")
	text, err := d.config(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.conf, []byte(text), 0o600); err != nil {
		t.Fatalf("write rsyncd.conf: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("rsync daemon %s log:\n%s\noutput:\n%s", d.Addr, readFile(d.LogFile), d.output.String())
		}
		if err := d.Kill(); err != nil {
			t.Errorf("stop rsync daemon: %v", err)
		}
	})
	// A free port may be taken before the daemon binds it (tests run in
	// parallel, and their connections take ports too): try another.
	for attempt := 1; ; attempt++ {
		d.Port = FreePort(t)
		d.Addr = "127.0.0.1:" + itoa(d.Port)
		err := d.start()
		if err == nil {
			return d
		}
		if attempt == 3 || !strings.Contains(err.Error(), "in use") {
			t.Fatal(err)
		}
	}
}

func (d *RsyncDaemon) config(cfg Config) (string, error) {
	root := os.Geteuid() == 0
	var b strings.Builder
	fmt.Fprintf(&b, "pid file = %s\n", filepath.Join(d.Dir, "rsyncd.pid"))
	fmt.Fprintf(&b, "log file = %s\n", d.LogFile)
	b.WriteString("reverse lookup = no\nnumeric ids = yes\nmunge symlinks = no\n")
	if root {
		b.WriteString("uid = root\ngid = root\n")
	}
	if cfg.ExtraGlobal != "" {
		b.WriteString(cfg.ExtraGlobal + "\n")
	}
	for _, m := range cfg.Modules {
		if m.Name == "" || m.Path == "" {
			return "", fmt.Errorf("rsync daemon module needs a name and a path: %+v", m)
		}
		if err := os.MkdirAll(m.Path, 0o755); err != nil {
			return "", fmt.Errorf("create module dir: %w", err)
		}
		fmt.Fprintf(&b, "\n[%s]\n\tpath = %s\n", m.Name, m.Path)
		fmt.Fprintf(&b, "\tread only = %s\n", yesNo(m.ReadOnly))
		fmt.Fprintf(&b, "\tuse chroot = %s\n", yesNo(root && !m.NoChroot))
		b.WriteString("\tmunge symlinks = no\n\tnumeric ids = yes\n")
		if len(m.AuthUsers) > 0 {
			fmt.Fprintf(&b, "\tauth users = %s\n", strings.Join(m.AuthUsers, ", "))
		}
		if len(m.Secrets) > 0 {
			p := filepath.Join(d.Dir, m.Name+".secrets")
			users := make([]string, 0, len(m.Secrets))
			for u := range m.Secrets {
				users = append(users, u)
			}
			sort.Strings(users)
			var s strings.Builder
			for _, u := range users {
				fmt.Fprintf(&s, "%s:%s\n", u, m.Secrets[u])
			}
			if err := os.WriteFile(p, []byte(s.String()), 0o600); err != nil {
				return "", fmt.Errorf("write secrets file: %w", err)
			}
			fmt.Fprintf(&b, "\tsecrets file = %s\n", p)
		}
		if m.Extra != "" {
			b.WriteString(m.Extra + "\n")
		}
	}
	return b.String(), nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (d *RsyncDaemon) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc != nil {
		return fmt.Errorf("rsync daemon %s already running", d.Addr)
	}
	args := []string{"--daemon", "--no-detach", "--config=" + d.conf,
		"--port=" + itoa(d.Port), "--address=127.0.0.1"}
	if d.protocol != 0 {
		args = append(args, "--protocol="+itoa(d.protocol))
	}
	cmd := exec.Command(d.binary, args...)
	cmd.Stdout, cmd.Stderr = d.output, d.output
	p, err := startProcess(cmd)
	if err != nil {
		return err
	}
	if err := p.waitReady(d.Addr); err != nil {
		p.stop()
		return fmt.Errorf("start rsync daemon: %w\nlog:\n%s\noutput:\n%s", err, readFile(d.LogFile), d.output.String())
	}
	d.proc = p
	return nil
}

// Kill stops the daemon and its connection processes (SIGKILL to the
// process group of the daemon's pid) and waits for them. It is a no-op
// when the daemon is not running.
func (d *RsyncDaemon) Kill() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc == nil {
		return nil
	}
	err := d.proc.stop()
	d.proc = nil
	return err
}

// Restart starts the daemon again on the same port after Kill (or kills and
// restarts a running one).
func (d *RsyncDaemon) Restart() error {
	if err := d.Kill(); err != nil {
		return err
	}
	return d.start()
}

// URL returns rsync://127.0.0.1:PORT/module/.
func (d *RsyncDaemon) URL(module string) string {
	return fmt.Sprintf("rsync://%s/%s/", d.Addr, module)
}

// Log returns the daemon's log file content.
func (d *RsyncDaemon) Log() string { return readFile(d.LogFile) }
