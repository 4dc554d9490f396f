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
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
)

// A recovery's job lives in its own small database beside the catalog it
// rebuilds (which must start empty), and is removed when it is done.
const recoverDB = "recover.db"

// recoverState is what `recover resume` needs besides the secrets.
type recoverState struct {
	Kit    keystore.Kit // secrets cleared: they are in the keystore
	Layout repo.Layout
	Job    int64 // the metadata: thawed, downloaded, read by the rebuild
	// AllData: every data pack is thawed too, by a thaw-only job beside
	// Job (restore.StartThaw), which moves into the rebuilt catalog.
	AllData bool `json:",omitempty"`
}

// openRecovery opens the job database of a recovery under way, or returns
// nil if there is none.
func openRecovery(ctx context.Context, h *repoHandle) (*catalog.Catalog, error) {
	p := filepath.Join(h.dir, recoverDB)
	if _, err := os.Stat(p); err != nil {
		return nil, nil
	}
	return catalog.Open(ctx, p)
}

// thawJob finds a recovery's thaw-only job (0 if there is none).
func thawJob(ctx context.Context, jc *catalog.Catalog) (int64, error) {
	jobs, err := jc.Jobs(ctx, false)
	if err != nil {
		return 0, err
	}
	for _, j := range jobs {
		if restore.ThawOnly(j) {
			return j.ID, nil
		}
	}
	return 0, nil
}

