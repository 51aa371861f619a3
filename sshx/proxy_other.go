//go:build !unix

package sshx

import "os/exec"

// ownProcessGroup does nothing where there are no process groups.
func ownProcessGroup(*exec.Cmd) {}

// signalProxy kills the command (there is no SIGHUP here).
func signalProxy(cmd *exec.Cmd, _ bool) { cmd.Process.Kill() }
