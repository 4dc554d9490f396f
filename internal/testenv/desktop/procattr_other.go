//go:build !linux

package desktop

import "syscall"

// diesWithParent: only Linux can tie a child's life to its parent's; the
// test's cleanup kills the daemon elsewhere.
func diesWithParent() *syscall.SysProcAttr { return nil }
