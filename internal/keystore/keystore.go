package keystore

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"filippo.io/age"
)

// Secret names used by the repository itself. Other callers (static IAM keys,
// issue 5) pick their own names with SetSecret.
const (
	NameIdentity  = "identity"
	NameBlobIDKey = "blob-id-key"
)

// Service is the keychain service name; accounts are "<repo-id>/<secret-name>".
const Service = "icevault"

var (
	// ErrNoSecrets: this machine holds no secrets for the repository.
	ErrNoSecrets = errors.New("no keys for this repository on this machine; " +
		"import them from the recovery kit with: icevault key import --kit FILE")
	// ErrExists: Save refused to overwrite secrets that are already stored.
	ErrExists = errors.New("keys for this repository are already stored; refusing to overwrite them " +
		"(replace them only if you are sure the old ones are not needed, e.g. from the recovery kit)")
	// ErrWrongPassphrase: the key file did not open with the passphrase given.
	// Nothing was changed.
	ErrWrongPassphrase = errors.New("wrong passphrase for the key file (nothing was changed)")
	// ErrInsecureFile: the key file or its directory is open to other users.
	ErrInsecureFile = errors.New("key file permissions are too open")
	// ErrNoKeychain: the OS keychain is not usable here (Mode Keychain only;
	// Mode Auto falls back to the key file instead).
	ErrNoKeychain = errors.New("no usable OS keychain")
	// ErrInvalidSecret: a secret value is malformed (its value is never shown).
	ErrInvalidSecret = errors.New("invalid secret")
)

// Secrets are the two secrets of a repository.
type Secrets struct {
	// Identity is the age identity: "AGE-SECRET-KEY-PQ-1…" (hybrid
	// ML-KEM-768+X25519, preferred) or "AGE-SECRET-KEY-1…" (X25519).
	// Only restores need it.
	Identity string
	// BlobIDKey keys the HMAC that names blobs. Backups need only this.
	BlobIDKey [32]byte
}

// NewSecrets generates fresh repository secrets: a hybrid post-quantum identity
// and a random blob-ID key.
func NewSecrets() (Secrets, error) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return Secrets{}, fmt.Errorf("keystore: generate identity: %w", err)
	}
	var s Secrets
	s.Identity = id.String()
	if _, err := randRead(s.BlobIDKey[:]); err != nil {
		return Secrets{}, fmt.Errorf("keystore: generate blob-ID key: %w", err)
	}
	return s, nil
}

// ParseIdentity parses an age identity string, hybrid or X25519. Its errors
// never contain the string.
func ParseIdentity(s string) (age.Identity, error) {
	var (
		id  age.Identity
		err error
	)
	switch {
	case strings.HasPrefix(s, "AGE-SECRET-KEY-PQ-1"):
		id, err = age.ParseHybridIdentity(s)
	case strings.HasPrefix(s, "AGE-SECRET-KEY-1"):
		id, err = age.ParseX25519Identity(s)
	default:
		return nil, fmt.Errorf("%w: identity is not an age secret key (AGE-SECRET-KEY-PQ-1… or AGE-SECRET-KEY-1…)", ErrInvalidSecret)
	}
	if err != nil {
		// The parser's message can quote characters of the key: drop it.
		return nil, fmt.Errorf("%w: identity is not a valid age secret key (mistyped?)", ErrInvalidSecret)
	}
	return id, nil
}

func (s Secrets) validate() error {
	if _, err := ParseIdentity(s.Identity); err != nil {
		return err
	}
	return validateBlobIDKey(s.BlobIDKey)
}

func validateBlobIDKey(k [32]byte) error {
	var zero [32]byte
	if subtle.ConstantTimeCompare(k[:], zero[:]) == 1 {
		return fmt.Errorf("%w: blob-ID key is all zeros", ErrInvalidSecret)
	}
	return nil
}

func decodeBlobIDKey(s string) ([32]byte, error) {
	var k [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, fmt.Errorf("%w: stored blob-ID key is not 64 hex digits", ErrInvalidSecret)
	}
	copy(k[:], b)
	return k, validateBlobIDKey(k)
}

// Mode chooses where secrets live.
type Mode int

const (
	// Auto uses the OS keychain when one answers, else the key file.
	Auto Mode = iota
	// Keychain uses the OS keychain only; Open fails with ErrNoKeychain
	// where there is none.
	Keychain
	// File uses the passphrase-protected key file only.
	File
)

// PassphraseRequest tells the prompt what the passphrase is for.
type PassphraseRequest struct {
	Path string // the key file
	// New is true when the file is being created: the prompt should ask
	// twice and may enforce a minimum strength.
	New bool
}

