package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/icevault/icevault/internal/agent"
	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/restore"
	"github.com/icevault/icevault/internal/scan"
)

// agentRunner is the agent's Runner on the real engines: every run opens
// the repository as the CLI would (writer lock included), so the agent and
// a CLI command never write at once.
type agentRunner struct{ a *app }

var _ agent.Runner = agentRunner{}

// Credentials resolves the repository's credentials the way a backup
// would. For an SSO profile that reads the token cache (the SDK refreshes
// an expired access token with the refresh token, as on every call); it
// never logs in.
func (r agentRunner) Credentials(ctx context.Context, name string) error {
	f, err := r.a.loadConfig()
	if err != nil {
		return err
	}
	_, rc, err := f.Repo(name)
	if err != nil {
		return err
	}
	cfg, err := r.a.awsConfig(ctx, rc)
	if err != nil {
		return err
	}
	if cfg.Credentials == nil {
		return errors.New("no AWS credentials configured")
	}
	_, err = cfg.Credentials.Retrieve(ctx)
	return err
}

func (r agentRunner) LastBackup(ctx context.Context, name string) (time.Time, error) {
	h, err := r.a.openRepoNamed(ctx, name, "agent", false)
	if err != nil {
		return time.Time{}, err
	}
	defer h.Close()
	snaps, err := h.cat.Snapshots(ctx)
	var last time.Time
	for _, s := range snaps {
		if s.Time.After(last) {
			last = s.Time
		}
	}
	return last, err
}

func (r agentRunner) Backup(ctx context.Context, name string, progress func(agent.Progress)) (agent.Result, error) {
	h, err := r.a.openRepoNamed(ctx, name, "agent backup", true)
	if err != nil {
		return agent.Result{}, err
	}
	defer h.Close()
	paths, err := sourcePaths(h, nil)
	if err != nil {
		return agent.Result{}, err
	}
	var (
		mu          sync.Mutex
		totalBytes  int64
		lastPercent = -1
	)
	events := func(ev backup.Event) {
		if ev.Kind != backup.EventProgress {
			return
		}
		mu.Lock()
		p := agent.Progress{Percent: -1, Files: ev.Progress.Files, Bytes: ev.Progress.BytesDone}
		if totalBytes > 0 {
			p.Percent = int(min(100, ev.Progress.BytesDone*100/totalBytes))
		}
		report := p.Percent != lastPercent
		lastPercent = p.Percent
		mu.Unlock()
		if report {
			progress(p)
		}
	}
	totals := func(_, bytes int64) {
		mu.Lock()
		totalBytes = bytes
		mu.Unlock()
	}
	sum, err := r.a.backupRepo(ctx, h, backup.Options{Paths: paths,
		Scan: scan.Options{Excludes: h.cfg.Excludes, IgnoreFileName: ".icevaultignore"}}, true, totals, events)
	if err != nil {
		return agent.Result{}, err
	}
	detail, err := json.Marshal(sum)
	if err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Snapshot: sum.SnapshotID, Summary: summaryLine(sum), Partial: sum.Partial(), Detail: detail}, nil
}

// summaryLine is a backup's summary in one line, for notifications.
func summaryLine(s backup.Summary) string {
	if s.Unchanged {
		return fmt.Sprintf("Nothing changed (%d files checked).", s.FilesUnchanged)
	}
	return fmt.Sprintf("%d new, %d changed files; %s uploaded in %d packs; +%s per month.",
		s.FilesNew, s.FilesChanged, bytesize(s.BytesUploaded), s.Packs, cost.Dollars(s.MonthlyCost))
}

// Restores advances every active restore job of the repository one step.
func (r agentRunner) Restores(ctx context.Context, name string) ([]agent.Job, error) {
	h, err := r.a.openRepoNamed(ctx, name, "agent restore", false)
	if err != nil {
		return nil, err
	}
	jobs, err := h.cat.Jobs(ctx, true)
	h.Close()
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	h, err = r.a.openRepoNamed(ctx, name, "agent restore", true)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	st, err := r.a.openStore(ctx, h)
	if err != nil {
		return nil, err
	}
	keys, err := r.a.restoreKeys(ctx, h)
	if err != nil {
		return nil, err
	}
	o := r.a.restoreOptions()
	var out []agent.Job
	var errs []error
	for _, j := range jobs {
		pr, err := restore.Step(ctx, h.cat, st, j.ID, h.spool(), keys, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("restore job %d: %w", j.ID, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		s := pr.Status
		label := jobLabel(j.Paths, j.Target)
		if restore.ThawOnly(j) {
			label = fmt.Sprintf("thaw of %d data packs (recover --all-data)", s.Pending+s.Thawing+s.Ready+s.Downloaded)
		}
		out = append(out, agent.Job{ID: j.ID, Label: label, Pending: s.Pending, Thawing: s.Thawing,
			Ready: s.Ready, Downloaded: s.Downloaded, Files: s.Files, FilesRestored: s.FilesRestored, ETA: s.ETA, Done: pr.Done})
	}
	return out, errors.Join(errs...)
}

func jobLabel(paths []string, target string) string {
	what := "everything"
	if len(paths) > 0 {
		what = strings.Join(paths, ", ")
		if len(what) > 60 {
			what = what[:57] + "…"
		}
	}
	return what + " → " + target
}
