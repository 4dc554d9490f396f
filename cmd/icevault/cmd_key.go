package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/keystore"
	"github.com/icevault/icevault/internal/repo"
)

func newKeyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage the repository's keys and recovery kit"}
	var out string
	export := &cobra.Command{
		Use:   "export",
		Short: "Print the recovery kit: the keys and where the repository is",
		Long: `Print the recovery kit: everything needed, with the bucket, to read the backups
from a new machine (icevault recover --kit FILE). Anyone holding it and read
access to the bucket can read every backup: print it, keep it offline, and do not
store it in the cloud next to the backups. --out writes it to a file (mode 0600)
instead of the terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := a.openRepo(ctx, "key export", false)
			if err != nil {
				return err
			}
			defer h.Close()
			ks, err := a.openKeys()
			if err != nil {
				return err
			}
			r, err := repo.Open(ctx, h.cat, ks)
			if err != nil {
				return err
			}
			sec, err := ks.Load(r.Config.ID)
			if err != nil {
				return err
			}
			kit, err := keystore.FormatKit(keystore.Kit{RepoID: r.Config.ID, Bucket: r.Bucket, Prefix: r.Layout.Root,
				Region: h.cfg.Region, Identity: sec.Identity, BlobIDKey: sec.BlobIDKey, Created: r.Config.Created})
			if err != nil {
				return err
			}
			if prev, err := h.cat.Setting(ctx, "kit.exported"); err == nil {
				fmt.Fprintf(a.stderr, "icevault: note: the kit was exported before, on %s; it has not changed.\n", prev)
			}
			if out != "" {
				if err := os.WriteFile(out, []byte(kit), 0o600); err != nil {
					return fmt.Errorf("writing the kit: %w", err)
				}
				fmt.Fprintf(a.stderr, "Recovery kit written to %s (mode 0600). Print it and keep it offline.\n", out)
			} else {
				fmt.Fprint(a.stdout, kit)
			}
			return h.cat.SetSetting(ctx, "kit.exported", []byte(time.Now().Format(time.DateTime)))
		},
	}
	export.Flags().StringVar(&out, "out", "", "write the kit to this file instead of standard output")
	cmd.AddCommand(export)
	return cmd
}
