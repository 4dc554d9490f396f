package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"
)

// Bus is a private D-Bus session setup for OnPrivateBus.
type Bus string

// Bus setups.
const (
	BusKeyring     Bus = "keyring"     // gnome-keyring running and unlocked: a real Secret Service
	BusBare        Bus = "bare"        // nothing can provide a Secret Service (a headless server's bus)
	BusActivatable Bus = "activatable" // the stock session bus: gnome-keyring installed, not running, no prompter
)

// DBusHint says how to install what OnPrivateBus needs.
const DBusHint = "bash .ci/install-dbus-keyring.sh (apt-get install dbus gnome-keyring)"

// privateBusEnv is set, to the Bus, in the child OnPrivateBus starts.
const privateBusEnv = "ICEVAULT_TEST_PRIVATE_BUS"

const secretServiceName = "org.freedesktop.secrets"

// BareBusConfig is a session bus with no service directories: nothing can
// be activated on it, so no Secret Service, watcher, panel or notification
// server of the machine's can answer in a test's stand-in's place.
const BareBusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// gnome-keyring in the foreground, so the shell reaps it; --unlock reads the
// login keyring's password from stdin (an empty one is refused by
// gnome-keyring 42, so a throwaway one is used).
const keyringScript = `printf '%s' icevault-test | gnome-keyring-daemon --foreground --unlock --components=secrets >"$KEYRING_LOG" 2>&1 &
kpid=$!
"$@"
rc=$?
kill "$kpid" 2>/dev/null
wait "$kpid" 2>/dev/null
exit $rc`

// OnPrivateBus runs the calling test again in a child process of the test
// binary, under dbus-run-session on a private session bus set up as mode,
// with its own HOME and XDG directories, so a developer's login keyring is
// never touched. It returns true in the child, where the test body runs
// (for BusKeyring once gnome-keyring owns org.freedesktop.secrets). In the
// parent it waits for the child, fails the test unless the child ran and
// passed it, and returns false.
//
// The test must be a top-level test: the child is selected by
// -test.run=^Name$. A missing dbus-run-session or gnome-keyring-daemon skips
// the test, or fails it under CI=true (RequireTool).
func OnPrivateBus(t *testing.T, mode Bus) bool {
	t.Helper()
	if m := os.Getenv(privateBusEnv); m != "" {
		if Bus(m) != mode {
			t.Fatalf("child: on a %q bus, the test asked for %q", m, mode)
		}
		if mode == BusKeyring {
			waitForSecretService(t)
		}
		return true
	}
	runSession := RequireTool(t, "dbus-run-session", DBusHint)
	RequireTool(t, "dbus-daemon", DBusHint)
	tmp := t.TempDir()
	for _, d := range []string{"home", "run", "config", "data"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	testArgs := []string{self, "-test.run=^" + t.Name() + "$", "-test.v", "-test.count=1"}
	var args []string
	switch mode {
	case BusKeyring:
		RequireTool(t, "gnome-keyring-daemon", DBusHint)
		args = append([]string{"--", "sh", "-c", keyringScript, "sh"}, testArgs...)
	case BusBare:
		conf := filepath.Join(tmp, "bare-bus.conf")
		if err := os.WriteFile(conf, []byte(BareBusConfig), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config-file=" + conf, "--"}, testArgs...)
	case BusActivatable:
		RequireTool(t, "gnome-keyring-daemon", DBusHint)
		args = append([]string{"--"}, testArgs...)
	default:
		t.Fatalf("unknown bus mode %q", mode)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, runSession, args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(),
		privateBusEnv+"="+string(mode),
		"DBUS_SESSION_BUS_ADDRESS=",
		"HOME="+filepath.Join(tmp, "home"),
		"XDG_RUNTIME_DIR="+filepath.Join(tmp, "run"),
		"XDG_CONFIG_HOME="+filepath.Join(tmp, "config"),
		"XDG_DATA_HOME="+filepath.Join(tmp, "data"),
		"KEYRING_LOG="+filepath.Join(tmp, "keyring.log"),
	)
	out, err := cmd.CombinedOutput()
	t.Logf("child on a private D-Bus session (%s):\n%s", mode, indent(string(out)))
	if err != nil {
		if log, _ := os.ReadFile(filepath.Join(tmp, "keyring.log")); len(log) > 0 {
			t.Logf("gnome-keyring-daemon:\n%s", indent(string(log)))
		}
		t.Fatalf("child failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("child did not run and pass %s (skipped or filtered out?)", t.Name())
	}
	return false
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}

// waitForSecretService waits until gnome-keyring has claimed its name, so
// that the first call does not activate a second daemon.
func waitForSecretService(t *testing.T) {
	t.Helper()
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatalf("child: no session bus: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var owned bool
		err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, secretServiceName).Store(&owned)
		if err == nil && owned {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child: %s did not appear on the bus within 15s (err %v)", secretServiceName, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
