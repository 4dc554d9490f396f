// Package desktop holds the stand-ins for a Linux desktop's D-Bus peers
// that icevault's tray and notification tests talk to: a private session
// bus, a StatusNotifierWatcher with a host's view of the registered item
// (its properties and its dbusmenu, read and clicked as a panel does), and
// an org.freedesktop.Notifications server that records calls and emits the
// signals a user's clicks would. Test code only; nothing here runs in
// icevault itself.
package desktop

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icevault/icevault/internal/testenv"
)

// Hint says how to get the bus tools.
const Hint = "apt-get install dbus (or run .ci/install-dbus-keyring.sh)"

// Wait bounds every wait for the bus.
const Wait = 10 * time.Second

// PrivateBus starts a dbus-daemon for the test, makes it the session bus
// (DBUS_SESSION_BUS_ADDRESS) and returns its address.
func PrivateBus(t *testing.T) string {
	t.Helper()
	daemon := testenv.RequireTool(t, "dbus-daemon", Hint)
	conf := filepath.Join(t.TempDir(), "bus.conf")
	if err := os.WriteFile(conf, []byte(testenv.BareBusConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--print-address", "--nofork")
	cmd.SysProcAttr = diesWithParent()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var addr string
	select {
	case addr = <-lines:
	case <-time.After(15 * time.Second):
	}
	if addr == "" {
		t.Fatalf("dbus-daemon printed no address; stderr: %s", stderr.String())
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	return addr
}

// InPrivateSession runs the calling test again in a child process under
// dbus-run-session on a bare bus, and reports whether this is that child:
//
//	if !desktop.InPrivateSession(t) {
//		return // the parent: the child ran the test and passed
//	}
//	... the test body, on the private bus ...
//
// For code with process-wide D-Bus state (systray's item and its shared
// session connection), which a fresh process keeps away from other tests.
func InPrivateSession(t *testing.T) bool {
	t.Helper()
	return testenv.OnPrivateBus(t, testenv.BusBare)
}
