package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/term"

	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/keystore"
	"github.com/icevault/icevault/internal/lock"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/store/s3store"
)

// repoHandle is one configured repository, opened for a command.
type repoHandle struct {
	name string
	cfg  *config.Repository
	dir  string // this machine's state for it: catalog, spool, lock
	cat  *catalog.Catalog
	lock *lock.Lock
}

func (h *repoHandle) Close() {
	if h.cat != nil {
		h.cat.Close()
	}
	h.lock.Release()
}

func (h *repoHandle) spool() string { return filepath.Join(h.dir, "spool") }

func (h *repoHandle) layout() (repo.Layout, error) { return repo.NewLayout(h.cfg.Prefix, h.name) }

// repoStateDir is where this machine keeps a repository's catalog.
func repoStateDir(name string) (string, error) {
	d, err := config.Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "repos", name), nil
}

// openRepo opens the named (or default) repository's catalog, taking the
// writer lock if command writes.
func (a *app) openRepo(ctx context.Context, command string, write bool) (*repoHandle, error) {
	return a.openRepoNamed(ctx, a.repo, command, write)
}

// openRepoNamed is openRepo for the repository named ("" = the default).
func (a *app) openRepoNamed(ctx context.Context, repoName, command string, write bool) (*repoHandle, error) {
	f, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	name, rc, err := f.Repo(repoName)
	if err != nil {
		return nil, usageError{err}
	}
	dir, err := repoStateDir(name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	h := &repoHandle{name: name, cfg: rc, dir: dir}
	if write {
		if h.lock, err = lock.Acquire(filepath.Join(dir, "lock"), command); err != nil {
			return nil, err
		}
	}
	if h.cat, err = catalog.Open(ctx, filepath.Join(dir, "catalog.db")); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// awsConfig resolves credentials and region for a repository: an AWS
// profile (IAM Identity Center or anything the SDK resolves).
func (a *app) awsConfig(ctx context.Context, rc *config.Repository) (aws.Config, error) {
	switch rc.Credentials {
	case config.CredentialsKeychain:
		return a.keychainAWSConfig(ctx, rc)
	}
	profile := rc.Profile
	if a.profileSet {
		profile = a.profile
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithSharedConfigProfile(profile), awsconfig.WithRegion(rc.Region))
	if err != nil {
		return cfg, fmt.Errorf("loading AWS profile %q: %w (see `aws configure list-profiles`; `icevault setup` writes one)", profile, err)
	}
	return cfg, nil
}

// openStore connects to the repository's bucket.
func (a *app) openStore(ctx context.Context, h *repoHandle) (*s3store.Store, error) {
	cfg, err := a.awsConfig(ctx, h.cfg)
	if err != nil {
		return nil, err
	}
	client, err := s3store.NewClient(cfg, s3store.ClientOptions{Endpoint: h.cfg.Endpoint})
	if err != nil {
		return nil, usageError{err}
	}
	return s3store.New(client, h.cfg.Bucket, s3store.Options{IsLoginRequired: auth.IsLoginRequired}), nil
}

// openKeys opens the keystore: the OS keychain, or a passphrase-protected
// file where there is none. ICEVAULT_KEYSTORE=file|keychain forces one;
// ICEVAULT_PASSPHRASE_FILE names a file holding the passphrase (for
// unattended runs); otherwise the passphrase is asked on the terminal.
func (a *app) openKeys() (*keystore.Store, error) {
	dir, err := config.Dir()
	if err != nil {
		return nil, err
	}
	opts := keystore.Options{Dir: filepath.Join(dir, "keys"), Passphrase: a.passphrase}
	switch m := os.Getenv("ICEVAULT_KEYSTORE"); m {
	case "file":
		opts.Mode = keystore.File
	case "keychain":
		opts.Mode = keystore.Keychain
	case "":
	default:
		return nil, usageError{fmt.Errorf("ICEVAULT_KEYSTORE=%q: use file or keychain, or unset it", m)}
	}
	return keystore.Open(opts)
}

func (a *app) passphrase(req keystore.PassphraseRequest) (string, error) {
	if p := os.Getenv("ICEVAULT_PASSPHRASE_FILE"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("reading the passphrase from $ICEVAULT_PASSPHRASE_FILE: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errors.New("the key file needs a passphrase: run in a terminal, or set ICEVAULT_PASSPHRASE_FILE to a file (mode 0600) holding it")
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(a.stderr)
		return string(b), err
	}
	p, err := ask(fmt.Sprintf("Passphrase for %s: ", req.Path))
	if err != nil || !req.New {
		return p, err
	}
	if len(p) < 12 {
		return "", errors.New("choose a passphrase of at least 12 characters")
	}
	again, err := ask("Repeat it: ")
	if err != nil {
		return "", err
	}
	if again != p {
		return "", errors.New("the passphrases differ; nothing was saved")
	}
	return p, nil
}

// secretSaver adapts the keystore to repo.Init.
type secretSaver struct{ ks *keystore.Store }

func (s secretSaver) SaveSecrets(repoID, identity string, key [32]byte) error {
	return s.ks.Save(repoID, keystore.Secrets{Identity: identity, BlobIDKey: key})
}

// expandHome turns a leading ~ into the home directory.
func expandHome(p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, p[1:])
	}
	return filepath.Abs(p)
}
