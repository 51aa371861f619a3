package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gsync/gsync/rsyncproto"
)

// CheckResult says what a target's Check found (gsync check).
type CheckResult struct {
	// Checked lists what was checked and passed, in words.
	Checked []string
	// Command is the receiver's command line of a full sync (rsync
	// targets): what gsync would run.
	Command string
	// Unchecked lists what could not be checked without changing the
	// target.
	Unchecked []string
}

// Checker is a target that can check that a sync to it would work,
// without changing it: reachable, authenticated, accepting pushes.
type Checker interface {
	Check(ctx context.Context) (CheckResult, error)
}

var (
	_ Checker = (*Local)(nil)
	_ Checker = (*Daemon)(nil)
	_ Checker = (*SSH)(nil)
)

// Check checks that the target directory is a directory this process
// may write into (access(2), which changes nothing).
func (l *Local) Check(ctx context.Context) (CheckResult, error) {
	fi, err := os.Stat(l.root)
	if errors.Is(err, fs.ErrNotExist) {
		// A check changes nothing: the directory is created by the sync.
		parent := filepath.Dir(l.root)
		for {
			if _, err := os.Stat(parent); err == nil || parent == filepath.Dir(parent) {
				break
			}
			parent = filepath.Dir(parent)
		}
		if err := unix.Access(parent, unix.W_OK|unix.X_OK); err != nil {
			return CheckResult{}, Fatal(fmt.Errorf("check target %s: it does not exist, and %s is not writable by this user: %w", l.root, parent, err))
		}
		return CheckResult{Checked: []string{fmt.Sprintf("directory does not exist yet; the sync creates it in %s, writable by this user", parent)}}, ctx.Err()
	}
	if err != nil {
		return CheckResult{}, Fatal(fmt.Errorf("check target %s: %w", l.root, pathless(err, l.root)))
	}
	if !fi.IsDir() {
		return CheckResult{}, Fatal(fmt.Errorf("check target %s: not a directory", l.root))
	}
	if err := unix.Access(l.root, unix.W_OK|unix.X_OK); err != nil {
		return CheckResult{}, Fatal(fmt.Errorf("check target %s: not writable by this user: %w", l.root, err))
	}
	return CheckResult{Checked: []string{"directory exists and is writable by this user"}}, ctx.Err()
}

// Check connects to the daemon, authenticates, selects the module and
// has the receiver accept a dry run of the root directory alone (a
// read-only module, a refused user or a missing path fail here).
func (d *Daemon) Check(ctx context.Context) (CheckResult, error) {
	full := d.request(".", []rsyncproto.Path{{Name: ".", Recursive: true}}, d.opts.Delete.Full(), false)
	full.Options.DryRun = false // Check's own dry run is not the sync's
	req := d.request(".", []rsyncproto.Path{{Name: ".", Recursive: false}}, false, false)
	req.Options.DryRun, req.Options.Progress = true, nil
	res := CheckResult{Command: "rsync " + strings.Join(rsyncproto.ServerArgs(full), " ") + " (started by the daemon)"}
	if _, err := d.run(ctx, req, ""); err != nil {
		return res, d.classify("check", err)
	}
	res.Checked = append(res.Checked, fmt.Sprintf("connected, authenticated, module accepts a push (a dry run of the root; rsync protocol %d)", d.peerProto))
	if !rsyncproto.ScopesDeletes(d.peerProto) && d.opts.Exclude != nil {
		res.Unchecked = append(res.Unchecked, fmt.Sprintf("protocol %d cannot keep excluded target files when it deletes: deletions are not propagated", d.peerProto))
	}
	res.Unchecked = append(res.Unchecked, "write permission of the module's files (needs a write)")
	return res, nil
}

// Check connects over ssh (host key, authentication), finds the target
// directory and has the remote rsync --server accept a dry run of the
// root directory alone.
func (t *SSH) Check(ctx context.Context) (CheckResult, error) {
	if err := t.ensure(ctx); err != nil {
		return CheckResult{}, t.classify("check", err)
	}
	full := t.rsyncOptions(false, t.deleteVia() != deletesBySFTP && t.opts.Delete.Full())
	full.DryRun = false // Check's own dry run is not the sync's
	res := CheckResult{Command: t.command(full)}
	o := t.rsyncOptions(false, false)
	o.DryRun, o.Progress = true, nil
	sess, err := t.client.ExecCommand(ctx, t.command(o))
	if err != nil {
		return res, t.classify("check", err)
	}
	if _, err := t.runRsync(ctx, sess, rsyncproto.Request{Root: t.opts.Source, Dest: t.dir,
		Paths: []rsyncproto.Path{{Name: ".", Recursive: false}}, Options: o}); err != nil {
		return res, t.classify("check", err)
	}
	res.Checked = append(res.Checked, "connected, host key known, authenticated, remote rsync accepts a push (a dry run of the root)")
	if _, err := t.files().Stat(ctx, t.dir); err != nil && isSFTPNotExist(err) {
		res.Checked = append(res.Checked, "remote directory "+t.dir+" does not exist yet: gsync creates it")
	} else if err != nil {
		return res, t.classify("check", fmt.Errorf("stat remote directory: %w", err))
	} else {
		res.Checked = append(res.Checked, "remote directory "+t.dir+" exists")
	}
	res.Unchecked = append(res.Unchecked, "write permission in the remote directory (needs a write)")
	return res, nil
}
