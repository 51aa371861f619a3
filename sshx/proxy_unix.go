//go:build unix

package sshx

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup starts cmd in a process group of its own.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalProxy sends SIGHUP (or SIGKILL) to the process group of cmd,
// which ownProcessGroup made the command's own (its id is the pid).
func signalProxy(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGHUP
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-cmd.Process.Pid, sig)
}
