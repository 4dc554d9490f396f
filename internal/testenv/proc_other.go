//go:build !unix

package testenv

import (
	"os"
	"os/exec"
)

var (
	sigTerm = os.Kill // no SIGTERM or process groups here: kill the child only
	sigKill = os.Kill
)

func ownProcessGroup(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, sig os.Signal) {
	if cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}