// Options configure Open.
type Options struct {
	Mode Mode
	// Keychain replaces the OS keychain (tests, or another secret store).
	// Nil means the OS keychain through github.com/zalando/go-keyring.
	Keychain Backend
	// Dir holds the key files (<repo-id>.age), created 0700 if missing.
	// E.g. filepath.Join(os.UserConfigDir(), "icevault", "keys"). Required
	// unless Mode is Keychain.
	Dir string
	// Passphrase is asked for the key file's passphrase. The CLI reads it
	// without echo or from ICEVAULT_PASSPHRASE_FILE; this package never
	// touches the terminal. It is called at most once per operation; wrap it
	// with a cache to ask once per process.
	Passphrase func(PassphraseRequest) (string, error)
	// ProbeTimeout bounds the keychain check in Open (default 20s: a desktop
	// keychain may show an unlock prompt first).
	ProbeTimeout time.Duration

	scryptLogN int // tests lower the scrypt cost; 0 means age's default
}

// Store reads and writes a repository's secrets in the keychain or the key
// file.
type Store struct {
	kc       *keychainBackend // nil in file mode
	file     *fileBackend     // nil when Dir is empty
	noKC     error            // why the keychain is not used (file mode)
	platform string
}

// Open chooses the backend: the OS keychain if it answers (Mode Auto or
// Keychain), else the passphrase-protected key file in Dir (Auto or File).
func Open(opts Options) (*Store, error) {
	s := &Store{}
	if opts.Dir != "" {
		s.file = &fileBackend{dir: opts.Dir, prompt: opts.Passphrase, logN: opts.scryptLogN}
	}
	timeout := opts.ProbeTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	useKeychain := func() error {
		b, platform := opts.Keychain, "custom keychain"
		if b == nil {
			b, platform = osKeychain{}, osKeychainName
			if err := osKeychainPrecheck(); err != nil {
				return err
			}
		}
		if err := probe(b, timeout); err != nil {
			return err
		}
		s.kc, s.platform = &keychainBackend{b: b}, platform
		return nil
	}
	switch opts.Mode {
	case Keychain:
		if err := useKeychain(); err != nil {
			return nil, fmt.Errorf("keystore: %w: %w", ErrNoKeychain, err)
		}
		return s, nil
	case Auto:
		err := useKeychain()
		if err == nil {
			return s, nil
		}
		var te *probeTimeoutError
		if errors.As(err, &te) {
			// A keychain exists but did not answer: falling back would
			// split the secrets between two places.
			return nil, fmt.Errorf("keystore: %w; unlock it and retry, or use the key file backend explicitly", err)
		}
		s.noKC = err
	case File:
		s.noKC = errors.New("the key file backend was chosen explicitly")
	default:
		return nil, fmt.Errorf("keystore: unknown mode %d", opts.Mode)
	}
	if s.file == nil {
		return nil, fmt.Errorf("keystore: no OS keychain (%v) and no key file directory configured", s.noKC)
	}
	if s.file.prompt == nil {
		return nil, fmt.Errorf("keystore: no OS keychain (%v) and no passphrase prompt for the key file", s.noKC)
	}
	if err := s.file.checkDir(); err != nil {
		return nil, err
	}
	return s, nil
}

// Backend is "keychain" or "file".
func (s *Store) Backend() string {
	if s.kc != nil {
		return "keychain"
	}
	return "file"
}

// Describe says which backend is used and, for the file, why: for the CLI's
// "keys:" line.
func (s *Store) Describe() string {
	if s.kc != nil {
		return "keychain (" + s.platform + ")"
	}
	return fmt.Sprintf("file %s (%v)", s.file.dir, s.noKC)
}

// Save stores new secrets for repoID. It refuses (ErrExists) if any are
// already stored there.
func (s *Store) Save(repoID string, sec Secrets) error { return s.save(repoID, sec, false) }

// Replace stores secrets for repoID, overwriting existing ones (key import
// from the recovery kit).
func (s *Store) Replace(repoID string, sec Secrets) error { return s.save(repoID, sec, true) }

func (s *Store) save(repoID string, sec Secrets, replace bool) error {
	if err := validateRepoID(repoID); err != nil {
		return err
	}
	if err := sec.validate(); err != nil {
		return fmt.Errorf("keystore: save %s: %w", repoID, err)
	}
	vals := map[string]string{
		NameIdentity:  sec.Identity,
		NameBlobIDKey: hex.EncodeToString(sec.BlobIDKey[:]),
	}
	return s.put(repoID, vals, replace, "save")
}

