package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
files are never replaced unless --overwrite.

With the simulator ('icevault sim --time-scale N'), ICEVAULT_TIME_SCALE=N makes
--wait and the jobs' thaw times run on a clock N times faster, as 'icevault demo' does.`,
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

// timeScaleEnv makes a restore's clock run faster, for use with the
// simulator started by `icevault sim --time-scale N` (the way `icevault
// demo` runs on its scaled clock): ICEVAULT_TIME_SCALE=N makes --wait's
// polls and the jobs' thaw times run N times faster than the wall clock.
// It is for trying icevault out and for tests; against AWS it only makes
// --wait poll more often.
const timeScaleEnv = "ICEVAULT_TIME_SCALE"

// appClocks holds each command run's clock: one per run, so the times it
// records agree with each other.
var appClocks sync.Map // *app -> clock.Clock

// clock is the clock restores run on: the wall clock, or a scaled one
// with ICEVAULT_TIME_SCALE.
func (a *app) clock() clock.Clock {
	if c, ok := appClocks.Load(a); ok {
		return c.(clock.Clock)
	}
	var c clock.Clock = clock.Real{}
	if v := os.Getenv(timeScaleEnv); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 1 {
			c = clock.NewScaled(f)
		} else {
			fmt.Fprintf(a.stderr, "warning: %s=%q is not a number above 1; using the wall clock\n", timeScaleEnv, v)
		}
	}
	got, _ := appClocks.LoadOrStore(a, c)
	return got.(clock.Clock)
}

