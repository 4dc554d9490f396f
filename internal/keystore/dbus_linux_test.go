package keystore

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/icevault/icevault/internal/testenv"
)

// These tests talk to a real Secret Service (gnome-keyring) over a real
// D-Bus session bus. Each re-runs itself in a child process under
// dbus-run-session (testenv.OnPrivateBus), always on a private bus with its
// own HOME, so a developer's login keyring is never touched.

func TestRealSecretService(t *testing.T) {
	if !testenv.OnPrivateBus(t, testenv.BusKeyring) {
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
	if !testenv.OnPrivateBus(t, testenv.BusBare) {
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
	if !testenv.OnPrivateBus(t, testenv.BusActivatable) {
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
