package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/browse"
	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/dashboard"
	"github.com/icevault/icevault/internal/lock"
	"github.com/icevault/icevault/internal/restore"
	"github.com/icevault/icevault/internal/store"
)

// dashboardBackend serves the dashboard from the catalogs, as the CLI's
// read commands do, and starts restores as `icevault restore --yes` does.
// It opens a repository per request and closes it after: the catalog is
// SQLite in WAL mode, so reads run beside a backup, and a restore start
// takes the writer lock only for the moment it needs it.
type dashboardBackend struct {
	a        *app
	overview func(context.Context) (dashboard.Overview, error)
}

// newDashboardBackend returns the dashboard's backend over a's config.
// overview is the agent's status; nil reports each repository's last
// backup from its catalog, with no agent.
func newDashboardBackend(a *app, overview func(context.Context) (dashboard.Overview, error)) dashboard.Backend {
	b := &dashboardBackend{a: a, overview: overview}
	if b.overview == nil {
		b.overview = b.catalogOverview
	}
	return b
}

// open opens the named repository ("" = the default).
func (b *dashboardBackend) open(ctx context.Context, repo, command string, write bool) (*repoHandle, error) {
	c := *b.a
	c.repo = repo
	h, err := c.openRepo(ctx, command, write)
	return h, dashboardError(err)
}

// dashboardError sorts an error into what the dashboard tells apart, so it
// can say what to do; the message stays.
func dashboardError(err error) error {
	var ue usageError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, lock.ErrLocked):
		return fmt.Errorf("%w: %w", dashboard.ErrBusy, err)
	case errors.Is(err, restore.ErrConflict):
		return fmt.Errorf("%w: %w", dashboard.ErrConflict, err)
	case store.KindOf(err) == store.KindLoginRequired || auth.IsLoginRequired(err):
		return fmt.Errorf("%w: %w", dashboard.ErrLoginRequired, err)
	case errors.Is(err, catalog.ErrNotFound), errors.Is(err, config.ErrNoConfig):
		return fmt.Errorf("%w: %w", dashboard.ErrNotFound, err)
	case errors.As(err, &ue):
		return fmt.Errorf("%w: %w", dashboard.ErrInvalid, err)
	}
	return err
}

// Overview is the agent's status; a repository the agent has not backed up
// since it started shows its newest snapshot from the catalog.
func (b *dashboardBackend) Overview(ctx context.Context) (dashboard.Overview, error) {
	ov, err := b.overview(ctx)
	if err != nil {
		return ov, err
	}
	for i, r := range ov.Repos {
		if r.LastResult != "" || r.LastBackup.IsZero() {
			continue
		}
		if snap, err := b.latest(ctx, r.Name); err == nil && snap != nil {
			ov.Repos[i].LastOK, ov.Repos[i].LastResult = true, snapshotSummary(*snap)
		}
	}
	return ov, nil
}

// catalogOverview is the overview without an agent: each repository's
// last backup, nothing running, nothing scheduled.
func (b *dashboardBackend) catalogOverview(ctx context.Context) (dashboard.Overview, error) {
	ov := dashboard.Overview{State: dashboard.StateIdle,
		Credentials: dashboard.Credentials{Summary: "The agent checks them before each backup. To check now, run “icevault auth status” in a terminal."}}
	names, err := b.Repos(ctx)
	if err != nil {
		return ov, err
	}
	for _, name := range names {
		rs := dashboard.RepoStatus{Name: name}
		if snap, err := b.latest(ctx, name); err != nil {
			rs.LastResult = err.Error()
		} else if snap != nil {
			rs.LastBackup, rs.LastOK, rs.LastResult = snap.Time, true, snapshotSummary(*snap)
		}
		ov.Repos = append(ov.Repos, rs)
	}
	return ov, nil
}

func (b *dashboardBackend) latest(ctx context.Context, repo string) (*catalog.Snapshot, error) {
	h, err := b.open(ctx, repo, "dashboard", false)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	snaps, err := h.cat.Snapshots(ctx)
	if err != nil || len(snaps) == 0 {
		return nil, err
	}
	return &snaps[len(snaps)-1], nil
}

func snapshotSummary(s catalog.Snapshot) string {
	var sum backup.Summary
	if json.Unmarshal(s.Summary, &sum) != nil {
		return ""
	}
	return fmt.Sprintf("%d files, %d new or changed, %s uploaded", sum.FilesNew+sum.FilesChanged+sum.FilesUnchanged,
		sum.FilesNew+sum.FilesChanged, bytesize(sum.BytesUploaded))
}

