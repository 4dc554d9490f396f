//go:build unix && !linux

package testenv

import "syscall"

// setParentDeathSignal: only Linux has a parent-death signal; elsewhere a
// crashed test binary can leave moto_server behind.
func setParentDeathSignal(*syscall.SysProcAttr) {}
