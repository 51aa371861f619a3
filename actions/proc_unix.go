//go:build unix

package actions

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own; stopping gsync sends
// the group SIGTERM (then, after cmd.WaitDelay, the program is killed).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}