// Repos names the configured repositories, the default first, then by name.
func (b *dashboardBackend) Repos(ctx context.Context) ([]string, error) {
	f, err := b.a.loadConfig()
	if err != nil {
		return nil, dashboardError(err)
	}
	return f.Names(), nil
}

func dashboardSnapshot(s catalog.Snapshot) dashboard.Snapshot {
	d := dashboard.Snapshot{ID: s.ID, Time: s.Time, Host: s.Host, Paths: s.Paths, Tags: s.Tags}
	var sum backup.Summary
	if json.Unmarshal(s.Summary, &sum) == nil {
		d.Files = sum.FilesNew + sum.FilesChanged + sum.FilesUnchanged
		d.Bytes = sum.BytesRead
	}
	return d
}

func (b *dashboardBackend) Snapshots(ctx context.Context, repo string) ([]dashboard.Snapshot, error) {
	h, err := b.open(ctx, repo, "dashboard", false)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	snaps, err := h.cat.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dashboard.Snapshot, 0, len(snaps))
	for i := len(snaps) - 1; i >= 0; i-- {
		out = append(out, dashboardSnapshot(snaps[i]))
	}
	return out, nil
}

func (b *dashboardBackend) List(ctx context.Context, repo, snapshot, dir string) (dashboard.Listing, error) {
	h, err := b.open(ctx, repo, "dashboard", false)
	if err != nil {
		return dashboard.Listing{}, err
	}
	defer h.Close()
	snap, err := h.cat.FindSnapshot(ctx, snapshot)
	if err != nil {
		return dashboard.Listing{}, dashboardError(err)
	}
	l := dashboard.Listing{Snapshot: dashboardSnapshot(snap), Dir: dir}
	err = browse.List(ctx, h.cat, snap.Root, dir, false, func(e browse.Entry) error {
		if e.Path == dir && dir != "/" {
			return fmt.Errorf("%w: %s is a file, not a folder", dashboard.ErrInvalid, dir)
		}
		name := path.Base(e.Path)
		if dir == "/" {
			name = e.Path // the backed-up folders, by their full path
		}
		l.Entries = append(l.Entries, dashboard.Entry{Name: name, Path: e.Path, Type: e.Type, Size: e.Size, MTime: e.MTime, Target: e.Target})
		return nil
	})
	if err != nil && !errors.Is(err, dashboard.ErrInvalid) {
		err = fmt.Errorf("%w: %w", dashboard.ErrNotFound, err)
	}
	// Folders first, then by name, as file browsers show them.
	sort.SliceStable(l.Entries, func(i, j int) bool {
		if di, dj := l.Entries[i].Type == "dir", l.Entries[j].Type == "dir"; di != dj {
			return di
		}
		return l.Entries[i].Name < l.Entries[j].Name
	})
	return l, err
}

func (b *dashboardBackend) Quote(ctx context.Context, repo string, r dashboard.RestoreRequest) (dashboard.Quote, error) {
	t, err := checkRestore(r.Tier, r.Days)
	if err != nil {
		return dashboard.Quote{}, dashboardError(err)
	}
	h, err := b.open(ctx, repo, "dashboard", false)
	if err != nil {
		return dashboard.Quote{}, err
	}
	defer h.Close()
	_, _, q, err := planRestore(ctx, h, r.Snapshot, r.Paths, t, r.Days)
	if err != nil {
		return dashboard.Quote{}, dashboardError(err)
	}
	return dashboardQuote(q), nil
}

func dashboardQuote(q restore.Quote) dashboard.Quote {
	d := dashboard.Quote{Files: q.Files, FileBytes: q.FileBytes, Packs: q.Packs, PackBytes: q.PackBytes, Days: q.Days, Note: q.Egress}
	for _, t := range q.Tiers {
		d.Tiers = append(d.Tiers, dashboard.TierQuote{Tier: strings.ToLower(string(t.Tier)), ReadyBy: t.ReadyBy, Requests: t.RequestCost,
			Retrieval: t.RetrievalCost, Copy: t.CopyCost, Download: t.GetCost + t.EgressCost, Total: t.Total})
	}
	return d
}

