package keystore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

const testPass = "correct horse battery staple"

// testSecrets returns fresh secrets and the strings that must never appear
// in an error.
func testSecrets(t *testing.T) (Secrets, []string) {
	t.Helper()
	s, err := NewSecrets()
	if err != nil {
		t.Fatal(err)
	}
	return s, secretStrings(s)
}

func secretStrings(s Secrets) []string {
	return []string{s.Identity, hex.EncodeToString(s.BlobIDKey[:]), s.Identity[20:40]}
}

// noSecretIn fails if err's message contains any of the secrets.
func noSecretIn(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error message leaks a secret: %v", err)
		}
	}
}

func staticPass(p string) func(PassphraseRequest) (string, error) {
	return func(PassphraseRequest) (string, error) { return p, nil }
}

// fileOpts: a key file store with a cheap scrypt cost.
func fileOpts(t *testing.T, pass string) Options {
	return Options{Mode: File, Dir: filepath.Join(t.TempDir(), "keys"), Passphrase: staticPass(pass), scryptLogN: 10}
}

func mustOpen(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSecretsIsHybrid(t *testing.T) {
	s, _ := testSecrets(t)
	id, err := ParseIdentity(s.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := id.(*age.HybridIdentity); !ok {
		t.Errorf("identity is %T, want *age.HybridIdentity", id)
	}
	if err := validateBlobIDKey(s.BlobIDKey); err != nil {
		t.Error(err)
	}
}

// TestSecretsRoundTrip runs the same contract against both backends.
func TestSecretsRoundTrip(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *Store{
		"keychain": func(t *testing.T) *Store { return mustOpen(t, Options{Mode: Keychain, Keychain: newMemKeychain()}) },
		"file":     func(t *testing.T) *Store { return mustOpen(t, fileOpts(t, testPass)) },
	} {
		t.Run(name, func(t *testing.T) { storeContract(t, open(t), name) })
	}
}

// storeContract is the behaviour every backend must have; the real Secret
// Service runs it too (dbus_linux_test.go).
func storeContract(t *testing.T, st *Store, backend string) {
	t.Helper()
	if got := st.Backend(); got != backend {
		t.Fatalf("Backend() = %q, want %q", got, backend)
	}
	sec, leaks := testSecrets(t)
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	sec2 := Secrets{Identity: x.String(), BlobIDKey: [32]byte{1, 2, 3}}
	leaks = append(leaks, secretStrings(sec2)...)
	check := func(err error) error { t.Helper(); noSecretIn(t, err, leaks...); return err }

	_, err = st.Load("repo-a")
	if !errors.Is(check(err), ErrNoSecrets) || !strings.Contains(err.Error(), "icevault key import --kit") {
		t.Fatalf("Load before Save = %v, want ErrNoSecrets saying how to import the kit", err)
	}
	if _, err := st.LoadBlobIDKey("repo-a"); !errors.Is(check(err), ErrNoSecrets) {
		t.Fatalf("LoadBlobIDKey before Save = %v, want ErrNoSecrets", err)
	}
	if err := check(st.Save("repo-a", sec)); err != nil {
		t.Fatal(err)
	}
	got, err := st.Load("repo-a")
	if check(err) != nil || got != sec {
		t.Fatalf("Load = %v, %v; want the saved secrets", got == sec, err)
	}
	k, err := st.LoadBlobIDKey("repo-a")
	if check(err) != nil || k != sec.BlobIDKey {
		t.Fatalf("LoadBlobIDKey: equal=%v, err=%v", k == sec.BlobIDKey, err)
	}

	// Overwrite refused, and nothing changed.
	err = st.Save("repo-a", sec2)
	if !errors.Is(check(err), ErrExists) {
		t.Fatalf("second Save = %v, want ErrExists", err)
	}
	if got, err := st.Load("repo-a"); check(err) != nil || got != sec {
		t.Fatalf("after refused Save: Load changed (equal=%v, err=%v)", got == sec, err)
	}
	// Replace overwrites; an X25519 identity loads too.
	if err := check(st.Replace("repo-a", sec2)); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Load("repo-a"); check(err) != nil || got != sec2 {
		t.Fatalf("after Replace: equal=%v, err=%v", got == sec2, err)
	}

	// Repositories are separate.
	if _, err := st.Load("repo-b"); !errors.Is(check(err), ErrNoSecrets) {
		t.Fatalf("Load of another repository = %v, want ErrNoSecrets", err)
	}
	if err := check(st.Save("repo-b", sec)); err != nil {
		t.Fatal(err)
	}

	// Named secrets (issue 5: static IAM keys).
	const iam = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	leaks = append(leaks, iam)
	if _, err := st.Secret("repo-a", "aws-secret-access-key"); !errors.Is(check(err), ErrNoSecrets) {
		t.Fatalf("Secret before SetSecret = %v, want ErrNoSecrets", err)
	}
	for range 2 { // SetSecret replaces
		if err := check(st.SetSecret("repo-a", "aws-secret-access-key", iam)); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := st.Secret("repo-a", "aws-secret-access-key"); check(err) != nil || v != iam {
		t.Fatalf("Secret: equal=%v, err=%v", v == iam, err)
	}
	if err := st.SetSecret("repo-a", NameIdentity, "x"); err == nil {
		t.Error("SetSecret overwrote the identity")
	}
	if err := check(st.DeleteSecret("repo-a", "aws-secret-access-key")); err != nil {
		t.Fatal(err)
	}
	if err := check(st.DeleteSecret("repo-a", "aws-secret-access-key")); err != nil {
		t.Fatalf("deleting a missing secret: %v", err)
	}
	if got, err := st.Load("repo-a"); check(err) != nil || got != sec2 {
		t.Fatalf("named secrets disturbed the repository's: equal=%v, err=%v", got == sec2, err)
	}

	// Only the identity gone: backups still work, restores say what is missing.
	if err := check(st.DeleteSecret("repo-b", NameIdentity)); err != nil {
		t.Fatal(err)
	}
	if k, err := st.LoadBlobIDKey("repo-b"); check(err) != nil || k != sec.BlobIDKey {
		t.Fatalf("LoadBlobIDKey without identity: equal=%v, err=%v", k == sec.BlobIDKey, err)
	}
	if _, err := st.Load("repo-b"); !errors.Is(check(err), ErrNoSecrets) || !strings.Contains(err.Error(), NameIdentity) {
		t.Fatalf("Load without identity = %v, want ErrNoSecrets naming the identity", err)
	}

	// Bad input is refused before anything is stored.
	for _, bad := range []Secrets{
		{Identity: "", BlobIDKey: sec.BlobIDKey},
		{Identity: "AGE-SECRET-KEY-PQ-1NOTAKEY", BlobIDKey: sec.BlobIDKey},
		{Identity: sec.Identity}, // zero key
	} {
		if err := st.Save("repo-c", bad); !errors.Is(check(err), ErrInvalidSecret) {
			t.Errorf("Save(bad) = %v, want ErrInvalidSecret", err)
		}
	}
	for _, id := range []string{"", "../x", "a/b", ".hidden", "_probe", strings.Repeat("a", 129)} {
		if err := st.Save(id, sec); err == nil {
			t.Errorf("Save(repo ID %q) succeeded", id)
		}
	}
}

func TestKeychainAccountsAndEncoding(t *testing.T) {
	kc := newMemKeychain()
	st := mustOpen(t, Options{Mode: Keychain, Keychain: kc})
	sec, _ := testSecrets(t)
	if err := st.Save("r1", sec); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"r1/identity":    sec.Identity,
		"r1/blob-id-key": hex.EncodeToString(sec.BlobIDKey[:]),
	}
	if fmt.Sprint(kc.m) != fmt.Sprint(want) {
		t.Errorf("keychain holds %v entries, want accounts %v", len(kc.m), []string{"r1/identity", "r1/blob-id-key"})
	}
	// A backup must not read the identity.
	kc.resetReads()
	if _, err := st.LoadBlobIDKey("r1"); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(kc.reads) != "[r1/blob-id-key]" {
		t.Errorf("LoadBlobIDKey read %v, want only r1/blob-id-key", kc.reads)
	}
}

func TestKeychainSaveIsAllOrNothing(t *testing.T) {
	sec, leaks := testSecrets(t)
	old, _ := testSecrets(t)
	for _, replace := range []bool{false, true} {
		t.Run(fmt.Sprint("replace=", replace), func(t *testing.T) {
			kc := newMemKeychain()
			st := mustOpen(t, Options{Mode: Keychain, Keychain: kc})
			if replace {
				if err := st.Save("r", old); err != nil {
					t.Fatal(err)
				}
			}
			before := fmt.Sprint(kc.m)
			// The second write (identity, after blob-id-key) fails, echoing
			// its secret as a careless backend might.
			kc.onSet = func(account, secret string) error {
				if strings.HasSuffix(account, "/identity") && secret == sec.Identity {
					return errors.New("dbus: cannot store " + secret)
				}
				return nil
			}
			var err error
			if replace {
				err = st.Replace("r", sec)
			} else {
				err = st.Save("r", sec)
			}
			if err == nil {
				t.Fatal("Save succeeded although the keychain failed")
			}
			noSecretIn(t, err, leaks...)
			if !strings.Contains(err.Error(), "[REDACTED]") {
				t.Errorf("error %q: want the echoed secret redacted", err)
			}
			if after := fmt.Sprint(kc.m); after != before {
				t.Error("a failed Save left the keychain changed")
			}
		})
	}
}

func TestKeychainReadErrorIsNotNoSecrets(t *testing.T) {
	kc := newMemKeychain()
	st := mustOpen(t, Options{Mode: Keychain, Keychain: kc})
	kc.onGet = func(string) error { return errors.New("org.freedesktop.DBus.Error.NoReply") }
	_, err := st.Load("r")
	if err == nil || errors.Is(err, ErrNoSecrets) {
		t.Fatalf("Load with a failing keychain = %v, want an error that is not ErrNoSecrets", err)
	}
}

func TestOpenChoosesBackend(t *testing.T) {
	broken := &memKeychain{m: map[string]string{}, onGet: func(string) error {
		return errors.New("org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files")
	}}
	dir := filepath.Join(t.TempDir(), "keys")

	st := mustOpen(t, Options{Keychain: newMemKeychain(), Dir: dir, Passphrase: staticPass(testPass)})
	if st.Backend() != "keychain" {
		t.Errorf("Auto with a working keychain chose %s", st.Describe())
	}

	st = mustOpen(t, Options{Keychain: broken, Dir: dir, Passphrase: staticPass(testPass)})
	if st.Backend() != "file" || !strings.Contains(st.Describe(), "ServiceUnknown") || !strings.Contains(st.Describe(), dir) {
		t.Errorf("Auto with a broken keychain: %s %q, want file naming the directory and the reason", st.Backend(), st.Describe())
	}

	if _, err := Open(Options{Mode: Keychain, Keychain: broken}); !errors.Is(err, ErrNoKeychain) {
		t.Errorf("Mode Keychain with a broken keychain = %v, want ErrNoKeychain", err)
	}
	if _, err := Open(Options{Keychain: broken}); err == nil {
		t.Error("Auto without keychain or directory succeeded")
	}
	if _, err := Open(Options{Keychain: broken, Dir: dir}); err == nil {
		t.Error("Auto without keychain or passphrase prompt succeeded")
	}

	// A keychain that hangs (an unlock prompt nobody sees) is an error, not
	// a silent switch to the file.
	hang := make(chan struct{})
	defer close(hang)
	stuck := &memKeychain{m: map[string]string{}, onGet: func(string) error { <-hang; return nil }}
	start := time.Now()
	_, err := Open(Options{Keychain: stuck, Dir: dir, Passphrase: staticPass(testPass), ProbeTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("Auto with a hanging keychain = %v, want a timeout error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("probe timeout not honoured")
	}
}

// Secrets saved to the file before the machine had a keychain are found.
func TestKeychainFallsBackToExistingKeyFile(t *testing.T) {
	o := fileOpts(t, testPass)
	sec, _ := testSecrets(t)
	if err := mustOpen(t, o).Save("r", sec); err != nil {
		t.Fatal(err)
	}
	o.Mode, o.Keychain = Auto, newMemKeychain()
	st := mustOpen(t, o)
	if st.Backend() != "keychain" {
		t.Fatal(st.Describe())
	}
	if got, err := st.Load("r"); err != nil || got != sec {
		t.Fatalf("Load from key file via keychain store: equal=%v, err=%v", got == sec, err)
	}
}

func TestFileWrongPassphrase(t *testing.T) {
	o := fileOpts(t, testPass)
	sec, leaks := testSecrets(t)
	if err := mustOpen(t, o).Save("r", sec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(o.Dir, "r.age")
	before, _ := os.ReadFile(path)

	const wrong = "Tr0ub4dor&3-wrong"
	o.Passphrase = staticPass(wrong)
	st := mustOpen(t, o)
	leaks = append(leaks, wrong, testPass)
	other, _ := testSecrets(t)
	for name, err := range map[string]error{
		"Load":          func() error { _, err := st.Load("r"); return err }(),
		"LoadBlobIDKey": func() error { _, err := st.LoadBlobIDKey("r"); return err }(),
		"Replace":       st.Replace("r", other),
		"SetSecret":     st.SetSecret("r", "aws-secret-access-key", "x"),
		"DeleteSecret":  st.DeleteSecret("r", NameIdentity),
	} {
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("%s with a wrong passphrase = %v, want ErrWrongPassphrase", name, err)
		}
		noSecretIn(t, err, leaks...)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the key file changed after wrong passphrases")
	}
}

func TestFilePermissions(t *testing.T) {
	o := fileOpts(t, testPass)
	sec, _ := testSecrets(t)
	st := mustOpen(t, o)
	if err := st.Save("r", sec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(o.Dir, "r.age")
	for p, want := range map[string]os.FileMode{o.Dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is %v, want %v", p, fi.Mode().Perm(), want)
		}
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := st.Load("r")
	if !errors.Is(err, ErrInsecureFile) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Load of a 0644 key file = %v, want ErrInsecureFile with the fix", err)
	}
	if err := st.Replace("r", sec); !errors.Is(err, ErrInsecureFile) {
		t.Errorf("Replace over a 0644 key file = %v, want ErrInsecureFile", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Error("the key file's mode was changed silently")
	}
	os.Chmod(path, 0o600)

	if err := os.Chmod(o.Dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load("r"); !errors.Is(err, ErrInsecureFile) {
		t.Errorf("Load from a 0777 directory = %v, want ErrInsecureFile", err)
	}
	if _, err := Open(o); !errors.Is(err, ErrInsecureFile) {
		t.Errorf("Open of a 0777 directory = %v, want ErrInsecureFile", err)
	}
	os.Chmod(o.Dir, 0o700)
}

func TestFileWriteIsAtomic(t *testing.T) {
	o := fileOpts(t, testPass)
	sec, leaks := testSecrets(t)
	st := mustOpen(t, o)
	if err := st.Save("r", sec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(o.Dir, "r.age")
	before, _ := os.ReadFile(path)

	// Fail at the last step (rename): the old file must be intact and no
	// temporary file left.
	renameFile = func(string, string) error { return errors.New("disk on fire") }
	defer func() { renameFile = os.Rename }()
	other, _ := testSecrets(t)
	err := st.Replace("r", other)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Replace with a failing rename = %v", err)
	}
	noSecretIn(t, err, append(leaks, secretStrings(other)...)...)
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the key file changed although the write failed")
	}
	entries, _ := os.ReadDir(o.Dir)
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries after a failed write, want only r.age", len(entries))
	}
	renameFile = os.Rename
	if got, err := st.Load("r"); err != nil || got != sec {
		t.Fatalf("Load after failed write: equal=%v, err=%v", got == sec, err)
	}
}

func TestFileIsPlainAge(t *testing.T) {
	// The format in doc.go: the file opens with age and the passphrase alone.
	o := fileOpts(t, testPass)
	sec, _ := testSecrets(t)
	if err := mustOpen(t, o).Save("r", sec); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(o.Dir, "r.age"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, _ := age.NewScryptIdentity(testPass)
	r, err := age.Decrypt(f, id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	plain := string(b)
	want := fmt.Sprintf(`{"format":"icevault-keys/v1","repository":"r","secrets":{"blob-id-key":"%x","identity":"%s"}}`, sec.BlobIDKey, sec.Identity)
	if plain != want {
		t.Errorf("plaintext differs from the documented format")
	}
}

func TestFilePassphrasePrompt(t *testing.T) {
	o := fileOpts(t, testPass)
	var reqs []PassphraseRequest
	o.Passphrase = func(r PassphraseRequest) (string, error) { reqs = append(reqs, r); return testPass, nil }
	st := mustOpen(t, o)
	sec, _ := testSecrets(t)
	if err := st.Save("r", sec); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load("r"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(o.Dir, "r.age")
	want := []PassphraseRequest{{Path: path, New: true}, {Path: path, New: false}}
	if fmt.Sprint(reqs) != fmt.Sprint(want) {
		t.Errorf("prompts = %v, want %v", reqs, want)
	}

	o.Passphrase = func(PassphraseRequest) (string, error) { return "", errors.New("no terminal") }
	if _, err := mustOpen(t, o).Load("r"); err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Errorf("Load with a failing prompt = %v", err)
	}
	o.Passphrase = staticPass("")
	if err := mustOpen(t, o).Save("r2", sec); err == nil || !strings.Contains(err.Error(), "empty passphrase") {
		t.Errorf("Save with an empty passphrase = %v", err)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "r2.age")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a key file was written with an empty passphrase")
	}
}

func TestFileBelongsToRepository(t *testing.T) {
	o := fileOpts(t, testPass)
	sec, _ := testSecrets(t)
	if err := mustOpen(t, o).Save("r", sec); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(o.Dir, "r.age"), filepath.Join(o.Dir, "s.age")); err != nil {
		t.Fatal(err)
	}
	if _, err := mustOpen(t, o).Load("s"); err == nil || !strings.Contains(err.Error(), "belongs to repository") {
		t.Errorf("Load of a renamed key file = %v", err)
	}
}

func TestFileDamaged(t *testing.T) {
	o := fileOpts(t, testPass)
	sec, leaks := testSecrets(t)
	if err := mustOpen(t, o).Save("r", sec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(o.Dir, "r.age")
	data, _ := os.ReadFile(path)
	data[len(data)-3] ^= 1
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := mustOpen(t, o).Load("r")
	if err == nil || errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Load of a damaged key file = %v, want a 'damaged' error", err)
	}
	noSecretIn(t, err, append(leaks, testPass)...)
}
