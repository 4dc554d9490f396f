package iamkeys

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/icevault/icevault/internal/keystore"
)

// SecretName is the keystore name of the stored key pair.
const SecretName = "static-key"

// ErrNoKeys: no static key is stored for the repository.
var ErrNoKeys = errors.New("no static IAM keys stored")

// Keys is an IAM user's access key. Its String and GoString never show the
// secret, so it can be logged or wrapped in errors safely.
type Keys struct {
	AccessKeyID     string
	SecretAccessKey string
}

func (k Keys) String() string { return k.AccessKeyID + " (secret hidden)" }
func (k Keys) GoString() string {
	return "iamkeys.Keys{AccessKeyID:" + fmt.Sprintf("%q", k.AccessKeyID) + ", SecretAccessKey:[hidden]}"
}

var (
	keyIDRe  = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	secretRe = regexp.MustCompile(`^[\x21-\x7e]{16,128}$`)
)

// Validate checks the shape of both parts. Its errors never quote the secret.
func (k Keys) Validate() error {
	switch {
	case k.AccessKeyID == "":
		return errors.New("the access key ID is empty")
	case !keyIDRe.MatchString(k.AccessKeyID):
		return fmt.Errorf("access key ID %q is not valid: 16-128 upper-case letters and digits, like AKIA…", k.AccessKeyID)
	case strings.HasPrefix(k.AccessKeyID, "ASIA"):
		return fmt.Errorf("access key ID %s is a temporary (session) key; static keys belong to an IAM user and start with AKIA", k.AccessKeyID)
	case k.SecretAccessKey == "":
		return errors.New("the secret access key is empty")
	case !secretRe.MatchString(k.SecretAccessKey):
		return fmt.Errorf("the secret access key is not valid (%d characters; want 16-128 printable characters without spaces, usually 40)", len(k.SecretAccessKey))
	}
	return nil
}

// Secrets is the part of *keystore.Store this package uses.
type Secrets interface {
	Secret(id, name string) (string, error)
	SetSecret(id, name, value string) error
	DeleteSecret(id, name string) error
}

// ID is the keystore ID for a repository's static keys (see doc.go).
func ID(repoName string) string { return "iam." + repoName }

// Account is the keychain account name, for telling users where keys are.
func Account(repoName string) string { return ID(repoName) + "/" + SecretName }

type stored struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// Load returns the repository's stored key.
func Load(s Secrets, repoName string) (Keys, error) {
	v, err := s.Secret(ID(repoName), SecretName)
	if errors.Is(err, keystore.ErrNoSecrets) {
		return Keys{}, fmt.Errorf("%w for repository %q: store them with `icevault keys set`", ErrNoKeys, repoName)
	}
	if err != nil {
		return Keys{}, fmt.Errorf("reading the static IAM keys of %q: %w", repoName, err)
	}
	var st stored
	// The value holds the secret: never echo a parse error's detail.
	if json.Unmarshal([]byte(v), &st) != nil {
		return Keys{}, fmt.Errorf("the stored static IAM keys of %q (%s) are damaged: set them again with `icevault keys set`", repoName, Account(repoName))
	}
	k := Keys{AccessKeyID: st.AccessKeyID, SecretAccessKey: st.SecretAccessKey}
	if err := k.Validate(); err != nil {
		return Keys{}, fmt.Errorf("the stored static IAM keys of %q are not valid: %w", repoName, err)
	}
	return k, nil
}

// Save stores k for the repository, replacing what was there.
func Save(s Secrets, repoName string, k Keys) error {
	if err := k.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(stored{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey})
	if err != nil {
		return fmt.Errorf("encoding the keys: %w", err)
	}
	if err := s.SetSecret(ID(repoName), SecretName, string(b)); err != nil {
		return redact(fmt.Errorf("storing the static IAM keys of %q: %w", repoName, err), k)
	}
	return nil
}

// Remove deletes the stored key; removing a missing one is not an error.
func Remove(s Secrets, repoName string) error {
	if err := s.DeleteSecret(ID(repoName), SecretName); err != nil && !errors.Is(err, keystore.ErrNoSecrets) {
		return fmt.Errorf("removing the static IAM keys of %q: %w", repoName, err)
	}
	return nil
}

// redact keeps the secret out of an error whatever a lower layer wrote.
func redact(err error, k Keys) error {
	if err == nil || k.SecretAccessKey == "" || !strings.Contains(err.Error(), k.SecretAccessKey) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), k.SecretAccessKey, "[REDACTED]"))
}
