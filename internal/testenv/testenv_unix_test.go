//go:build unix

package testenv_test

import (
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/testenv"
)

// The server and everything it spawned must be gone once the test's
// cleanups have run: no listener, no process, no zombie.
func TestMotoStopsProcessGroup(t *testing.T) {
	t.Parallel()
	var url string
	var pid int
	t.Run("run", func(t *testing.T) {
		m := testenv.Moto(t)
		url = m.URL
		pid = listenerPID(t, m.URL)
	})
	if _, err := http.Get(url + "/"); err == nil {
		t.Errorf("%s still answers after cleanup", url)
	}
	if pid == 0 {
		return // could not identify the process; the HTTP check above stands
	}
	// Signal 0 fails with ESRCH once the process is reaped; a zombie would
	// still accept it, and its /proc status would say Z.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
			t.Fatalf("process %d survived cleanup:\n%s", pid, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listenerPID finds the pid of the process whose group leads the server, via
// the pgid of whoever holds the port; 0 if it cannot tell (no /proc, no ss).
func listenerPID(t *testing.T, url string) int {
	port := url[strings.LastIndex(url, ":")+1:]
	out, err := exec.Command("ss", "-Hltnp", "sport = :"+port).Output()
	if err != nil {
		return 0
	}
	i := strings.Index(string(out), "pid=")
	if i < 0 {
		return 0
	}
	s := string(out)[i+4:]
	if j := strings.IndexAny(s, ",)"); j >= 0 {
		s = s[:j]
	}
	pid, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	t.Logf("moto_server listens as pid %d", pid)
	return pid
}
