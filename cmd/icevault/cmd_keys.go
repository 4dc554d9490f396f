package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/iamkeys"
	"github.com/icevault/icevault/internal/keystore"
)

func newKeysCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage static IAM user keys kept in the OS keychain (credentials = \"keychain\")",
		Long: `Static IAM user access keys, for unattended backups where IAM Identity Center
(SSO) logins are not practical. They are kept in the OS keychain (or the
passphrase-protected key file where there is none), never in a plain file, and
filed under the repository's name, so they can be stored before 'icevault init'.
A repository uses them when its config says credentials = "keychain".

The secret access key is never taken as a flag (command lines are visible to
other processes) and never printed.`,
	}
	var keyID string
	set := &cobra.Command{
		Use:   "set",
		Short: "Store an access key ID and secret access key",
		Long: `Store an IAM user's access key. On a terminal, both are asked for (the secret
without echo). Otherwise they are read from standard input: two lines (access
key ID, then secret), or only the secret when --access-key-id is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, err := a.keysRepoName()
			if err != nil {
				return err
			}
			k, err := a.readStaticKeys(keyID)
			if err != nil {
				return err
			}
			return a.storeStaticKeys(name, k)
		},
	}
	set.Flags().StringVar(&keyID, "access-key-id", "", "the access key ID (AKIA…); the secret is then read from stdin or asked for")

	show := &cobra.Command{
		Use:   "show",
		Short: "Show the stored access key ID and where it is kept (never the secret)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, ks, err := a.openStaticKeys()
			if err != nil {
				return err
			}
			k, err := iamkeys.Load(ks, name)
			if err != nil {
				if errors.Is(err, iamkeys.ErrNoKeys) {
					return usageError{err}
				}
				return err
			}
			if a.json {
				return a.emitJSON(map[string]any{"repository": name, "access_key_id": k.AccessKeyID,
					"store": ks.Backend(), "location": ks.Describe(), "account": iamkeys.Account(name)})
			}
			a.printf("Repository:    %s\n", name)
			a.printf("Access key ID: %s\n", k.AccessKeyID)
			a.printf("Stored in:     %s, entry %q (service %q)\n", ks.Describe(), iamkeys.Account(name), "icevault")
			return nil
		},
	}

	remove := &cobra.Command{
		Use:   "remove",
		Short: "Delete the stored key from the keychain (not from IAM)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, ks, err := a.openStaticKeys()
			if err != nil {
				return err
			}
			k, err := iamkeys.Load(ks, name)
			if errors.Is(err, iamkeys.ErrNoKeys) {
				a.printf("No static keys are stored for repository %q; nothing to remove.\n", name)
				return nil
			}
			// A damaged entry can still be removed: fall through.
			if err := iamkeys.Remove(ks, name); err != nil {
				return err
			}
			if a.json {
				return a.emitJSON(map[string]any{"event": "removed", "repository": name, "access_key_id": k.AccessKeyID})
			}
			a.printf("Removed access key %s of repository %q from %s.\n", k.AccessKeyID, name, ks.Describe())
			a.printf("The key still exists in IAM: delete or deactivate it there if it is no longer needed.\n")
			return nil
		},
	}

	var (
		deleteInactive bool
		maxWait        time.Duration
	)
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Replace the stored key with a new one (IAM CreateAccessKey, verify, DeleteAccessKey)",
		Long: `Create a new access key for the IAM user the stored key belongs to, check with
STS that it works (new keys can take a few seconds: this retries for up to
--max-wait), store it, then delete the old key. The old key stays stored and
working until the new one is proven; if anything fails, the message says exactly
which keys exist and which one is stored.

IAM allows two keys per user. If the user has another key, rotation stops and
names it; with --delete-inactive it deletes that key first, but only if it is
Inactive. The user's policy must allow iam:ListAccessKeys, iam:CreateAccessKey
and iam:DeleteAccessKey on itself (icevault policy --rotate-keys).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			name, err := a.keysRepoName()
			if err != nil {
				return err
			}
			region := "us-east-1" // IAM is global; STS answers in any region
			if f, err := a.loadConfig(); err == nil {
				if _, rc, err := f.Repo(name); err == nil && rc.Region != "" {
					region = rc.Region
				}
			}
			ks, err := a.openKeys()
			if err != nil {
				return err
			}
			var cfgErr error
			r := &iamkeys.Rotator{
				Store:          ks,
				MaxWait:        maxWait,
				DeleteInactive: deleteInactive,
				Progress:       func(msg string) { fmt.Fprintln(a.stderr, msg) },
				Clients: func(k iamkeys.Keys) (iamkeys.IAM, iamkeys.STS) {
					cfg, err := staticAWSConfig(ctx, k, region)
					if err != nil && cfgErr == nil {
						cfgErr = err
					}
					return iam.NewFromConfig(cfg), sts.NewFromConfig(cfg)
				},
			}
			res, err := r.Rotate(ctx, name)
			if cfgErr != nil && err != nil {
				err = fmt.Errorf("%w (AWS configuration: %v)", err, cfgErr)
			}
			if err != nil {
				if errors.Is(err, iamkeys.ErrNoKeys) || errors.Is(err, iamkeys.ErrTwoKeys) || errors.Is(err, iamkeys.ErrNotIAMUser) {
					return usageError{err}
				}
				return err
			}
			if a.json {
				return a.emitJSON(map[string]any{"event": "rotated", "repository": name, "user": res.UserName,
					"old_access_key_id": res.OldKeyID, "access_key_id": res.NewKeyID,
					"deleted_inactive": res.DeletedInactive, "verify_attempts": res.Attempts})
			}
			a.printf("Rotated the key of IAM user %s for repository %q:\n", res.UserName, name)
			a.printf("  new key %s: verified with STS and stored in %s\n", res.NewKeyID, ks.Describe())
			a.printf("  old key %s: deleted from IAM\n", res.OldKeyID)
			if res.DeletedInactive != "" {
				a.printf("  inactive key %s: deleted from IAM first\n", res.DeletedInactive)
			}
			return nil
		},
	}
	rotate.Flags().BoolVar(&deleteInactive, "delete-inactive", false, "if the user has a second, Inactive key, delete it to make room")
	rotate.Flags().DurationVar(&maxWait, "max-wait", iamkeys.DefaultMaxWait, "how long to wait for the new key to start working")

	cmd.AddCommand(set, show, remove, rotate)
	return cmd
}

