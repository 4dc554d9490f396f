package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
)

// Token is one entry of the AWS CLI's SSO token cache,
// ~/.aws/sso/cache/<sha1(key)>.json, where key is the sso-session name (or,
// for the legacy layout, the start URL). The field names and the order are
// the AWS CLI v2's (botocore SSOTokenFetcher); the SDK's ssocreds reads
// accessToken, expiresAt, refreshToken, clientId and clientSecret, keeps
// the rest when it rewrites the file after a refresh, and never looks at
// registrationExpiresAt.
type Token struct {
	StartURL              string    `json:"startUrl"`
	Region                string    `json:"region"`
	AccessToken           string    `json:"accessToken"`
	ExpiresAt             CacheTime `json:"expiresAt"`
	ClientID              string    `json:"clientId,omitempty"`
	ClientSecret          string    `json:"clientSecret,omitempty"`
	RegistrationExpiresAt CacheTime `json:"registrationExpiresAt,omitzero"`
	RefreshToken          string    `json:"refreshToken,omitempty"`
}

// CacheTime is a timestamp as the AWS CLI writes it: UTC, whole seconds,
// "Z" (2026-12-03T12:00:00Z). It reads any RFC 3339 time, as the SDK does.
type CacheTime struct{ time.Time }

// MarshalJSON writes the CLI's format.
func (t CacheTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.UTC().Format("2006-01-02T15:04:05Z"))
}

// UnmarshalJSON reads an RFC 3339 time.
func (t *CacheTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("expected an RFC 3339 time: %w", err)
	}
	t.Time = v
	return nil
}

// CachePath is where the SDK and the AWS CLI look for key's token: it is
// the SDK's own ssocreds.StandardCachedTokenFilepath, so it follows HOME
// exactly as the SDK does.
func CachePath(key string) (string, error) {
	p, err := ssocreds.StandardCachedTokenFilepath(key)
	if err != nil {
		return "", fmt.Errorf("SSO token cache: %w", err)
	}
	return p, nil
}

// ReadToken reads a cache file. A missing file is an error satisfying
// errors.Is(err, fs.ErrNotExist).
func ReadToken(path string) (Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Token{}, fmt.Errorf("reading SSO token cache: %w", err)
	}
	var t Token
	if err := json.Unmarshal(b, &t); err != nil {
		return Token{}, fmt.Errorf("parsing SSO token cache %s: %w", path, err)
	}
	return t, nil
}

// WriteToken writes t to path as the AWS CLI would, atomically: a temporary
// file in the same directory (mode 0600, in a 0700 directory) renamed over
// the old one, so a reader (the SDK, `aws`) sees the old token or the new
// one, never a torn file.
func WriteToken(path string, t Token) (err error) {
	if t.AccessToken == "" || t.ExpiresAt.IsZero() {
		return errors.New("SSO token cache: refusing to write a token without accessToken and expiresAt")
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("SSO token cache: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("SSO token cache: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod makes it explicit whatever the umask.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("SSO token cache: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("SSO token cache: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("SSO token cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("SSO token cache: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("SSO token cache: %w", err)
	}
	return nil
}
