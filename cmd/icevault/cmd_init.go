package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/repo"
)

func newInitCmd(a *app) *cobra.Command {
	var nr config.Repository
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a repository in the bucket (keys, config object, local catalog)",
		Long: `Create a new repository: a post-quantum (ML-KEM-768 + X25519) age identity, a
blob-ID key and chunking parameters, kept in the OS keychain (or a passphrase-
protected file where there is none); a config object in the bucket (DEEP_ARCHIVE,
encrypted); and this machine's catalog.

If the repository is not in the config file yet, give --bucket and --region (and
optionally --prefix, --endpoint, --source): it is added. init never overwrites
an existing repository. Afterwards, run 'icevault key export' and keep the
recovery kit offline: it is the only way back in if this machine is lost.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := a.ensureRepoConfig(cmd, nr); err != nil {
				return err
			}
			h, err := a.openRepo(ctx, "init", true)
			if err != nil {
				return err
			}
			defer h.Close()
			layout, err := h.layout()
			if err != nil {
				return usageError{err}
			}
			st, err := a.openStore(ctx, h)
			if err != nil {
				return err
			}
			ks, err := a.openKeys()
			if err != nil {
				return err
			}
			r, _, err := repo.Init(ctx, st, h.cat, secretSaver{ks}, repo.InitOptions{
				Bucket: h.cfg.Bucket, Layout: layout, PackSize: int64(h.cfg.PackSizeMiB) << 20, Now: time.Now(),
			})
			if err != nil {
				return err
			}
			if a.json {
				return a.emitJSON(map[string]any{"event": "initialized", "repository": h.name, "id": r.Config.ID,
					"bucket": r.Bucket, "root": r.Layout.Root, "keys": ks.Backend()})
			}
			a.printf("Created repository %q (%s) at s3://%s/%s\n", h.name, r.Config.ID, r.Bucket, r.Layout.Root)
			a.printf("Keys: %s\n", ks.Describe())
			a.printf("\nNow run `icevault key export` and keep the recovery kit offline (print it).\n")
			a.printf("Without it, a lost or wiped machine means the backups cannot be read.\n")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&nr.Bucket, "bucket", "", "S3 bucket (for a repository not yet in the config)")
	f.StringVar(&nr.Prefix, "prefix", config.DefaultPrefix, "key prefix in the bucket")
	f.StringVar(&nr.Region, "region", "", "AWS region of the bucket")
	f.StringVar(&nr.Endpoint, "endpoint", "", "S3 endpoint (the simulator or tests; default AWS)")
	f.StringVar(&nr.Credentials, "credentials", config.CredentialsProfile, `"profile" (an AWS profile, e.g. IAM Identity Center) or "keychain"`)
	f.StringSliceVar(&nr.Sources, "source", nil, "folder to back up by default (repeatable)")
	f.IntVar(&nr.PackSizeMiB, "pack-size-mib", 0, "pack size target in MiB (default 128)")
	return cmd
}

// ensureRepoConfig adds the repository to the config file when --bucket is
// given and the repository is not there yet.
func (a *app) ensureRepoConfig(cmd *cobra.Command, nr config.Repository) error {
	path, f, err := a.configForEdit()
	if err != nil {
		return err
	}
	name := a.repo
	if name == "" {
		name = f.Default
	}
	if name == "" && len(f.Repositories) == 0 {
		name = "default"
	}
	if _, exists := f.Repositories[name]; exists || (name == "" && !cmd.Flags().Changed("bucket")) {
		if cmd.Flags().Changed("bucket") {
			return usageError{fmt.Errorf("repository %q is already in %s; leave out --bucket, or choose another name with --repo", name, path)}
		}
		return nil
	}
	if name == "" {
		return usageError{errors.New("several repositories are configured: name the new one with --repo")}
	}
	if nr.Bucket == "" || nr.Region == "" {
		return usageError{fmt.Errorf("repository %q is not in %s: give --bucket and --region to add it", name, path)}
	}
	for i, s := range nr.Sources {
		if nr.Sources[i], err = expandHome(s); err != nil {
			return err
		}
	}
	f.Repositories[name] = &nr
	if len(f.Repositories) == 1 {
		f.Default = name
	}
	a.repo = name
	if err := config.Save(path, f); err != nil {
		return err
	}
	a.printf("Added repository %q to %s\n", name, path)
	return nil
}

// configForEdit returns the config file's path and contents, or an empty
// configuration if there is no file yet (init and recover create it).
func (a *app) configForEdit() (string, *config.File, error) {
	path := a.configPath
	if path == "" {
		var err error
		if path, err = config.DefaultPath(); err != nil {
			return "", nil, err
		}
	}
	f, err := config.Load(path)
	if errors.Is(err, config.ErrNoConfig) {
		return path, &config.File{Repositories: map[string]*config.Repository{}}, nil
	}
	return path, f, err
}