// keysRepoName is the repository static keys are filed under: --repo, else
// the config's default or only repository, else "default" (the name init and
// setup give the first repository), so keys can be set before anything else.
// openStaticKeys returns the repository name the keys are stored under and
// the keystore that holds them.
func (a *app) openStaticKeys() (string, *keystore.Store, error) {
	name, err := a.keysRepoName()
	if err != nil {
		return "", nil, err
	}
	ks, err := a.openKeys()
	return name, ks, err
}

func (a *app) keysRepoName() (string, error) {
	if a.repo != "" {
		return a.repo, nil
	}
	f, err := a.loadConfig()
	if errors.Is(err, config.ErrNoConfig) {
		return "default", nil
	}
	if err != nil {
		return "", err
	}
	if len(f.Repositories) == 0 {
		return "default", nil
	}
	name, _, err := f.Repo("")
	if err != nil {
		return "", usageError{err}
	}
	return name, nil
}

// readStaticKeys asks for the keys on a terminal, or reads them from stdin:
// two lines (ID, secret), or one (the secret) when keyID is given.
func (a *app) readStaticKeys(keyID string) (iamkeys.Keys, error) {
	k := iamkeys.Keys{AccessKeyID: strings.TrimSpace(keyID)}
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if k.AccessKeyID == "" {
			fmt.Fprint(a.stderr, "AWS access key ID: ")
			line, err := bufio.NewReader(f).ReadString('\n')
			if err != nil && line == "" {
				return k, fmt.Errorf("reading the access key ID: %w", err)
			}
			k.AccessKeyID = strings.TrimSpace(line)
		}
		fmt.Fprint(a.stderr, "AWS secret access key (not shown): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return k, fmt.Errorf("reading the secret access key: %w", err)
		}
		k.SecretAccessKey = strings.TrimSpace(string(b))
	} else {
		in := a.stdin
		if in == nil {
			in = strings.NewReader("")
		}
		sc := bufio.NewScanner(io.LimitReader(in, 64<<10))
		var lines []string
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				lines = append(lines, l)
			}
		}
		if err := sc.Err(); err != nil {
			return k, fmt.Errorf("reading the keys from stdin: %w", err)
		}
		want := 2
		if k.AccessKeyID != "" {
			want = 1
		}
		if len(lines) != want {
			what := "two lines on stdin: the access key ID, then the secret access key"
			if want == 1 {
				what = "one line on stdin: the secret access key"
			}
			return k, usageError{fmt.Errorf("expected %s (got %d non-empty lines); the secret is never taken as a flag", what, len(lines))}
		}
		if want == 2 {
			k.AccessKeyID = lines[0]
		}
		k.SecretAccessKey = lines[len(lines)-1]
	}
	if err := k.Validate(); err != nil {
		return k, usageError{err}
	}
	return k, nil
}

