package desktop

import "syscall"

// diesWithParent makes the bus daemon die with the test process, even a
// killed one.
func diesWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