// Load returns both secrets of repoID.
func (s *Store) Load(repoID string) (Secrets, error) {
	vals, err := s.get(repoID, NameIdentity, NameBlobIDKey)
	if err != nil {
		return Secrets{}, err
	}
	k, err := decodeBlobIDKey(vals[NameBlobIDKey])
	if err != nil {
		return Secrets{}, fmt.Errorf("keystore: load %s: %w", repoID, err)
	}
	sec := Secrets{Identity: vals[NameIdentity], BlobIDKey: k}
	if _, err := ParseIdentity(sec.Identity); err != nil {
		return Secrets{}, fmt.Errorf("keystore: load %s: stored %w", repoID, err)
	}
	return sec, nil
}

// LoadBlobIDKey returns only the blob-ID key, which is all a backup needs:
// from the keychain it does not read the identity.
func (s *Store) LoadBlobIDKey(repoID string) ([32]byte, error) {
	vals, err := s.get(repoID, NameBlobIDKey)
	if err != nil {
		return [32]byte{}, err
	}
	k, err := decodeBlobIDKey(vals[NameBlobIDKey])
	if err != nil {
		return [32]byte{}, fmt.Errorf("keystore: load %s: %w", repoID, err)
	}
	return k, nil
}

// Secret returns one named secret of repoID (e.g. static IAM keys).
func (s *Store) Secret(repoID, name string) (string, error) {
	if err := validateName(name); err != nil {
		return "", err
	}
	vals, err := s.get(repoID, name)
	if err != nil {
		return "", err
	}
	return vals[name], nil
}

// SetSecret stores one named secret of repoID, replacing its old value
// (credentials rotate). The repository's own names are refused: use Save or
// Replace for those.
func (s *Store) SetSecret(repoID, name, value string) error {
	if err := validateName(name); err != nil {
		return err
	}
	if name == NameIdentity || name == NameBlobIDKey {
		return fmt.Errorf("keystore: %q is set with Save or Replace, not SetSecret", name)
	}
	if value == "" {
		return fmt.Errorf("keystore: set %s/%s: %w: empty value", repoID, name, ErrInvalidSecret)
	}
	if err := validateRepoID(repoID); err != nil {
		return err
	}
	return s.put(repoID, map[string]string{name: value}, true, "set "+name)
}

// DeleteSecret removes one named secret of repoID; deleting a missing one is
// not an error.
func (s *Store) DeleteSecret(repoID, name string) error {
	if err := validateRepoID(repoID); err != nil {
		return err
	}
	if err := validateName(name); err != nil {
		return err
	}
	if s.kc != nil {
		return s.kc.delete(repoID, name)
	}
	return s.file.delete(repoID, name)
}

func (s *Store) put(repoID string, vals map[string]string, replace bool, op string) error {
	var err error
	if s.kc != nil {
		err = s.kc.put(repoID, vals, replace)
	} else {
		err = s.file.put(repoID, vals, replace)
	}
	if err != nil {
		return redact(fmt.Errorf("keystore: %s %s: %w", op, repoID, err), vals)
	}
	return nil
}

func (s *Store) get(repoID string, names ...string) (map[string]string, error) {
	if err := validateRepoID(repoID); err != nil {
		return nil, err
	}
	var (
		vals map[string]string
		err  error
	)
	if s.kc != nil {
		vals, err = s.kc.get(repoID, names)
		// Secrets saved on this machine before it had a keychain are in the
		// key file: look there before saying there are none.
		if errors.Is(err, ErrNoSecrets) && s.file != nil && s.file.exists(repoID) {
			vals, err = s.file.get(repoID, names)
		}
	} else {
		vals, err = s.file.get(repoID, names)
		if errors.Is(err, ErrNoSecrets) && s.noKC != nil {
			err = fmt.Errorf("%w (the OS keychain is not used: %v)", err, s.noKC)
		}
	}
	if err != nil {
		return nil, redact(fmt.Errorf("keystore: load %s: %w", repoID, err), vals)
	}
	return vals, nil
}

// redact guarantees that no secret value reaches an error message, whatever a
// lower layer (D-Bus, /usr/bin/security) put in it.
func redact(err error, vals map[string]string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, v := range vals {
		if len(v) >= 4 && strings.Contains(msg, v) {
			return &redactedError{msg: strings.ReplaceAll(msg, v, "[REDACTED]"), err: err}
		}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is keeps errors.Is working for the sentinels. There is deliberately no
// Unwrap: the wrapped chain still holds the value.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

var randRead = rand.Read

var (
	repoIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	nameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// validateRepoID: the ID names a file and half a keychain account, so it must
// be a plain file name without "/".
func validateRepoID(id string) error {
	if !repoIDRe.MatchString(id) {
		return fmt.Errorf("keystore: invalid repository ID %q (want 1-128 of A-Z a-z 0-9 . _ -, not starting with . _ -)", id)
	}
	return nil
}

func validateName(name string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("keystore: invalid secret name %q (want 1-64 of a-z 0-9 . _ -)", name)
	}
	return nil
}