// storeStaticKeys saves k for the repository and says where.
func (a *app) storeStaticKeys(name string, k iamkeys.Keys) error {
	ks, err := a.openKeys()
	if err != nil {
		return err
	}
	if err := iamkeys.Save(ks, name, k); err != nil {
		return err
	}
	if a.json {
		return a.emitJSON(map[string]any{"event": "keys-stored", "repository": name, "access_key_id": k.AccessKeyID,
			"store": ks.Backend(), "account": iamkeys.Account(name)})
	}
	a.printf("Stored access key %s for repository %q in %s.\n", k.AccessKeyID, name, ks.Describe())
	if f, err := a.loadConfig(); err == nil {
		if _, rc, err := f.Repo(name); err == nil && rc.Credentials != config.CredentialsKeychain {
			a.printf("Note: repository %q uses credentials = %q; set credentials = \"keychain\" in the config to use these keys.\n", name, rc.Credentials)
		}
	}
	return nil
}

// staticAWSConfig is an SDK config that signs with k. The rest of the
// shared configuration (endpoints such as AWS_ENDPOINT_URL_STS, retries)
// still applies; credentials come only from k.
func staticAWSConfig(ctx context.Context, k iamkeys.Keys, region string) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRegion(region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, "")))
	if err != nil {
		return cfg, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	return cfg, nil
}

// repoNameFor finds the configured name of rc (awsConfig gets only the
// repository's settings).
func (a *app) repoNameFor(rc *config.Repository) (string, error) {
	f, err := a.loadConfig()
	if err != nil {
		return "", err
	}
	if name, r, err := f.Repo(a.repo); err == nil && reflect.DeepEqual(*r, *rc) {
		return name, nil
	}
	var found []string
	for n, r := range f.Repositories {
		if reflect.DeepEqual(*r, *rc) {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return "", usageError{errors.New("cannot tell which repository's static keys to use: choose one with --repo")}
	}
	return found[0], nil
}

// keychainAWSConfig loads the repository's static keys for awsConfig.
func (a *app) keychainAWSConfig(ctx context.Context, rc *config.Repository) (aws.Config, error) {
	name, err := a.repoNameFor(rc)
	if err != nil {
		return aws.Config{}, err
	}
	ks, err := a.openKeys()
	if err != nil {
		return aws.Config{}, err
	}
	k, err := iamkeys.Load(ks, name)
	if err != nil {
		if errors.Is(err, iamkeys.ErrNoKeys) {
			return aws.Config{}, usageError{fmt.Errorf("repository %q uses credentials = \"keychain\": %w", name, err)}
		}
		return aws.Config{}, err
	}
	return staticAWSConfig(ctx, k, rc.Region)
}
