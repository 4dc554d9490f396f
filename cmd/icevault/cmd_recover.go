package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/keystore"
	"github.com/icevault/icevault/internal/recovery"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/restore"
	"github.com/icevault/icevault/internal/store/s3store"
)

// A recovery's job lives in its own small database beside the catalog it
// rebuilds (which must start empty), and is removed when it is done.
const recoverDB = "recover.db"

// recoverState is what `recover resume` needs besides the secrets.
type recoverState struct {
	Kit    keystore.Kit // secrets cleared: they are in the keystore
	Layout repo.Layout
	Job    int64
}

func newRecoverCmd(a *app) *cobra.Command {
	var (
		kitFile, bucket, prefix, region, endpoint, tier string
		allData, yes                                    bool
		days                                            int
	)
	cmd := &cobra.Command{
		Use:   "recover --kit FILE [--bucket B] [--prefix P]",
		Short: "Rebuild this machine's catalog from the bucket and the recovery kit (disaster recovery)",
		Long: `On a new machine with only the bucket and the recovery kit: list the repository,
thaw its config object and metadata packs — one round, however many data packs
there are — and, when they are ready ('icevault recover resume'), rebuild the
catalog from them. Then snapshots, ls and restore work as on the original machine.
--all-data also thaws every data pack in the same round, so that a full restore
afterwards needs no second wait.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			text, err := os.ReadFile(kitFile)
			if err != nil {
				return usageError{fmt.Errorf("reading the recovery kit: %w", err)}
			}
			kit, err := keystore.ParseKit(string(text))
			if err != nil {
				return usageError{err}
			}
			if bucket == "" {
				bucket = kit.Bucket
			}
			if prefix == "" {
				prefix = kit.Prefix
			}
			if region == "" {
				region = kit.Region
			}
			t, err := parseTier(tier)
			if err != nil {
				return usageError{err}
			}
			root := strings.TrimSuffix(prefix, "/")
			name := root[strings.LastIndex(root, "/")+1:]
			if a.repo == "" {
				a.repo = name
			}
			layout := repo.Layout{Root: root + "/"}
			rc := config.Repository{Bucket: bucket, Prefix: strings.TrimSuffix(root, name), Region: region, Endpoint: endpoint, Credentials: config.CredentialsProfile}
			if err := a.addRepoConfig(a.repo, rc); err != nil {
				return err
			}
			h, err := a.openRepo(ctx, "recover", true)
			if err != nil {
				return err
			}
			defer h.Close()
			if st, err := h.cat.Stats(ctx); err != nil || !st.Empty() {
				return usageError{fmt.Errorf("this machine already has a catalog for repository %q (%s): recover into another name with --repo", a.repo, h.cat.Path())}
			}
			st, err := a.openStore(ctx, h)
			if err != nil {
				return err
			}
			listing, err := recovery.Objects(ctx, st, layout)
			if err != nil {
				return err
			}
			// The config and metadata are downloaded; with --all-data the data
			// packs are thawed in the same round, for the restore that follows.
			thaw := listing.Thaw(false)
			var plan restore.Plan
			for _, o := range listing.Thaw(allData) {
				plan.Packs = append(plan.Packs, restore.PackRef{Key: o.Key, Size: o.Size})
			}
			plan.PackBytes = recovery.Bytes(listing.Thaw(allData))
			prices, err := cost.Load()
			if err != nil {
				return usageError{err}
			}
			q := restore.QuoteFor(&plan, t, days, prices, time.Now())
			a.printf("Repository %s at s3://%s/%s: %d metadata objects (%s) to thaw", kit.RepoID, bucket, layout.Root, len(thaw), bytesize(recovery.Bytes(thaw)))
			if allData {
				a.printf(", and %d data packs (%s)", len(listing.Data), bytesize(recovery.Bytes(listing.Data)))
			}
			a.printf(".\nReady by %s; cost %s (%s tier).\n", q.Chosen.ReadyBy.Local().Format("Mon 2 Jan 15:04"), cost.Dollars(q.Chosen.Total), strings.ToLower(string(t)))
			if !yes {
				ok, err := a.confirm("Start the recovery?")
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("recovery not started; nothing was requested")
				}
			}
			// The secrets go into this machine's keystore now; the kit file
			// is not needed again.
			ks, err := a.openKeys()
			if err != nil {
				return err
			}
			if err := ks.Save(kit.RepoID, kit.Secrets()); err != nil && !errors.Is(err, keystore.ErrExists) {
				return err
			}
			jc, err := catalog.Open(ctx, filepath.Join(h.dir, recoverDB))
			if err != nil {
				return err
			}
			defer jc.Close()
			var objs []catalog.JobObject
			for _, o := range thaw {
				objs = append(objs, catalog.JobObject{Key: o.Key, Size: o.Size})
			}
			o := a.restoreOptions()
			id, err := jc.CreateJob(ctx, catalog.Job{Kind: "recover", Tier: string(t), Days: days, Created: time.Now()}, objs)
			if err != nil {
				return err
			}
			public := kit
			public.Identity, public.BlobIDKey = "", [32]byte{}
			state, _ := json.Marshal(recoverState{Kit: public, Layout: layout, Job: id})
			if err := jc.SetSetting(ctx, "recover.state", state); err != nil {
				return err
			}
			if err := restore.RequestPending(ctx, jc, st, id, o); err != nil {
				return err
			}
			if allData {
				for _, d := range listing.Data {
					if _, err := st.RequestRestore(ctx, d.Key, days, t); err != nil {
						return fmt.Errorf("requesting the thaw of %s: %w", d.Key, err)
					}
				}
			}
			a.printf("Recovery started. When the thaw is done, run `icevault recover resume --repo %s` to rebuild the catalog.\n", a.repo)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kitFile, "kit", "", "the recovery kit (from `icevault key export`)")
	f.StringVar(&bucket, "bucket", "", "bucket (default: the kit's)")
	f.StringVar(&prefix, "prefix", "", "repository root in the bucket (default: the kit's)")
	f.StringVar(&region, "region", "", "bucket region (default: the kit's)")
	f.StringVar(&endpoint, "endpoint", "", "S3 endpoint (the simulator or tests; default AWS)")
	f.StringVar(&tier, "tier", "standard", "thaw tier: standard (≤ 12 h) or bulk (≤ 48 h)")
	f.IntVar(&days, "days", 7, "days to keep the thawed copies")
	f.BoolVar(&allData, "all-data", false, "also thaw every data pack, for a full restore after a single wait")
	f.BoolVarP(&yes, "yes", "y", false, "start without asking")
	_ = cmd.MarkFlagRequired("kit")
	cmd.AddCommand(newRecoverResumeCmd(a))
	return cmd
}

func newRecoverResumeCmd(a *app) *cobra.Command {
	var wait bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "Download the thawed metadata and rebuild the catalog",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := a.openRepo(ctx, "recover resume", true)
			if err != nil {
				return err
			}
			defer h.Close()
			jpath := filepath.Join(h.dir, recoverDB)
			if _, err := os.Stat(jpath); err != nil {
				return usageError{fmt.Errorf("no recovery under way for repository %q (start one with `icevault recover --kit FILE`)", h.name)}
			}
			jc, err := catalog.Open(ctx, jpath)
			if err != nil {
				return err
			}
			defer jc.Close()
			b, err := jc.Setting(ctx, "recover.state")
			if err != nil {
				return err
			}
			var rs recoverState
			if err := json.Unmarshal(b, &rs); err != nil {
				return err
			}
			st, err := a.openStore(ctx, h)
			if err != nil {
				return err
			}
			o := a.restoreOptions()
			dir := restore.JobDir(h.spool(), rs.Job)
			for {
				s, err := restore.Refresh(ctx, jc, st, rs.Job, o)
				if err == nil {
					err = restore.Download(ctx, jc, st, rs.Job, dir, o)
				}
				if err != nil {
					return err
				}
				objs, err := jc.JobObjects(ctx, rs.Job)
				if err != nil {
					return err
				}
				done := 0
				for _, obj := range objs {
					if obj.State == catalog.ObjDownloaded {
						done++
					}
				}
				if done == len(objs) {
					return a.rebuild(ctx, h, st, rs, objs, jpath, dir)
				}
				a.printf("Recovery: %d of %d metadata objects downloaded, %d thawing", done, len(objs), s.Thawing+s.Pending)
				if !s.ETA.IsZero() {
					a.printf(", expected by %s", s.ETA.Local().Format("Mon 2 Jan 15:04"))
				}
				a.printf(".\n")
				if !wait {
					return errNotReady
				}
				if err := o.Clock.Sleep(ctx, every); err != nil {
					return err
				}
			}
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "keep running until the catalog is rebuilt")
	cmd.Flags().DurationVar(&every, "poll", 15*time.Minute, "with --wait: how often to check the thaw")
	return cmd
}

func (a *app) rebuild(ctx context.Context, h *repoHandle, st *s3store.Store, rs recoverState, objs []catalog.JobObject, jpath, dir string) error {
	ks, err := a.openKeys()
	if err != nil {
		return err
	}
	sec, err := ks.Load(rs.Kit.RepoID)
	if err != nil {
		return err
	}
	kit := rs.Kit
	kit.Identity, kit.BlobIDKey = sec.Identity, sec.BlobIDKey
	listing, err := recovery.Objects(ctx, st, rs.Layout)
	if err != nil {
		return err
	}
	local := map[string]string{}
	for _, o := range objs {
		local[o.Key] = o.Path
	}
	in := recovery.Input{Layout: rs.Layout, Bucket: h.cfg.Bucket, Config: recovery.FileOf(listing.Config, local[listing.Config.Key])}
	for _, m := range listing.Meta {
		if local[m.Key] == "" {
			return fmt.Errorf("metadata object %s appeared after the recovery started: run `icevault recover` again", m.Key)
		}
		in.Meta = append(in.Meta, recovery.FileOf(m, local[m.Key]))
	}
	for _, d := range listing.Data {
		in.Data = append(in.Data, recovery.FileOf(d, ""))
	}
	res, err := recovery.Rebuild(ctx, h.cat, kit, in)
	if err != nil {
		return err
	}
	os.RemoveAll(dir)
	os.Remove(jpath)
	os.Remove(jpath + "-wal")
	os.Remove(jpath + "-shm")
	if a.json {
		return a.emitJSON(map[string]any{"event": "recovered", "result": res})
	}
	a.printf("Catalog rebuilt: repository %s, %d snapshots, %d data packs, %d blobs, %d trees.\n", res.RepoID, res.Snapshots, res.DataPacks, res.Blobs, res.Trees)
	if len(res.Unindexed) > 0 {
		a.printf("Note: %d data packs are referenced by no snapshot (left by a backup that stopped early).\n", len(res.Unindexed))
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	a.printf("Next: `icevault snapshots`, `icevault ls latest`, `icevault restore latest --to DIR`.\n")
	return nil
}

// addRepoConfig adds a repository to the config file unless it is there.
func (a *app) addRepoConfig(name string, rc config.Repository) error {
	path, f, err := a.configForEdit()
	if err != nil {
		return err
	}
	if old, ok := f.Repositories[name]; ok {
		if old.Bucket != rc.Bucket || old.Prefix != rc.Prefix {
			return usageError{fmt.Errorf("repository %q in %s points elsewhere (s3://%s/%s): choose another name with --repo", name, path, old.Bucket, old.Prefix)}
		}
		return nil
	}
	f.Repositories[name] = &rc
	if len(f.Repositories) == 1 {
		f.Default = name
	}
	if err := config.Save(path, f); err != nil {
		return err
	}
	a.printf("Added repository %q to %s\n", name, path)
	return nil
}
