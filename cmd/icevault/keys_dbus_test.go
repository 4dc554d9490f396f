//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/icevault/icevault/internal/iamkeys"
	"github.com/icevault/icevault/internal/keystore"
	"github.com/icevault/icevault/internal/testenv"
)

// TestKeysDBusSecretService runs `keys set|show|remove` end to end with
// ICEVAULT_KEYSTORE=keychain against a real Secret Service: gnome-keyring,
// unlocked, on a private D-Bus session (the test re-runs itself in a child
// under dbus-run-session). The secret goes in on stdin, lands in the
// keychain (read back with go-keyring, as any other client would), is never
// printed, and remove deletes the entry.
func TestKeysDBusSecretService(t *testing.T) {
	if !testenv.OnPrivateBus(t, testenv.BusKeyring) {
		return
	}
	dir := cliEnv(t, "AKIAUNUSEDUNUSED0000", "unused-unused-unused-unused")
	t.Setenv("ICEVAULT_KEYSTORE", "keychain")
	// No passphrase may be needed: a prompt would mean the key file.
	t.Setenv("ICEVAULT_PASSPHRASE_FILE", filepath.Join(dir, "no-such-passphrase-file"))
	const id, secret = "AKIADBUSTESTKEYS0001", "dbus/test/secret/never/printed/0000001"
	sec := []string{secret}
	account := iamkeys.Account("default")

	out, stderr, code := runIn(t, id+"\n"+secret+"\n", sec, "keys", "set")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "Secret Service") {
		t.Fatalf("keys set: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	// In the Secret Service, where any client sees it: service "icevault",
	// account "iam.default/static-key", the pair as one JSON value.
	v, err := keyring.Get(keystore.Service, account)
	if err != nil {
		t.Fatalf("go-keyring Get(%q, %q): %v", keystore.Service, account, err)
	}
	var stored map[string]string
	if err := json.Unmarshal([]byte(v), &stored); err != nil || stored["access_key_id"] != id || stored["secret_access_key"] != secret {
		t.Fatalf("the keychain entry does not hold the pair (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "home", ".config", "icevault", "keys")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file directory was created in keychain mode: %v", err)
	}

	out, stderr, code = runIn(t, "", sec, "keys", "show")
	if code != 0 {
		t.Fatalf("keys show: exit %d\n%s%s", code, out, stderr)
	}
	want := "Repository:    default\nAccess key ID: " + id + "\nStored in:     "
	if !strings.HasPrefix(out, want) || !strings.Contains(out, "Secret Service over D-Bus") ||
		!strings.Contains(out, `entry "`+account+`" (service "icevault")`) || strings.Count(out, "\n") != 3 {
		t.Errorf("keys show printed:\n%s\nwant the repository, the key ID and where it is kept, nothing more", out)
	}
	out, _, code = runIn(t, "", sec, "keys", "show", "--json")
	var js map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil || js["access_key_id"] != id || js["store"] != "keychain" || js["account"] != account {
		t.Errorf("keys show --json: exit %d, %s", code, out)
	}
	for k := range js {
		if strings.Contains(strings.ToLower(k), "secret") {
			t.Errorf("keys show --json has a field %q", k)
		}
	}

	out, stderr, code = runIn(t, "", sec, "keys", "remove")
	if code != 0 || !strings.Contains(out, "Removed access key "+id) {
		t.Fatalf("keys remove: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := keyring.Get(keystore.Service, account); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("after keys remove, go-keyring Get = %v, want ErrNotFound", err)
	}
	if _, stderr, code := runIn(t, "", sec, "keys", "show"); code != exitUsage || !strings.Contains(stderr, "keys set") {
		t.Fatalf("keys show after remove: exit %d, %s", code, stderr)
	}
}
