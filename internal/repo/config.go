package repo

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/chunk"
	"github.com/icevault/icevault/internal/pack"
)

// FormatName identifies icevault repositories.
const FormatName = "icevault-repository"

// FormatVersion is the repository format this code writes and reads.
const FormatVersion = 1

// DefaultPackSize is the pack size target: large enough that a million
// small files cost a handful of PUTs and the ~40 KB per-object overhead
// vanishes, small enough that a failed PUT is cheap to retry and a
// single-file restore thaws little.
const DefaultPackSize = 128 << 20

// Config is the repository's config object.
type Config struct {
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	ID         string    `json:"id"`
	Created    time.Time `json:"created"`
	Recipients []string  `json:"recipients"`
	Chunker    Chunker   `json:"chunker"`
	PackSize   int64     `json:"pack_size"`
	BlobIDKey  string    `json:"blob_id_key"` // hex; secret: present only in the encrypted object and the keystore
}

// Chunker records the content-defined chunking parameters; they must never
// change for a repository, or deduplication against old snapshots stops.
type Chunker struct {
	Algorithm  string `json:"algorithm"` // "rabin" (github.com/restic/chunker)
	Polynomial string `json:"polynomial"`
}

// NewConfig makes a new repository's config for recipients.
func NewConfig(now time.Time, recipients []string, packSize int64) (Config, pack.IDKey, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Config{}, pack.IDKey{}, err
	}
	key, err := pack.NewIDKey()
	if err != nil {
		return Config{}, pack.IDKey{}, err
	}
	pol, err := chunk.RandomPolynomial()
	if err != nil {
		return Config{}, pack.IDKey{}, fmt.Errorf("choosing the chunker polynomial: %w", err)
	}
	if packSize <= 0 {
		packSize = DefaultPackSize
	}
	return Config{
		Format: FormatName, Version: FormatVersion, ID: hex.EncodeToString(id[:]), Created: now.UTC(),
		Recipients: recipients, Chunker: Chunker{Algorithm: "rabin", Polynomial: pol.String()},
		PackSize: packSize, BlobIDKey: hex.EncodeToString(key[:]),
	}, key, nil
}

// Validate checks a config read back from the bucket or the catalog.
func (c Config) Validate() error {
	if c.Format != FormatName {
		return fmt.Errorf("not an icevault repository config (format %q)", c.Format)
	}
	if c.Version != FormatVersion {
		return fmt.Errorf("repository format version %d is not supported by this icevault (it reads %d): upgrade icevault", c.Version, FormatVersion)
	}
	if len(c.Recipients) == 0 {
		return fmt.Errorf("repository %s has no recipients", c.ID)
	}
	if _, err := c.ParseRecipients(); err != nil {
		return err
	}
	if _, err := chunk.ParsePolynomial(c.Chunker.Polynomial); err != nil || c.Chunker.Algorithm != "rabin" {
		return fmt.Errorf("repository %s: chunker %q/%q: %v", c.ID, c.Chunker.Algorithm, c.Chunker.Polynomial, err)
	}
	if c.PackSize < 1<<20 || c.PackSize > 4<<30 {
		return fmt.Errorf("repository %s: pack size %d out of range", c.ID, c.PackSize)
	}
	return nil
}

// ParseRecipients parses the age recipients (hybrid post-quantum or X25519).
func (c Config) ParseRecipients() ([]age.Recipient, error) {
	var out []age.Recipient
	for _, s := range c.Recipients {
		var r age.Recipient
		var err error
		if len(s) > 7 && s[:7] == "age1pq1" {
			r, err = age.ParseHybridRecipient(s)
		} else {
			r, err = age.ParseX25519Recipient(s)
		}
		if err != nil {
			return nil, fmt.Errorf("repository recipient %q: %w", s, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Polynomial is the chunker polynomial.
func (c Config) Polynomial() (chunk.Polynomial, error) {
	return chunk.ParsePolynomial(c.Chunker.Polynomial)
}

// Public returns c without its secret.
func (c Config) Public() Config {
	c.BlobIDKey = ""
	return c
}

// Seal encrypts the config to its recipients: the config object's body.
func (c Config) Seal() ([]byte, error) {
	rs, err := c.ParseRecipients()
	if err != nil {
		return nil, err
	}
	plain, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		return nil, fmt.Errorf("encrypting the config object: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// OpenConfig decrypts a config object with the repository identity.
func OpenConfig(sealed []byte, ids ...age.Identity) (Config, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), ids...)
	if err != nil {
		return Config{}, fmt.Errorf("decrypting the config object (is this the right recovery kit?): %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return Config{}, fmt.Errorf("decrypting the config object: %w", err)
	}
	var c Config
	if err := json.Unmarshal(plain, &c); err != nil {
		return Config{}, fmt.Errorf("config object: %w", err)
	}
	return c, c.Validate()
}
