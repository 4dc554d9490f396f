package lock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSecondWriterRefusedWithHolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(p, "backup")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(p, "backup")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("second Acquire: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(p, "recover")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

// TestStaleLockOfKilledProcess: a holder killed with SIGKILL leaves its lock
// file behind, and the lock is free.
func TestStaleLockOfKilledProcess(t *testing.T) {
	if os.Getenv("ICEVAULT_LOCK_CHILD") != "" {
		if _, err := Acquire(os.Getenv("ICEVAULT_LOCK_CHILD"), "child"); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		return
	}
	p := filepath.Join(t.TempDir(), "lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStaleLockOfKilledProcess$")
	cmd.Env = append(os.Environ(), "ICEVAULT_LOCK_CHILD="+p)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("child: %q %v", buf, err)
	}
	if _, err := Acquire(p, "parent"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "child") {
		t.Fatalf("while the child holds it: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	l, err := Acquire(p, "parent")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}
