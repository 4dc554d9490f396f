package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/cost"
	"github.com/icevault/icevault/internal/repo"
	"github.com/icevault/icevault/internal/scan"
)

// errPartial marks a backup that finished but skipped some files.
var errPartial = errors.New("backup finished, but some files could not be read (see the warnings above)")

func newBackupCmd(a *app) *cobra.Command {
	var (
		dryRun, excludeCaches, oneFS bool
		noAgent                      bool
		excludes, tags               []string
	)
	cmd := &cobra.Command{
		Use:   "backup [PATH...]",
		Short: "Back up folders (default: the repository's sources)",
		Long: `Back up folders into the repository: unchanged files are not read again, new
content is deduplicated, packed, compressed, encrypted on this machine and
uploaded create-only to DEEP_ARCHIVE. A run that is stopped (Ctrl-C, expired
login, lost network) keeps every confirmed pack; the next run continues.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// A plain run of the configured sources goes to the agent, if
			// one runs: it is the repository's one writer.
			if !noAgent && len(args) == 0 && !dryRun && len(excludes) == 0 && !excludeCaches && !oneFS && len(tags) == 0 {
				if c := agentClient(ctx); c != nil {
					return a.backupViaAgent(ctx, c)
				}
			}
			h, err := a.openRepo(ctx, "backup", true)
			if err != nil {
				return err
			}
			defer h.Close()
			paths, err := sourcePaths(h, args)
			if err != nil {
				return err
			}
			scanOpts := scan.Options{Excludes: append(append([]string(nil), h.cfg.Excludes...), excludes...),
				ExcludeCaches: excludeCaches, OneFileSystem: oneFS, IgnoreFileName: ".icevaultignore"}
			pr := newProgress(a, !a.json && term.IsTerminal(int(os.Stderr.Fd())))
			sum, err := a.backupRepo(ctx, h, backup.Options{Paths: paths, Tags: tags, DryRun: dryRun, Scan: scanOpts},
				pr.live, pr.setTotals, pr.event)
			pr.stop()
			if err != nil {
				return err
			}
			if a.json {
				if err := a.emitJSON(map[string]any{"event": "summary", "summary": sum}); err != nil {
					return err
				}
			} else {
				printSummary(a, sum)
			}
			if sum.Partial() {
				return errPartial
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&dryRun, "dry-run", "n", false, "read and count what would be uploaded and what it would cost; upload nothing")
	f.StringArrayVarP(&excludes, "exclude", "e", nil, "gitignore-style pattern to leave out (repeatable)")
	f.BoolVar(&excludeCaches, "exclude-caches", false, "leave out folders holding a CACHEDIR.TAG")
	f.BoolVarP(&oneFS, "one-file-system", "x", false, "do not cross into other file systems")
	f.StringArrayVar(&tags, "tag", nil, "tag the snapshot (repeatable)")
	f.BoolVar(&noAgent, "no-agent", false, "run in this process even if the agent runs (fails with exit 9 while the agent is writing)")
	return cmd
}

// sourcePaths are the absolute paths to back up: args, or else the
// repository's configured sources.
func sourcePaths(h *repoHandle, args []string) ([]string, error) {
	paths := append([]string(nil), args...)
	if len(paths) == 0 {
		paths = append(paths, h.cfg.Sources...)
	}
	if len(paths) == 0 {
		return nil, usageError{fmt.Errorf("nothing to back up: name folders, or set sources for repository %q in the config", h.name)}
	}
	for i, p := range paths {
		var err error
		if paths[i], err = expandHome(p); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// backupRepo runs one backup of h (opened for writing): the keys, the
// store and the price table come from the configuration; o names the
// paths, scan options, tags and dry run. With estimate, what is ahead is
// counted while the backup runs and handed to totals (for percent and
// ETA). The CLI and the agent both back up through here.
func (a *app) backupRepo(ctx context.Context, h *repoHandle, o backup.Options, estimate bool,
	totals func(files, bytes int64), events func(backup.Event)) (backup.Summary, error) {
	ks, err := a.openKeys()
	if err != nil {
		return backup.Summary{}, err
	}
	r, err := repo.Open(ctx, h.cat, ks)
	if err != nil {
		return backup.Summary{}, err
	}
	st, err := a.openStore(ctx, h)
	if err != nil {
		return backup.Summary{}, err
	}
	if o.Prices, err = cost.Load(); err != nil {
		return backup.Summary{}, usageError{err}
	}
	o.Host, _ = os.Hostname()
	o.SpoolDir, o.Events = h.spool(), events
	if estimate {
		// Count what is ahead while the backup runs, for the ETA; it only
		// lists directories, so it finishes early.
		estCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			if files, bytes, err := backup.Estimate(estCtx, o.Paths, o.Scan); err == nil {
				totals(files, bytes)
			}
		}()
	}
	return backup.Run(ctx, r, h.cat, st, o)
}

func printSummary(a *app, s backup.Summary) {
	switch {
	case s.DryRun:
		a.printf("Dry run: nothing was uploaded.\n")
	case s.Unchanged:
		a.printf("Nothing changed since snapshot %s: no new snapshot, no upload.\n", short(s.SnapshotID))
	default:
		a.printf("Snapshot %s saved.\n", short(s.SnapshotID))
	}
	a.printf("Files:    %d new, %d changed, %d unchanged, in %d folders\n", s.FilesNew, s.FilesChanged, s.FilesUnchanged, s.Dirs)
	a.printf("Data:     %s read, %s new", bytesize(s.BytesRead), bytesize(s.BytesAdded))
	if !s.DryRun {
		a.printf(", %s uploaded in %d packs (%d PUT requests, %s)", bytesize(s.BytesUploaded), s.Packs, s.PutRequests, cost.Dollars(s.RequestCost))
	} else {
		a.printf(", about %d packs (%d PUT requests, %s)", s.Packs, s.PutRequests, cost.Dollars(s.RequestCost))
	}
	a.printf("\n")
	if s.ResumedPacks > 0 {
		a.printf("Resumed:  %d packs left by an earlier, stopped run\n", s.ResumedPacks)
	}
	a.printf("Cost:     +%s per month of storage\n", cost.Dollars(s.MonthlyCost))
	a.printf("Time:     %s", (time.Duration(s.Seconds * float64(time.Second))).Round(time.Millisecond))
	if s.Seconds > 0 {
		a.printf(" (%s/s)", bytesize(int64(float64(s.BytesRead)/s.Seconds)))
	}
	a.printf("\n")
	if s.Warnings > 0 {
		a.printf("Warnings: %d (files that could not be read were left out)\n", s.Warnings)
	}
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// bytesize is cost.Bytes, short for the many places that print sizes.
func bytesize(n int64) string { return cost.Bytes(n) }
