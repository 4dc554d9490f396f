package keystore

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dbus "github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"

	"github.com/icevault/icevault/internal/testenv"
)

// These tests talk to a real Secret Service (gnome-keyring) over a real
// D-Bus session bus. Each re-runs itself in a child process under
// dbus-run-session, always on a private bus with its own HOME, so a
// developer's login keyring is never touched.

const (
	busChildEnv = "ICEVAULT_KEYSTORE_TEST_BUS" // "keyring" or "bare" in the child
	dbusHint    = "bash .ci/install-dbus-keyring.sh (apt-get install dbus gnome-keyring)"
)

// A bus with no service directories: nothing can be activated on it, so it
// has no Secret Service — a headless server's bus.
const bareBusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
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

// Bus setups for onPrivateBus.
const (
	busKeyring     = "keyring"     // gnome-keyring running and unlocked
	busBare        = "bare"        // nothing can provide a Secret Service
	busActivatable = "activatable" // the stock session bus: gnome-keyring is installed, not running, no prompter
)

// onPrivateBus returns true in the child, where the test body runs. In the
// parent it runs the child and returns false.
func onPrivateBus(t *testing.T, mode string) bool {
	t.Helper()
	if m := os.Getenv(busChildEnv); m != "" {
		if m == busKeyring {
			waitForSecretService(t)
		}
		return true
	}
	runSession := testenv.RequireTool(t, "dbus-run-session", dbusHint)
	testenv.RequireTool(t, "dbus-daemon", dbusHint)
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
	case busKeyring:
		testenv.RequireTool(t, "gnome-keyring-daemon", dbusHint)
		args = append([]string{"--", "sh", "-c", keyringScript, "sh"}, testArgs...)
	case busBare:
		conf := filepath.Join(tmp, "bare-bus.conf")
		if err := os.WriteFile(conf, []byte(bareBusConfig), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config-file=" + conf, "--"}, testArgs...)
	case busActivatable:
		testenv.RequireTool(t, "gnome-keyring-daemon", dbusHint)
		args = append([]string{"--"}, testArgs...)
	default:
		t.Fatalf("unknown bus mode %q", mode)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, runSession, args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(),
		busChildEnv+"="+mode,
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

func TestRealSecretService(t *testing.T) {
	if !onPrivateBus(t, busKeyring) {
		return
	}
	dir := filepath.Join(t.TempDir(), "keys")
	noPrompt := func(PassphraseRequest) (string, error) {
		return "", errors.New("the keychain store asked for a passphrase")
	}
	st, err := Open(Options{Dir: dir, Passphrase: noPrompt})
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend() != "keychain" || !strings.Contains(st.Describe(), "Secret Service") {
		t.Fatalf("Auto on a bus with gnome-keyring chose %s: %s", st.Backend(), st.Describe())
	}
	t.Logf("backend: %s", st.Describe())

	t.Run("contract", func(t *testing.T) { storeContract(t, st, "keychain") })

	t.Run("layout", func(t *testing.T) {
		// Other tools (secret-tool, Seahorse) see service "icevault" and
		// account "<repo>/<name>"; a new Store finds what an old one wrote.
		sec, _ := testSecrets(t)
		if err := st.Save("layout", sec); err != nil {
			t.Fatal(err)
		}
		if v, err := keyring.Get(Service, "layout/blob-id-key"); err != nil || v != hex.EncodeToString(sec.BlobIDKey[:]) {
			t.Errorf("go-keyring sees blob-id-key: err=%v, equal=%v", err, v == hex.EncodeToString(sec.BlobIDKey[:]))
		}
		if v, err := keyring.Get(Service, "layout/identity"); err != nil || v != sec.Identity {
			t.Errorf("go-keyring sees identity: err=%v, equal=%v", err, v == sec.Identity)
		}
		st2, err := Open(Options{Mode: Keychain})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := st2.Load("layout"); err != nil || got != sec {
			t.Errorf("a second Store: equal=%v, err=%v", got == sec, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Error("the keychain store created the key file directory")
		}
	})
}

func TestNoSecretServiceFallsBackToFile(t *testing.T) {
	if !onPrivateBus(t, busBare) {
		return
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		t.Fatal("child: dbus-run-session did not set DBUS_SESSION_BUS_ADDRESS")
	}
	o := Options{Dir: filepath.Join(t.TempDir(), "keys"), Passphrase: staticPass(testPass), scryptLogN: 10}
	st, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend() != "file" || !strings.Contains(st.Describe(), "no Secret Service") {
		t.Fatalf("Auto on a bus without Secret Service: %s: %s", st.Backend(), st.Describe())
	}
	t.Logf("backend: %s", st.Describe())
	_, err = st.Load("r")
	if !errors.Is(err, ErrNoSecrets) || !strings.Contains(err.Error(), "no Secret Service") {
		t.Errorf("Load on the fallback = %v, want ErrNoSecrets saying why the keychain is not used", err)
	}
	storeContract(t, st, "file")

	if _, err := Open(Options{Mode: Keychain}); !errors.Is(err, ErrNoKeychain) {
		t.Errorf("Mode Keychain without Secret Service = %v, want ErrNoKeychain", err)
	}
}

// A headless machine with gnome-keyring installed but not running: the bus
// starts it on the first call, and it cannot create or unlock a login keyring
// without a prompter. That must end in the key file, promptly.
func TestLockedSecretServiceFallsBackToFile(t *testing.T) {
	if !onPrivateBus(t, busActivatable) {
		return
	}
	o := Options{Dir: filepath.Join(t.TempDir(), "keys"), Passphrase: staticPass(testPass), scryptLogN: 10}
	start := time.Now()
	st, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend() != "file" || !strings.Contains(st.Describe(), "does not work here") {
		t.Fatalf("Auto with an activatable but locked Secret Service: %s: %s", st.Backend(), st.Describe())
	}
	t.Logf("backend: %s (decided in %v)", st.Describe(), time.Since(start).Round(time.Millisecond))
	storeContract(t, st, "file")
}

// Without any session bus, Open must not let go-keyring autolaunch one.
func TestNoSessionBusFallsBackToFile(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	o := Options{Dir: filepath.Join(t.TempDir(), "keys"), Passphrase: staticPass(testPass), scryptLogN: 10}
	st, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend() != "file" || !strings.Contains(st.Describe(), "no D-Bus session bus") {
		t.Fatalf("Auto without a session bus: %s: %s", st.Backend(), st.Describe())
	}
	if _, err := Open(Options{Mode: Keychain}); !errors.Is(err, ErrNoKeychain) {
		t.Errorf("Mode Keychain without a session bus = %v, want ErrNoKeychain", err)
	}
}
