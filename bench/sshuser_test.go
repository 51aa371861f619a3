package bench

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gsync/gsync/integration"
)

// owner is the account the ssh targets log in as, by number; nil for the
// current user.
type owner struct{ uid, gid int }

// startSSHD starts the sshd of the ssh scenarios. Both tools log in as
// BENCH_SSH_USER: by default the ordinary account .ci/run creates
// (integration.NonRootUser) when it exists, as most deployments push to a
// non-root account, else the current user. sshd runs every remote
// command through the account's shell, which reads ~/.bashrc when bash
// is started by sshd: on a machine whose root ~/.bashrc does real work
// every push pays for it, whatever the tool (BENCH_SSH_USER=root
// measures that). The note says who and what a session start costs.
func startSSHD(b *testing.B, work string) (*integration.SSHD, *owner, string, error) {
	name := os.Getenv("BENCH_SSH_USER")
	if name == "" {
		if _, err := user.Lookup(integration.NonRootUser); err == nil {
			name = integration.NonRootUser
		}
	}
	cur, err := user.Current()
	if err != nil {
		return nil, nil, "", fmt.Errorf("look up the current user: %w", err)
	}
	if name == "" || name == cur.Username {
		s := integration.StartSSHD(b, integration.SSHDConfig{})
		return s, nil, fmt.Sprintf("ssh targets log in as %s (BENCH_SSH_USER)", cur.Username), nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, nil, "", fmt.Errorf("BENCH_SSH_USER=%s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The account must reach the targets below the work directory.
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, nil, "", fmt.Errorf("open %s to %s: %w", work, name, err)
	}
	s := integration.StartSSHD(b, integration.SSHDConfig{User: name})
	return s, &owner{uid, gid}, fmt.Sprintf("ssh targets log in as %s (BENCH_SSH_USER; set it to root to include root's shell start-up)", name), nil
}

// prepare makes a source and target pair usable by the ssh account: the
// target is the account's, and the source's group is the account's with
// the set-group-ID bit, so that new files carry a group the receiving
// rsync may keep (a non-root receiver cannot chown, and may chgrp only to
// its own groups).
func (o *owner) prepare(src, dst string) error {
	if o == nil {
		return nil
	}
	if err := os.Chown(dst, o.uid, o.gid); err != nil {
		return fmt.Errorf("chown %s: %w", dst, err)
	}
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, o.gid); err != nil {
			return fmt.Errorf("chgrp %s: %w", p, err)
		}
		if fi.IsDir() {
			if err := os.Chmod(p, fi.Mode().Perm()|os.ModeSetgid); err != nil {
				return fmt.Errorf("chmod g+s %s: %w", p, err)
			}
		}
		return nil
	})
}
