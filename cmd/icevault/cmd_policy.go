package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/policy"
)

func newPolicyCmd(a *app) *cobra.Command {
	var (
		o       policy.Options
		explain bool
	)
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Print the least-privilege IAM policy for icevault",
		Long: `Prints the IAM policy that allows exactly the S3 calls icevault makes on one
bucket and prefix: list and read, upload only as DEEP_ARCHIVE, never delete.
Paste it as an IAM Identity Center permission-set inline policy, or attach it
to the IAM user whose keys icevault keeps in the keychain.

Without --bucket, the bucket and prefix come from the repository config
(--repo). The policy goes to stdout, so ` + "`icevault policy > policy.json`" + ` works;
--explain prints what each statement allows or denies, and why, instead.

  --restore      also allow RestoreObject (thawing archived data to restore it)
  --create-only  deny any upload without If-None-Match (nothing can be overwritten)
  --tls-only     deny every call on the bucket made over plain http
  --rotate-keys  let a static IAM user rotate its own access keys`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("bucket") {
				f, err := a.loadConfig()
				if errors.Is(err, config.ErrNoConfig) {
					return usageError{errors.New("--bucket is required (no repository is configured yet to take it from; `icevault setup` creates one)")}
				}
				if err != nil {
					return err
				}
				_, rc, err := f.Repo(a.repo)
				if err != nil {
					return usageError{fmt.Errorf("%w; or give --bucket", err)}
				}
				o.Bucket = rc.Bucket
				if !cmd.Flags().Changed("prefix") {
					o.Prefix = rc.Prefix
				}
			}
			// An empty prefix, given or configured, means the repository
			// lives at the bucket's root (the flag's default is not empty).
			o.WholeBucket = o.Prefix == ""
			d, err := policy.Generate(o)
			if err != nil {
				return usageError{err}
			}
			var out []byte
			switch {
			case explain:
				out = []byte(policy.Explain(d))
			case a.json:
				if out, err = d.Compact(); err == nil {
					out = append(out, '\n')
				}
			default:
				out, err = d.JSON()
			}
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Bucket, "bucket", "", "the bucket (default: the repository's, from the config)")
	f.StringVar(&o.Prefix, "prefix", policy.DefaultPrefix, `key prefix the policy confines icevault to ("" = the whole bucket; default: the repository's, or icevault/)`)
	f.BoolVar(&o.Restore, "restore", false, "also allow s3:RestoreObject, needed to restore archived data")
	f.BoolVar(&o.CreateOnly, "create-only", false, "deny uploads without If-None-Match, so no object can be overwritten")
	f.BoolVar(&o.TLSOnly, "tls-only", false, "deny every S3 call on the bucket made over plain http")
	f.BoolVar(&o.RotateKeys, "rotate-keys", false, "let a static IAM user create and delete its own access keys (icevault keys rotate)")
	f.BoolVar(&explain, "explain", false, "explain each statement in plain text instead of printing the JSON")
	return cmd
}
