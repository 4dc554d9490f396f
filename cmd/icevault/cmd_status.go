package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/icevault/icevault/internal/agent"
	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/backup"
	"github.com/icevault/icevault/internal/store"
)

func newStatusCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "What the agent is doing: each repository's last and next backup, restore jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			c := agentClient(ctx)
			if c == nil {
				return a.statusWithoutAgent(ctx)
			}
			s, err := c.Status(ctx)
			if err != nil {
				return err
			}
			if a.json {
				return a.emitJSON(s)
			}
			now := time.Now()
			state := "running"
			if s.Paused {
				state = "running, scheduled backups paused (`icevault agent` menu: Resume)"
			}
			a.printf("Agent: %s\n\n", state)
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tSTATE\tLAST BACKUP\tRESULT\tNEXT RUN")
			for _, r := range s.Repos {
				last, result, next := "never", "", "manual"
				if !r.LastBackup.IsZero() {
					last = when(r.LastBackup, now)
				}
				if r.LastRun != nil {
					result = r.LastRun.Outcome
					if r.LastRun.Error != "" {
						result += ": " + firstLine(r.LastRun.Error)
					}
				}
				state := r.State
				if r.Running != nil && r.Running.Progress.Percent >= 0 {
					state = fmt.Sprintf("%s %d%%", state, r.Running.Progress.Percent)
				}
				switch {
				case r.LoginRequired:
					next = "after `icevault login`"
				case !r.NextRun.IsZero():
					next = when(r.NextRun, now)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, state, last, result, next)
			}
			tw.Flush()
			for _, r := range s.Repos {
				for _, j := range r.Restores {
					if !j.Done {
						a.printf("restore job %d (%s): %s\n", j.ID, r.Name, restoreLabel(j, now))
					}
				}
				if r.LoginRequired {
					a.printf("\n%s: %s\n", r.Name, auth.LoginRequiredMessage)
				}
			}
			return nil
		},
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 100 {
		s = s[:99] + "…"
	}
	return s
}

// statusWithoutAgent says the agent is not running and what the catalogs
// know.
func (a *app) statusWithoutAgent(ctx context.Context) error {
	f, err := a.loadConfig()
	if err != nil {
		return err
	}
	type repoLine struct {
		Name       string    `json:"name"`
		LastBackup time.Time `json:"last_backup,omitzero"`
	}
	var lines []repoLine
	for _, name := range f.Names() {
		last, err := agentRunner{a}.LastBackup(ctx, name)
		if err != nil {
			return err
		}
		lines = append(lines, repoLine{name, last})
	}
	if a.json {
		return a.emitJSON(map[string]any{"agent": false, "repos": lines})
	}
	a.printf("Agent: not running; nothing is scheduled (start it with `icevault agent`, or at login with `icevault schedule install`).\n\n")
	now := time.Now()
	for _, l := range lines {
		last := "never backed up"
		if !l.LastBackup.IsZero() {
			last = "last backup " + when(l.LastBackup, now)
		}
		a.printf("%s: %s\n", l.Name, last)
	}
	return nil
}

func newDashboardCmd(a *app) *cobra.Command {
	var print bool
	cmd := &cobra.Command{
		Use:   "dashboard [PAGE]",
		Short: "Open the agent's dashboard in the browser",
		Long: `Open the agent's local dashboard (snapshots, file browser, restore planner,
restore jobs, cost over time). The link works once, for two minutes: the
dashboard's session lives only in the agent's memory.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := agentClient(cmd.Context())
			if c == nil {
				return usageError{errors.New("the agent is not running: start it with `icevault agent`")}
			}
			page := "/"
			if len(args) == 1 {
				page = "/" + strings.TrimPrefix(args[0], "/")
			}
			link, err := c.DashboardLink(cmd.Context(), page)
			if err != nil {
				return err
			}
			if print {
				a.printf("%s\n", link)
				return nil
			}
			if err := browserOpener(link); err != nil {
				return fmt.Errorf("opening a browser: %w (use --print and open the link yourself)", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&print, "print", false, "print the one-time link instead of opening a browser")
	return cmd
}

// backupViaAgent hands a backup of the repository to the running agent and
// follows it to the end, so that one process writes.
func (a *app) backupViaAgent(ctx context.Context, c *agent.Client) error {
	f, err := a.loadConfig()
	if err != nil {
		return err
	}
	name, _, err := f.Repo(a.repo)
	if err != nil {
		return usageError{err}
	}
	ids, err := c.BackupNow(ctx, name)
	if err != nil {
		return err
	}
	id := ids[0]
	live := !a.json && term.IsTerminal(int(os.Stderr.Fd()))
	a.printf("The agent is running: it backs up %s (run %d).\n", name, id)
	for {
		s, err := c.Status(ctx)
		if err != nil {
			return err
		}
		for _, r := range s.Runs {
			if r.ID != id {
				continue
			}
			if !r.Finished() {
				if live && r.Progress.Percent >= 0 {
					fmt.Fprintf(a.stderr, "\r%3d%% %d files", r.Progress.Percent, r.Progress.Files)
				}
				break
			}
			if live {
				fmt.Fprint(a.stderr, "\r\033[K")
			}
			// The same report as a backup run here: the summary, in text
			// or as the --json "summary" event.
			var sum backup.Summary
			hasSum := len(r.Result.Detail) > 0 && json.Unmarshal(r.Result.Detail, &sum) == nil
			switch {
			case a.json && hasSum:
				if err := a.emitJSON(map[string]any{"event": "summary", "summary": sum, "agent_run": r.ID}); err != nil {
					return err
				}
			case a.json:
				if err := a.emitJSON(map[string]any{"event": "agent_run", "run": r}); err != nil {
					return err
				}
			case hasSum:
				printSummary(a, sum)
			case r.Result.Summary != "":
				a.printf("%s\n", r.Result.Summary)
			}
			return runError(r)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(a.stderr, "\nThe agent goes on with the backup; `icevault status` shows it.\n")
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// runError is the CLI's error for a run the agent finished.
func runError(r agent.RunRecord) error {
	switch r.Outcome {
	case "ok":
		return nil
	case "partial":
		return errPartial
	case "stopped":
		return fmt.Errorf("the backup was stopped (paused in the agent): %w", context.Canceled)
	case "login_required":
		return fmt.Errorf("%w: %s", store.ErrLoginRequired, auth.LoginRequiredMessage)
	}
	switch r.Class {
	case auth.AccessDenied.String():
		return fmt.Errorf("%w: %s", store.ErrAccessDenied, r.Error)
	case auth.Transient.String():
		return fmt.Errorf("%w: %s", store.ErrTransient, r.Error)
	}
	return errors.New(r.Error)
}