// StartRestore is `icevault restore SNAPSHOT PATH... --to TARGET --tier T
// --days D --yes`: the writer lock, the same plan and quote, the same
// start. It never replaces existing files.
func (b *dashboardBackend) StartRestore(ctx context.Context, repo string, r dashboard.RestoreRequest) (int64, error) {
	t, err := checkRestore(r.Tier, r.Days)
	if err != nil {
		return 0, dashboardError(err)
	}
	target, err := expandHome(r.Target)
	if err != nil {
		return 0, dashboardError(err)
	}
	h, err := b.open(ctx, repo, "restore (dashboard)", true)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	_, plan, q, err := planRestore(ctx, h, r.Snapshot, r.Paths, t, r.Days)
	if err != nil {
		return 0, dashboardError(err)
	}
	id, _, err := b.a.startRestore(ctx, h, plan, q, target, t, r.Days, false)
	return id, dashboardError(err)
}

func (b *dashboardBackend) Jobs(ctx context.Context, repo string) ([]dashboard.Job, error) {
	h, err := b.open(ctx, repo, "dashboard", false)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	jobs, err := h.cat.Jobs(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []dashboard.Job
	for _, j := range jobs {
		if j.Kind != "restore" {
			continue // a catalog recovery is not something to follow here
		}
		s, err := restore.JobStatus(ctx, h.cat, j.ID, restore.Options{})
		if err != nil {
			return nil, err
		}
		var q restore.Quote
		_ = json.Unmarshal(j.Quote, &q) // an old job without a quote shows no totals
		d := dashboard.Job{ID: j.ID, State: j.State, Snapshot: j.Snapshot, Paths: j.Paths, Target: j.Target, Tier: strings.ToLower(j.Tier),
			Days: j.Days, Created: j.Created, Finished: j.Finished,
			Pending: s.Pending, Thawing: s.Thawing, Ready: s.Ready, Downloaded: s.Downloaded,
			Bytes: q.PackBytes, BytesLocal: s.BytesLocal, Files: q.Files, FilesRestored: s.FilesRestored, ETA: s.ETA}
		if all := s.BytesThawing + s.BytesReady + s.BytesLocal; d.Bytes < all {
			d.Bytes = all
		}
		if len(d.Paths) == 0 {
			d.Paths = []string{"everything"}
		}
		out = append(out, d)
	}
	return out, nil
}

// Usage replays the uploads: each pack counts from the backup that listed
// it (its snapshot's time), or from its upload while a backup is still
// running; the last point is now.
func (b *dashboardBackend) Usage(ctx context.Context, repo string) (dashboard.Usage, error) {
	prices, err := cost.Load()
	if err != nil {
		return dashboard.Usage{}, dashboardError(usageError{err})
	}
	h, err := b.open(ctx, repo, "dashboard", false)
	if err != nil {
		return dashboard.Usage{}, err
	}
	defer h.Close()
	snaps, err := h.cat.Snapshots(ctx)
	if err != nil {
		return dashboard.Usage{}, err
	}
	listedAt := map[string]time.Time{}
	for _, s := range snaps {
		for _, k := range s.MetaKeys {
			listedAt[k] = s.Time
		}
	}
	packs, err := h.cat.Packs(ctx, catalog.PackFilter{State: catalog.Uploaded})
	if err != nil {
		return dashboard.Usage{}, err
	}
	type upload struct {
		at   time.Time
		size int64
	}
	var ups []upload
	for _, p := range packs {
		at, ok := listedAt[p.IndexedBy]
		if !ok {
			at = p.Uploaded
		}
		ups = append(ups, upload{at, p.Size})
	}
	sort.Slice(ups, func(i, j int) bool { return ups[i].at.Before(ups[j].at) })
	u := dashboard.Usage{PricesAsOf: prices.AsOf}
	objects, bytes := int64(1), int64(0) // the config object
	for i, up := range ups {
		objects++
		bytes += up.size
		if i+1 < len(ups) && ups[i+1].at.Equal(up.at) {
			continue
		}
		u.Points = append(u.Points, dashboard.UsagePoint{Time: up.at, Objects: objects, Bytes: bytes, Monthly: prices.StorageMonth(objects, bytes)})
	}
	if len(u.Points) > 0 {
		u.Points = append(u.Points, dashboard.UsagePoint{Time: time.Now(), Objects: objects, Bytes: bytes, Monthly: prices.StorageMonth(objects, bytes)})
	}
	return u, nil
}
