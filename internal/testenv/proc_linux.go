//go:build linux

package testenv

import "syscall"

// setParentDeathSignal kills the child if the test binary dies without
// running its cleanups (a panic in another goroutine, a go test -timeout
// kill), which would otherwise leave moto_server listening forever. Linux
// sends it when the forking OS thread exits; the Go runtime only ends threads
// whose goroutine exits while locked to them, which tests do not do.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
