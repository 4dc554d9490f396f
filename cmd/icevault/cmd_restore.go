package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icevault/icevault/internal/catalog"
	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/keystore"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/restore"
	"github.com/icevault/icevault/internal/store"
	"github.com/icevault/icevault/internal/store/s3store"
)

// errNotReady is a restore that is still waiting for its thaw.
var errNotReady = errors.New("the restore is waiting for Deep Archive to thaw its packs")

func newRestoreCmd(a *app) *cobra.Command {
	var (
		target, tier string
		days         int
		yes, wait    bool
		overwrite    bool
		every        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT [PATH...] --to DIR",
		Short: "Restore files from a snapshot (plans, quotes, thaws, downloads, writes)",
		Long: `Restore files from a snapshot (an ID prefix or "latest"). icevault plans, from the
local catalog alone, the smallest set of packs that hold the files, shows what the
thaw costs and when it will be ready, asks to confirm (--yes for scripts), and
asks S3 to thaw the packs. Deep Archive takes up to 12 hours (standard) or 48 hours
(bulk). The job is recorded: 'icevault restore status' shows it, 'icevault restore
resume' (or --wait now) downloads and writes the files when they are ready, and it
survives restarts. Files are written under DIR with their full path; existing
files are never replaced unless --overwrite.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if target == "" {
				return usageError{errors.New("say where to restore with --to DIR (a new or empty folder is safest)")}
			}
			t, err := checkRestore(tier, days)
			if err != nil {
				return err
			}
			if target, err = expandHome(target); err != nil {
				return err
			}
			h, err := a.openRepo(ctx, "restore", true)
			if err != nil {
				return err
			}
			defer h.Close()
			var paths []string
			for _, p := range args[1:] {
				if !strings.HasPrefix(p, "/") {
					if p, err = expandHome(p); err != nil {
						return err
					}
				}
				paths = append(paths, filepath.Clean(p))
			}
			snap, plan, q, err := planRestore(ctx, h, args[0], paths, t, days)
			if err != nil {
				return err
			}
			if a.json {
				if err := a.emitJSON(map[string]any{"event": "quote", "snapshot": snap.ID, "target": target, "quote": q}); err != nil {
					return err
				}
			} else {
				printQuote(a, snap, paths, target, q)
			}
			if !yes {
				ok, err := a.confirm("Start this restore?")
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("restore not started; nothing was requested")
				}
			}
			id, st, err := a.startRestore(ctx, h, plan, q, target, t, days, overwrite)
			if err != nil {
				return err
			}
			if a.json {
				_ = a.emitJSON(map[string]any{"event": "started", "job": id})
			} else {
				a.printf("Restore job %d started: %d packs requested. Ready by about %s.\n", id, len(plan.Packs), q.Chosen.ReadyBy.Local().Format("Mon 2 Jan 15:04"))
			}
			if !wait {
				a.printf("Check with `icevault restore status %d`; when ready, `icevault restore resume %d` writes the files\n(or leave `icevault agent` running: it does both).\n", id, id)
				return nil
			}
			return a.runRestore(ctx, h, st, id, true, every)
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "to", "", "folder to restore into (files keep their full path below it)")
	f.StringVar(&tier, "tier", "bulk", "thaw tier: bulk (≤ 48 h, cheapest) or standard (≤ 12 h)")
	f.IntVar(&days, "days", 7, "days to keep the thawed copies (time to download them)")
	f.BoolVarP(&yes, "yes", "y", false, "start without asking")
	f.BoolVar(&wait, "wait", false, "keep running until the files are restored")
	f.BoolVar(&overwrite, "overwrite", false, "replace existing files")
	f.DurationVar(&every, "poll", 15*time.Minute, "with --wait: how often to check the thaw")
	cmd.AddCommand(newRestoreStatusCmd(a), newRestoreResumeCmd(a), newRestoreListCmd(a), newRestoreCancelCmd(a))
	return cmd
}

// checkRestore checks a restore's tier and days as the command line and
// the dashboard give them.
func checkRestore(tier string, days int) (store.Tier, error) {
	t, err := parseTier(tier)
	if err != nil {
		return "", usageError{err}
	}
	if days < 1 || days > 365 {
		return "", usageError{fmt.Errorf("--days %d: keep restored copies between 1 and 365 days (they are billed at S3 Standard meanwhile)", days)}
	}
	return t, nil
}

// planRestore finds the snapshot (an ID prefix or "latest"), plans the
// restore of paths in it (absolute; none = everything) and quotes it, from
// the catalog alone.
func planRestore(ctx context.Context, h *repoHandle, snapRef string, paths []string, t store.Tier, days int) (catalog.Snapshot, *restore.Plan, restore.Quote, error) {
	snap, err := h.cat.FindSnapshot(ctx, snapRef)
	if err != nil {
		return snap, nil, restore.Quote{}, err
	}
	plan, err := restore.MakePlan(ctx, h.cat, snap, paths)
	if err != nil {
		return snap, nil, restore.Quote{}, usageError{err}
	}
	prices, err := cost.Load()
	if err != nil {
		return snap, nil, restore.Quote{}, usageError{err}
	}
	return snap, plan, restore.QuoteFor(plan, t, days, prices, time.Now()), nil
}

// startRestore records the job and asks S3 to thaw its packs, on a
// repository opened for writing: what `icevault restore --yes` does once
// it has a plan, and what the dashboard's Start does.
func (a *app) startRestore(ctx context.Context, h *repoHandle, plan *restore.Plan, q restore.Quote, target string, t store.Tier, days int, overwrite bool) (int64, *s3store.Store, error) {
	if h.lock == nil {
		return 0, nil, errors.New("starting a restore needs the repository's writer lock")
	}
	st, err := a.openStore(ctx, h)
	if err != nil {
		return 0, nil, err
	}
	id, err := restore.Start(ctx, h.cat, st, plan, q, target, t, days, overwrite, a.restoreOptions())
	return id, st, err
}

func (a *app) restoreOptions() restore.Options {
	return restore.Options{Clock: clock.Real{}, Events: func(ev restore.Event) {
		if a.json {
			_ = a.emitJSON(map[string]any{"event": restoreEventName(ev.Kind), "job": ev.Job, "key": ev.Key, "path": ev.Path,
				"bytes": ev.Size, "reason": ev.Reason})
			return
		}
		switch ev.Kind {
		case restore.EventRerequested:
			fmt.Fprintf(a.stderr, "note: asked again for %s: %s\n", ev.Key, ev.Reason)
		case restore.EventRestored:
			if a.verbose > 0 {
				fmt.Fprintf(a.stderr, "restored %s\n", ev.Path)
			}
		}
	}}
}

func restoreEventName(k restore.EventKind) string {
	return map[restore.EventKind]string{restore.EventRequested: "requested", restore.EventReady: "ready",
		restore.EventRerequested: "rerequested", restore.EventDownloaded: "downloaded", restore.EventRestored: "restored",
		restore.EventDone: "done"}[k]
}

func printQuote(a *app, snap catalog.Snapshot, paths []string, target string, q restore.Quote) {
	what := "everything"
	if len(paths) > 0 {
		what = strings.Join(paths, ", ")
	}
	a.printf("Restore from snapshot %s (%s): %s\n", short(snap.ID), snap.Time.Local().Format("2006-01-02 15:04"), what)
	a.printf("  into      %s\n", target)
	a.printf("  files     %d, %s\n", q.Files, bytesize(q.FileBytes))
	a.printf("  to thaw   %d packs, %s (Deep Archive thaws whole packs)\n\n", q.Packs, bytesize(q.PackBytes))
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tstandard (≤ 12 h)\tbulk (≤ 48 h)\t")
	row := func(name string, f func(restore.TierQuote) string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, f(q.Tiers[0]), f(q.Tiers[1]))
	}
	row("ready by", func(t restore.TierQuote) string { return t.ReadyBy.Local().Format("Mon 2 Jan 15:04") })
	row("restore requests", func(t restore.TierQuote) string { return cost.Dollars(t.RequestCost) })
	row("retrieval", func(t restore.TierQuote) string { return cost.Dollars(t.RetrievalCost) })
	row(fmt.Sprintf("copy kept %d days", q.Days), func(t restore.TierQuote) string { return cost.Dollars(t.CopyCost) })
	row("downloads + egress", func(t restore.TierQuote) string { return cost.Dollars(t.GetCost + t.EgressCost) })
	row("total", func(t restore.TierQuote) string { return cost.Dollars(t.Total) })
	tw.Flush()
	a.printf("\nChosen: %s tier, %s. (%s.)\n", strings.ToLower(string(q.Chosen.Tier)), cost.Dollars(q.Chosen.Total), q.Egress)
}

// confirm asks a yes/no question on the terminal; without one it refuses
// rather than guess.
func (a *app) confirm(question string) (bool, error) {
	if f, ok := a.stdin.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return false, usageError{errors.New("not asking without a terminal: add --yes to start it")}
	}
	fmt.Fprintf(a.stderr, "%s [y/N] ", question)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes", nil
}

// restoreKeys loads what assembly needs: the identity (restores are the
// one time icevault needs it) and the blob-ID key.
func (a *app) restoreKeys(ctx context.Context, h *repoHandle) (restore.Keys, error) {
	ks, err := a.openKeys()
	if err != nil {
		return restore.Keys{}, err
	}
	r, err := repo.Open(ctx, h.cat, ks)
	if err != nil {
		return restore.Keys{}, err
	}
	sec, err := ks.Load(r.Config.ID)
	if err != nil {
		return restore.Keys{}, err
	}
	id, err := keystore.ParseIdentity(sec.Identity)
	if err != nil {
		return restore.Keys{}, err
	}
	return restore.Keys{Identities: []age.Identity{id}, IDKey: r.IDKey}, nil
}

func (a *app) runRestore(ctx context.Context, h *repoHandle, st restore.Store, job int64, wait bool, every time.Duration) error {
	keys, err := a.restoreKeys(ctx, h)
	if err != nil {
		return err
	}
	o := a.restoreOptions()
	report := func(pr restore.Progress) { a.reportRestore(job, pr) }
	var pr restore.Progress
	if wait {
		pr, err = restore.Wait(ctx, h.cat, st, job, h.spool(), keys, every, o, report)
	} else {
		pr, err = restore.Step(ctx, h.cat, st, job, h.spool(), keys, o)
		if err == nil {
			report(pr)
		}
	}
	if err != nil {
		return err
	}
	if !pr.Done {
		return errNotReady
	}
	return nil
}

func (a *app) reportRestore(job int64, pr restore.Progress) {
	s := pr.Status
	if a.json {
		_ = a.emitJSON(map[string]any{"event": "status", "job": job, "done": pr.Done, "thawing": s.Thawing, "ready": s.Ready,
			"downloaded": s.Downloaded, "pending": s.Pending, "files_restored": s.FilesRestored, "files": s.Files,
			"waiting_files": pr.Assembly.Waiting, "eta": s.ETA})
		return
	}
	if pr.Done {
		a.printf("Restore job %d done: %d files and folders written to %s, every byte verified.\n", job, s.FilesRestored, s.Job.Target)
		return
	}
	a.printf("Restore job %d: %d packs thawing, %d ready, %d downloaded; %d items written, %d files waiting",
		job, s.Thawing+s.Pending, s.Ready, s.Downloaded, s.FilesRestored, pr.Assembly.Waiting)
	if !s.ETA.IsZero() {
		a.printf("; thaw expected by %s", s.ETA.Local().Format("Mon 2 Jan 15:04"))
	}
	a.printf(".\n")
}

// openJob opens the repository for writing and picks the job.
func (a *app) openJob(ctx context.Context, command string, args []string) (*repoHandle, int64, error) {
	h, err := a.openRepo(ctx, command, true)
	if err != nil {
		return nil, 0, err
	}
	id, err := a.jobArg(ctx, h, args)
	if err != nil {
		h.Close()
		return nil, 0, err
	}
	return h, id, nil
}

// jobArg picks the job: the one given, or the only active one.
func (a *app) jobArg(ctx context.Context, h *repoHandle, args []string) (int64, error) {
	if len(args) == 1 {
		id, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil {
			return 0, usageError{fmt.Errorf("job %q: give the job number from `icevault restore list`", args[0])}
		}
		return id, nil
	}
	jobs, err := h.cat.Jobs(ctx, true)
	if err != nil {
		return 0, err
	}
	switch len(jobs) {
	case 0:
		return 0, usageError{errors.New("no active restore job (see `icevault restore list`)")}
	case 1:
		return jobs[0].ID, nil
	}
	return 0, usageError{fmt.Errorf("%d restore jobs are active: name one (see `icevault restore list`)", len(jobs))}
}

func newRestoreStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status [JOB]",
		Short: "Check a restore job's thaw (cheap: one LIST per thousand packs)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			h, id, err := a.openJob(ctx, "restore status", args)
			if err != nil {
				return err
			}
			defer h.Close()
			st, err := a.openStore(ctx, h)
			if err != nil {
				return err
			}
			j, err := h.cat.Job(ctx, id)
			if err != nil {
				return err
			}
			s, err := restore.JobStatus(ctx, h.cat, id, a.restoreOptions())
			if j.State == "active" {
				s, err = restore.Refresh(ctx, h.cat, st, id, a.restoreOptions())
			}
			if err != nil {
				return err
			}
			a.reportRestore(id, restore.Progress{Status: s, Done: j.State == "done"})
			if j.State == "active" && s.Ready > 0 && !a.json {
				a.printf("%d packs are ready: `icevault restore resume %d` downloads them and writes the files.\n", s.Ready, id)
			}
			if !s.EarliestExpiry.IsZero() && !a.json {
				a.printf("The earliest thawed copy expires %s.\n", s.EarliestExpiry.Local().Format("Mon 2 Jan 15:04"))
			}
			return nil
		},
	}
}

func newRestoreResumeCmd(a *app) *cobra.Command {
	var wait bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "resume [JOB]",
		Short: "Download what has thawed and write the files (--wait: until done)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			h, id, err := a.openJob(ctx, "restore resume", args)
			if err != nil {
				return err
			}
			defer h.Close()
			j, err := h.cat.Job(ctx, id)
			if err != nil {
				return err
			}
			if j.State != "active" {
				return usageError{fmt.Errorf("restore job %d is %s", id, j.State)}
			}
			st, err := a.openStore(ctx, h)
			if err != nil {
				return err
			}
			return a.runRestore(ctx, h, st, id, wait, every)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "keep running until the files are restored")
	cmd.Flags().DurationVar(&every, "poll", 15*time.Minute, "with --wait: how often to check the thaw")
	return cmd
}

func newRestoreListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List restore jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := a.openRepo(cmd.Context(), "restore list", false)
			if err != nil {
				return err
			}
			defer h.Close()
			jobs, err := h.cat.Jobs(cmd.Context(), false)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			if !a.json {
				fmt.Fprintln(tw, "JOB\tSTATE\tSTARTED\tSNAPSHOT\tTIER\tTARGET\tPATHS")
			}
			for _, j := range jobs {
				if a.json {
					if err := a.emitJSON(j); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.State, j.Created.Local().Format("2006-01-02 15:04"), short(j.Snapshot),
					strings.ToLower(j.Tier), j.Target, strings.Join(j.Paths, ", "))
			}
			return tw.Flush()
		},
	}
}

func newRestoreCancelCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel JOB",
		Short: "Stop a restore job (files already written stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			h, id, err := a.openJob(ctx, "restore cancel", args)
			if err != nil {
				return err
			}
			defer h.Close()
			if err := restore.Cancel(ctx, h.cat, id, h.spool(), time.Now()); err != nil {
				return err
			}
			a.printf("Restore job %d cancelled. Thaws already requested cannot be recalled; their copies expire on their own.\n", id)
			return nil
		},
	}
}
