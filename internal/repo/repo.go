package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"filippo.io/age"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/chunk"
	"github.com/icevault/icevault/internal/pack"
	"github.com/icevault/icevault/internal/store"
)

// Catalog settings written by Init and read by Open.
const (
	settingConfig = "repo.config" // JSON of Config.Public()
	settingRoot   = "repo.root"
	settingBucket = "repo.bucket"
)

// Repo is an open repository: what a backup needs to write to it.
type Repo struct {
	Config     Config // public part; the blob-ID key is in IDKey
	Layout     Layout
	Bucket     string
	IDKey      pack.IDKey
	Recipients []age.Recipient
	Polynomial chunk.Polynomial
}

// ErrExists is Init's refusal to create a repository where one exists.
var ErrExists = errors.New("a repository already exists there")

// ErrNotInitialized means the catalog holds no repository.
var ErrNotInitialized = errors.New("no repository is set up on this machine")

// SecretSaver keeps a new repository's secrets (the OS keychain, or a
// passphrase-protected file).
type SecretSaver interface {
	SaveSecrets(repoID, identity string, blobIDKey [32]byte) error
}

// initStore is what Init needs of the bucket.
type initStore interface {
	Head(ctx context.Context, key string) (store.ObjectInfo, error)
	Put(ctx context.Context, p store.PutRequest) (store.PutResult, error)
}

// InitOptions describe a new repository.
type InitOptions struct {
	Bucket   string
	Layout   Layout
	PackSize int64
	Now      time.Time
}

// Init creates a repository: a new hybrid (post-quantum) age identity, a
// blob-ID key and chunker polynomial, saved through secrets before anything
// is uploaded; then the config object; then the catalog. It refuses if the
// bucket already holds a repository at that root, or the catalog already
// belongs to one. It returns the identity, for the recovery kit.
func Init(ctx context.Context, st initStore, cat *catalog.Catalog, secrets SecretSaver, o InitOptions) (*Repo, string, error) {
	if _, err := cat.Setting(ctx, settingConfig); err == nil {
		return nil, "", fmt.Errorf("%w: this machine's catalog %s already belongs to a repository", ErrExists, cat.Path())
	}
	info, err := st.Head(ctx, o.Layout.ConfigKey())
	switch {
	case err == nil:
		return nil, "", fmt.Errorf("%w: s3://%s/%s (repository %s, created %s); nothing was changed. To use it on this machine, run `icevault recover` with its recovery kit; to start a separate one, choose another repository name or prefix",
			ErrExists, o.Bucket, o.Layout.ConfigKey(), info.Metadata["icevault-repository-id"], info.LastModified.Format(time.DateOnly))
	case errors.Is(err, store.ErrAccessDenied):
		// S3 answers 403 instead of 404 for a missing key when the caller's
		// s3:ListBucket does not cover the request, as with a grant limited
		// by s3:prefix (icevault's generated policy). That is no answer
		// either way; the create-only PUT below is: 412 if a config exists.
	case !errors.Is(err, store.ErrNotFound):
		return nil, "", fmt.Errorf("checking whether s3://%s/%s exists: %w", o.Bucket, o.Layout.ConfigKey(), err)
	}

	ident, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, "", err
	}
	cfg, key, err := NewConfig(o.Now, []string{ident.Recipient().String()}, o.PackSize)
	if err != nil {
		return nil, "", err
	}
	if err := secrets.SaveSecrets(cfg.ID, ident.String(), key); err != nil {
		return nil, "", fmt.Errorf("saving the repository keys: %w", err)
	}
	body, err := cfg.Seal()
	if err != nil {
		return nil, "", err
	}
	if _, err := st.Put(ctx, store.PutRequest{
		Key: o.Layout.ConfigKey(), Body: bytes.NewReader(body), Size: int64(len(body)), SHA256: sha256.Sum256(body),
		Metadata: map[string]string{"icevault-repository-id": cfg.ID, "icevault-format-version": strconv.Itoa(FormatVersion)},
	}); errors.Is(err, store.ErrExists) {
		return nil, "", fmt.Errorf("%w: s3://%s/%s; nothing was changed in the bucket (the keys just made for a new repository %s are unused). To use the existing repository on this machine, run `icevault recover` with its recovery kit; to start a separate one, choose another repository name or prefix",
			ErrExists, o.Bucket, o.Layout.ConfigKey(), cfg.ID)
	} else if err != nil {
		return nil, "", fmt.Errorf("uploading the config object: %w", err)
	}
	if err := SaveToCatalog(ctx, cat, cfg, o.Layout, o.Bucket); err != nil {
		return nil, "", err
	}
	r, err := fromConfig(cfg.Public(), o.Layout, o.Bucket, key)
	return r, ident.String(), err
}

// SaveToCatalog records the repository in a catalog (Init, and recovery).
func SaveToCatalog(ctx context.Context, cat *catalog.Catalog, cfg Config, l Layout, bucket string) error {
	pub, err := json.Marshal(cfg.Public())
	if err != nil {
		return err
	}
	for k, v := range map[string][]byte{settingConfig: pub, settingRoot: []byte(l.Root), settingBucket: []byte(bucket)} {
		if err := cat.SetSetting(ctx, k, v); err != nil {
			return err
		}
	}
	return nil
}

// BlobIDKeyLoader returns a repository's blob-ID key: all a backup needs
// from the keystore (never the identity).
type BlobIDKeyLoader interface {
	LoadBlobIDKey(repoID string) ([32]byte, error)
}

// Open opens the repository recorded in the catalog.
func Open(ctx context.Context, cat *catalog.Catalog, keys BlobIDKeyLoader) (*Repo, error) {
	pub, err := cat.Setting(ctx, settingConfig)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("%w: run `icevault init` to create one, or `icevault recover` to attach to an existing one", ErrNotInitialized)
	}
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := json.Unmarshal(pub, &cfg); err != nil {
		return nil, fmt.Errorf("%w: repository config: %v", catalog.ErrCorrupt, err)
	}
	root, err := cat.Setting(ctx, settingRoot)
	if err != nil {
		return nil, err
	}
	bucket, err := cat.Setting(ctx, settingBucket)
	if err != nil {
		return nil, err
	}
	key, err := keys.LoadBlobIDKey(cfg.ID)
	if err != nil {
		return nil, fmt.Errorf("loading the keys of repository %s: %w", cfg.ID, err)
	}
	return fromConfig(cfg, Layout{Root: string(root)}, string(bucket), key)
}

func fromConfig(cfg Config, l Layout, bucket string, key [32]byte) (*Repo, error) {
	cfg.BlobIDKey = hex.EncodeToString(key[:])
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.BlobIDKey = ""
	rs, err := cfg.ParseRecipients()
	if err != nil {
		return nil, err
	}
	pol, err := cfg.Polynomial()
	if err != nil {
		return nil, err
	}
	return &Repo{Config: cfg, Layout: l, Bucket: bucket, IDKey: pack.IDKey(key), Recipients: rs, Polynomial: pol}, nil
}