func (a *app) restoreOptions() restore.Options {
	return restore.Options{Clock: a.clock(), Events: func(ev restore.Event) {
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
		if err := a.reportWaiting(ctx, h.cat, job, pr.Assembly); err != nil {
			return err
		}
		return errNotReady
	}
	return nil
}

func (a *app) reportRestore(job int64, pr restore.Progress) {
	s := pr.Status
	if a.json {
		_ = a.emitJSON(map[string]any{"event": "status", "job": job, "kind": jobKind(s.Job), "state": s.Job.State, "done": pr.Done,
			"pending": s.Pending, "thawing": s.Thawing, "ready": s.Ready, "downloaded": s.Downloaded,
			"bytes_pending": s.BytesPending, "bytes_thawing": s.BytesThawing, "bytes_ready": s.BytesReady, "bytes_downloaded": s.BytesLocal,
			"files_restored": s.FilesRestored, "files": s.Files, "waiting_files": pr.Assembly.Waiting, "eta": s.ETA,
			"earliest_expiry": s.EarliestExpiry})
		return
	}
	a.printf("%s\n", statusLine(job, pr))
}

// jobKind names a job for --json: "restore", "recover" (the metadata a
// catalog recovery reads) or "thaw" (recover --all-data's data packs).
func jobKind(j catalog.Job) string {
	if restore.ThawOnly(j) {
		return "thaw"
	}
	return j.Kind
}

// statusLine is one job's state in one line: counts and bytes at each
// stage, and when the thaw should be over.
func statusLine(job int64, pr restore.Progress) string {
	s := pr.Status
	var b strings.Builder
	switch {
	case restore.ThawOnly(s.Job):
		fmt.Fprintf(&b, "Thaw job %d (recover --all-data)", job)
	case s.Job.Kind == restore.KindRecover:
		fmt.Fprintf(&b, "Recovery job %d (catalog metadata)", job)
	default:
		fmt.Fprintf(&b, "Restore job %d", job)
	}
	if pr.Done || s.Job.State == "done" {
		if s.Job.Kind == restore.KindRestore {
			fmt.Fprintf(&b, " done: %d files and folders written to %s, every byte verified.", s.FilesRestored, s.Job.Target)
		} else {
			fmt.Fprintf(&b, " done: %d objects thawed (%s)", s.Ready+s.Downloaded, bytesize(s.BytesReady+s.BytesLocal))
			if !s.EarliestExpiry.IsZero() {
				fmt.Fprintf(&b, ", kept until %s", s.EarliestExpiry.Local().Format("Mon 2 Jan 15:04"))
			}
			b.WriteString(".")
		}
		return b.String()
	}
	if s.Job.State != "active" {
		fmt.Fprintf(&b, " %s.", s.Job.State)
		return b.String()
	}
	fmt.Fprintf(&b, ": %d packs thawing (%s), %d ready (%s), %d downloaded (%s)",
		s.Thawing+s.Pending, bytesize(s.BytesThawing+s.BytesPending), s.Ready, bytesize(s.BytesReady), s.Downloaded, bytesize(s.BytesLocal))
	if s.Job.Kind == restore.KindRestore {
		fmt.Fprintf(&b, "; %d items written", s.FilesRestored)
		if pr.Assembly.Waiting > 0 {
			fmt.Fprintf(&b, ", %d files waiting", pr.Assembly.Waiting)
		}
	}
	if !s.ETA.IsZero() {
		fmt.Fprintf(&b, "; thaw expected by %s", s.ETA.Local().Format("Mon 2 Jan 15:04"))
	}
	b.WriteString(".")
	return b.String()
}

// waitingListed is how many waiting files a partial restore lists without
// -v or --json.
const waitingListed = 20

// reportWaiting says what a partial restore has not done yet: which files
// wait, and for which packs (with where each pack stands).
func (a *app) reportWaiting(ctx context.Context, cat *catalog.Catalog, job int64, asm restore.AssembleResult) error {
	if asm.Waiting == 0 {
		return nil
	}
	objs, err := cat.JobObjects(ctx, job)
	if err != nil {
		return err
	}
	byKey := map[string]catalog.JobObject{}
	for _, o := range objs {
		byKey[o.Key] = o
	}
	files := map[string]int{}
	for _, w := range asm.WaitingFiles {
		for _, k := range w.Packs {
			files[k]++
		}
	}
	if a.json {
		var packs []map[string]any
		for _, k := range asm.Missing {
			o := byKey[k]
			packs = append(packs, map[string]any{"key": k, "state": o.State, "bytes": o.Size, "files": files[k], "expiry": o.Expiry})
		}
		return a.emitJSON(map[string]any{"event": "waiting", "job": job, "waiting_files": asm.Waiting, "files": asm.WaitingFiles, "packs": packs})
	}
	a.printf("Not restored yet: %d files, waiting for %d packs:\n", asm.Waiting, len(asm.Missing))
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for _, k := range asm.Missing {
		o := byKey[k]
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d files\n", k, o.State, bytesize(o.Size), files[k])
	}
	tw.Flush()
	list := asm.WaitingFiles
	if a.verbose == 0 && len(list) > waitingListed {
		list = list[:waitingListed]
	}
	a.printf("Files still waiting:\n")
	for _, w := range list {
		a.printf("  %s  (needs %s)\n", w.Path, strings.Join(w.Packs, ", "))
	}
	if n := len(asm.WaitingFiles) - len(list); n > 0 {
		a.printf("  … and %d more (-v or --json lists them all)\n", n)
	}
	a.printf("Everything else is written and verified; `icevault restore resume %d` continues when the packs are ready.\n", job)
	return nil
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
		Short: "Check restore jobs' thaw (cheap: one LIST per thousand packs)",
		Long: `Check a restore job's thaw: packs and bytes thawing, ready and downloaded,
files written, and when the thaw should be over. Without JOB, every active job,
one line each — including a recovery under way ('icevault recover'). Restored
copies about to expire before they are downloaded, and copies that expired,
are asked for again.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			h, err := a.openRepo(ctx, "restore status", true)
			if err != nil {
				return err
			}
			defer h.Close()
			type jobRef struct {
				cat *catalog.Catalog
				id  int64
			}
			var todo []jobRef
			if len(args) == 1 {
				id, err := a.jobArg(ctx, h, args)
				if err != nil {
					return err
				}
				todo = append(todo, jobRef{h.cat, id})
			} else {
				jobs, err := h.cat.Jobs(ctx, true)
				if err != nil {
					return err
				}
				slices.Reverse(jobs) // oldest first
				for _, j := range jobs {
					todo = append(todo, jobRef{h.cat, j.ID})
				}
				rc, err := openRecovery(ctx, h)
				if err != nil {
					return err
				}
				if rc != nil {
					defer rc.Close()
					rjobs, err := rc.Jobs(ctx, true)
					if err != nil {
						return err
					}
					slices.Reverse(rjobs)
					for _, j := range rjobs {
						todo = append(todo, jobRef{rc, j.ID})
					}
				}
				if len(todo) == 0 {
					return usageError{errors.New("no active restore job (see `icevault restore list`)")}
				}
			}
			st, err := a.openStore(ctx, h)
			if err != nil {
				return err
			}
			o := a.restoreOptions()
			var hints []string
			for _, r := range todo {
				j, err := r.cat.Job(ctx, r.id)
				if err != nil {
					return err
				}
				s, err := restore.JobStatus(ctx, r.cat, r.id, o)
				if err == nil && j.State == "active" {
					s, err = restore.Refresh(ctx, r.cat, st, r.id, o)
				}
				if err != nil {
					return fmt.Errorf("job %d: %w", r.id, err)
				}
				a.reportRestore(r.id, restore.Progress{Status: s, Done: j.State == "done"})
				if j.State != "active" {
					continue
				}
				switch {
				case r.cat != h.cat:
					hints = append(hints, "`icevault recover resume` rebuilds the catalog once the metadata has thawed.")
				case j.Kind == restore.KindRestore && s.Ready > 0:
					hints = append(hints, fmt.Sprintf("%d packs of job %d are ready: `icevault restore resume %d` downloads them and writes the files.", s.Ready, r.id, r.id))
				}
				if !s.EarliestExpiry.IsZero() && j.Kind == restore.KindRestore {
					hints = append(hints, fmt.Sprintf("The earliest thawed copy of job %d expires %s.", r.id, s.EarliestExpiry.Local().Format("Mon 2 Jan 15:04")))
				}
			}
			for _, hint := range slices.Compact(hints) {
				a.printf("%s\n", hint)
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
				target := j.Target
				if restore.ThawOnly(j) {
					target = "(thaw only: recover --all-data)"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.State, j.Created.Local().Format("2006-01-02 15:04"), short(j.Snapshot),
					strings.ToLower(j.Tier), target, strings.Join(j.Paths, ", "))
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
			if err := restore.Cancel(ctx, h.cat, id, h.spool(), a.clock().Now()); err != nil {
				return err
			}
			a.printf("Restore job %d cancelled. Thaws already requested cannot be recalled; their copies expire on their own.\n", id)
			return nil
		},
	}
}