// startDataThaw records the thaw of every data pack as a job of its own
// and requests them, at the pace of any restore.
func (a *app) startDataThaw(ctx context.Context, jc *catalog.Catalog, st restore.Store, data []store.ObjectInfo, t store.Tier, days int) (int64, error) {
	prices, err := cost.Load()
	if err != nil {
		return 0, usageError{err}
	}
	var plan restore.Plan
	for _, d := range data {
		plan.Packs = append(plan.Packs, restore.PackRef{Key: d.Key, Size: d.Size})
	}
	plan.PackBytes = recovery.Bytes(data)
	o := a.restoreOptions()
	return restore.StartThaw(ctx, jc, st, plan.Packs, restore.QuoteFor(&plan, t, days, prices, o.Clock.Now()), t, days, o)
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
			id, err := jc.CreateJob(ctx, catalog.Job{Kind: restore.KindRecover, Tier: string(t), Days: days, Created: o.Clock.Now()}, objs)
			if err != nil {
				return err
			}
			public := kit
			public.Identity, public.BlobIDKey = "", [32]byte{}
			state, _ := json.Marshal(recoverState{Kit: public, Layout: layout, Job: id, AllData: allData && len(listing.Data) > 0})
			if err := jc.SetSetting(ctx, "recover.state", state); err != nil {
				return err
			}
			// The metadata first: the catalog rebuild waits for it alone.
			if err := restore.RequestPending(ctx, jc, st, id, o); err != nil {
				return err
			}
			if allData && len(listing.Data) > 0 {
				// A job of their own, so that they are paced, recorded,
				// polled and asked for again like any restore's packs
				// (`recover resume`, `restore status`, and after the
				// rebuild the agent).
				if _, err := a.startDataThaw(ctx, jc, st, listing.Data, t, days); err != nil {
					return err
				}
			}
			a.printf("Recovery started. When the thaw is done, run `icevault recover resume --repo %s` to rebuild the catalog\n(`icevault restore status` shows the thaw).\n", a.repo)
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
			thaw, err := thawJob(ctx, jc)
			if err != nil {
				return err
			}
			if rs.AllData && thaw == 0 {
				// `recover --all-data` stopped before recording the data
				// packs' thaw: record and request it now.
				listing, err := recovery.Objects(ctx, st, rs.Layout)
				if err != nil {
					return err
				}
				j, err := jc.Job(ctx, rs.Job)
				if err != nil {
					return err
				}
				if thaw, err = a.startDataThaw(ctx, jc, st, listing.Data, store.Tier(j.Tier), j.Days); err != nil {
					return err
				}
			}
			for {
				s, err := restore.Refresh(ctx, jc, st, rs.Job, o)
				if err == nil {
					err = restore.Download(ctx, jc, st, rs.Job, dir, o)
				}
				if err != nil {
					return err
				}
				var tp restore.Progress
				if thaw != 0 {
					if tp, err = restore.Step(ctx, jc, st, thaw, h.spool(), restore.Keys{}, o); err != nil {
						return err
					}
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
					moved, err := a.rebuild(ctx, h, st, rs, objs, jc, thaw, jpath, dir)
					if err != nil || moved == 0 {
						return err
					}
					return a.followThaw(ctx, h, st, moved, wait, every)
				}
				a.printf("Recovery: %d of %d metadata objects downloaded, %d thawing", done, len(objs), s.Thawing+s.Pending)
				if !s.ETA.IsZero() {
					a.printf(", expected by %s", s.ETA.Local().Format("Mon 2 Jan 15:04"))
				}
				a.printf(".\n")
				if thaw != 0 {
					a.reportRestore(thaw, tp)
				}
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

// followThaw reports, after the rebuild, where recover --all-data's thaw
// stands (now a job of the rebuilt catalog), and with wait follows it
// until every data pack is thawed.
func (a *app) followThaw(ctx context.Context, h *repoHandle, st *s3store.Store, job int64, wait bool, every time.Duration) error {
	o := a.restoreOptions()
	report := func(pr restore.Progress) { a.reportRestore(job, pr) }
	var pr restore.Progress
	var err error
	if wait {
		pr, err = restore.Wait(ctx, h.cat, st, job, h.spool(), restore.Keys{}, every, o, report)
	} else if pr, err = restore.Step(ctx, h.cat, st, job, h.spool(), restore.Keys{}, o); err == nil {
		report(pr)
	}
	if err != nil {
		return err
	}
	if pr.Done {
		a.printf("Every data pack is thawed: `icevault restore latest --to DIR` needs no further wait while the copies last.\n")
	} else {
		a.printf("The data packs are still thawing: `icevault restore status` follows them (so does `icevault agent`).\n")
	}
	return nil
}

// rebuild fills the catalog from the downloaded metadata, moves the data
// packs' thaw job (if any) into it, and removes the recovery's own files.
// It returns the thaw job's ID in the rebuilt catalog (0 if none).
func (a *app) rebuild(ctx context.Context, h *repoHandle, st *s3store.Store, rs recoverState, objs []catalog.JobObject, jc *catalog.Catalog, thaw int64, jpath, dir string) (int64, error) {
	moved, err := a.rebuildCatalog(ctx, h, st, rs, objs, jc, thaw)
	if err != nil {
		return 0, err
	}
	jc.Close()
	os.RemoveAll(dir)
	os.Remove(jpath)
	os.Remove(jpath + "-wal")
	os.Remove(jpath + "-shm")
	return moved, nil
}

func (a *app) rebuildCatalog(ctx context.Context, h *repoHandle, st *s3store.Store, rs recoverState, objs []catalog.JobObject, jc *catalog.Catalog, thaw int64) (int64, error) {
	ks, err := a.openKeys()
	if err != nil {
		return 0, err
	}
	sec, err := ks.Load(rs.Kit.RepoID)
	if err != nil {
		return 0, err
	}
	kit := rs.Kit
	kit.Identity, kit.BlobIDKey = sec.Identity, sec.BlobIDKey
	listing, err := recovery.Objects(ctx, st, rs.Layout)
	if err != nil {
		return 0, err
	}
	local := map[string]string{}
	for _, o := range objs {
		local[o.Key] = o.Path
	}
	in := recovery.Input{Layout: rs.Layout, Bucket: h.cfg.Bucket, Config: recovery.FileOf(listing.Config, local[listing.Config.Key])}
	for _, m := range listing.Meta {
		if local[m.Key] == "" {
			return 0, fmt.Errorf("metadata object %s appeared after the recovery started: run `icevault recover` again", m.Key)
		}
		in.Meta = append(in.Meta, recovery.FileOf(m, local[m.Key]))
	}
	for _, d := range listing.Data {
		in.Data = append(in.Data, recovery.FileOf(d, ""))
	}
	res, err := recovery.Rebuild(ctx, h.cat, kit, in)
	if err != nil {
		return 0, err
	}
	var moved int64
	if thaw != 0 {
		// Not worth failing a finished rebuild for: a restore asks for
		// its packs again anyway, thawed or not.
		if moved, err = restore.CopyJob(ctx, jc, h.cat, thaw); err != nil {
			fmt.Fprintf(a.stderr, "warning: the data packs' thaw is no longer followed: %v\n", err)
			moved = 0
		}
	}
	if a.json {
		return moved, a.emitJSON(map[string]any{"event": "recovered", "result": res})
	}
	a.printf("Catalog rebuilt: repository %s, %d snapshots, %d data packs, %d blobs, %d trees.\n", res.RepoID, res.Snapshots, res.DataPacks, res.Blobs, res.Trees)
	if len(res.Unindexed) > 0 {
		a.printf("Note: %d data packs are referenced by no snapshot (left by a backup that stopped early).\n", len(res.Unindexed))
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	a.printf("Next: `icevault snapshots`, `icevault ls latest`, `icevault restore latest --to DIR`.\n")
	return moved, nil
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
