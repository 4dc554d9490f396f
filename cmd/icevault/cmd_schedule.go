package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/schedule"
)

// Seams for tests: the service manager's commands and icevault's own path.
var (
	scheduleRunner     schedule.Runner = schedule.ExecRunner{}
	scheduleExecutable                 = os.Executable
)

type scheduleOpts struct {
	platform   string
	unattended bool
	dryRun     bool
}

func newScheduleCmd(a *app) *cobra.Command {
	o := &scheduleOpts{}
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Start the agent at login, or run unattended backups from launchd/systemd",
		Long: `schedule install writes a LaunchAgent (macOS) or systemd user units (Linux).

By default it starts "icevault agent" at login; the agent runs every
repository's schedule. With --unattended it instead installs one timer job per
scheduled repository that runs "icevault backup --repo R" with no agent — for
keychain credentials (an SSO login expires and needs a person). The two modes
replace each other. If the service manager cannot be reached (no user systemd
bus), the files are still written, the command to enable them is printed, and
the exit status is 1.`,
	}
	cmd.PersistentFlags().StringVar(&o.platform, "platform", schedule.Native, "service manager: launchd or systemd")
	_ = cmd.PersistentFlags().MarkHidden("platform")

	install := &cobra.Command{
		Use:   "install",
		Short: "Install (or update) the agent at login, or --unattended backup timers",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return a.scheduleInstall(c, o) },
	}
	install.Flags().BoolVar(&o.unattended, "unattended", false, "install a timer-driven backup job per scheduled repository instead of the agent")
	install.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the files that would be written and change nothing")
	cmd.AddCommand(install,
		&cobra.Command{Use: "uninstall", Short: "Stop and remove what schedule install wrote", Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error { return a.scheduleUninstall(c, o) }},
		&cobra.Command{Use: "status", Short: "Show the installed jobs: enabled, next run, last result", Args: cobra.NoArgs,
			RunE: func(c *cobra.Command, _ []string) error { return a.scheduleStatus(c, o) }})
	return cmd
}

func scheduleHome() (home, xdg string, err error) {
	home, err = os.UserHomeDir()
	return home, os.Getenv("XDG_CONFIG_HOME"), err
}

func (o *scheduleOpts) check() error {
	if o.platform != "systemd" && o.platform != "launchd" {
		return usageError{fmt.Errorf("--platform %q: use launchd or systemd", o.platform)}
	}
	return nil
}

func (a *app) scheduleInstall(c *cobra.Command, o *scheduleOpts) error {
	if err := o.check(); err != nil {
		return err
	}
	bin, err := scheduleExecutable()
	if err == nil {
		bin, err = filepath.EvalSymlinks(bin)
	}
	if err != nil {
		return fmt.Errorf("finding icevault's own path: %w", err)
	}
	spec := schedule.Spec{Binary: bin}
	if p := a.configPath; p != "" || os.Getenv("ICEVAULT_CONFIG") != "" {
		if p == "" {
			p = os.Getenv("ICEVAULT_CONFIG")
		}
		if spec.ConfigPath, err = filepath.Abs(p); err != nil {
			return err
		}
	}
	if o.unattended {
		spec.Mode = schedule.UnattendedMode
		f, err := a.loadConfig()
		if err != nil {
			return err
		}
		if spec.Jobs, err = schedule.JobsFromConfig(f); err != nil {
			return usageError{err}
		}
		for _, j := range spec.Jobs {
			if f.Repositories[j.Repo].Credentials != config.CredentialsKeychain {
				fmt.Fprintf(a.stderr, "note: repository %q uses an AWS profile; unattended runs stop with exit 4 when its SSO login expires (the agent would ask you to log in)\n", j.Repo)
			}
		}
	}
	home, xdg, err := scheduleHome()
	if err != nil {
		return err
	}
	plan, err := schedule.Generate(o.platform, spec, home, xdg)
	if err != nil {
		return usageError{err}
	}
	if o.dryRun {
		for _, u := range plan.Units {
			path := filepath.Join(plan.Dir, u.Name)
			if a.json {
				_ = a.emitJSON(map[string]any{"event": "file", "path": path, "content": string(u.Content)})
				continue
			}
			fmt.Fprintf(a.stdout, "# %s\n%s\n", path, u.Content)
		}
		return nil
	}
	r, err := schedule.Install(c.Context(), plan, schedule.NewManager(o.platform, scheduleRunner, os.Getuid()))
	for _, p := range r.Removed {
		a.printf("removed   %s\n", p)
	}
	for _, p := range r.Written {
		a.printf("wrote     %s\n", p)
	}
	for _, p := range r.Unchanged {
		a.printf("unchanged %s\n", p)
	}
	for _, id := range r.Activated {
		a.printf("enabled   %s\n", id)
	}
	if a.json {
		_ = a.emitJSON(map[string]any{"event": "schedule_install", "mode": spec.Mode.String(), "platform": plan.Platform,
			"written": r.Written, "unchanged": r.Unchanged, "removed": r.Removed, "enabled": r.Activated,
			"not_enabled": r.NotActivated != nil, "hint": r.Hint})
	}
	if err != nil {
		return err
	}
	if r.NotActivated != nil {
		return fmt.Errorf("the files are in place but could not be enabled (%v); in a login session, run: %s", r.NotActivated, r.Hint)
	}
	return nil
}

func (a *app) scheduleUninstall(c *cobra.Command, o *scheduleOpts) error {
	if err := o.check(); err != nil {
		return err
	}
	home, xdg, err := scheduleHome()
	if err != nil {
		return err
	}
	r, err := schedule.Uninstall(c.Context(), o.platform, schedule.Dir(o.platform, home, xdg), schedule.NewManager(o.platform, scheduleRunner, os.Getuid()))
	for _, p := range r.Removed {
		a.printf("removed %s\n", p)
	}
	if len(r.Removed) == 0 && err == nil {
		a.printf("nothing installed\n")
	}
	if a.json {
		_ = a.emitJSON(map[string]any{"event": "schedule_uninstall", "removed": r.Removed})
	}
	return err
}

func (a *app) scheduleStatus(c *cobra.Command, o *scheduleOpts) error {
	if err := o.check(); err != nil {
		return err
	}
	home, xdg, err := scheduleHome()
	if err != nil {
		return err
	}
	st, err := schedule.Status(c.Context(), o.platform, schedule.Dir(o.platform, home, xdg), schedule.NewManager(o.platform, scheduleRunner, os.Getuid()))
	if err != nil {
		return err
	}
	if a.json {
		return a.emitJSON(map[string]any{"event": "schedule_status", "installed": len(st) > 0, "units": st})
	}
	if len(st) == 0 {
		a.printf("not installed: run `icevault schedule install` (agent at login) or `icevault schedule install --unattended`\n")
		return nil
	}
	for _, u := range st {
		a.printf("%s\n  file: %s\n", u.ID, u.Path)
		switch {
		case strings.HasSuffix(u.ID, "@.service"):
			a.printf("  template, started by the timers\n")
			continue
		case u.Err != "":
			a.printf("  state: unknown (%s)\n", u.Err)
			continue
		}
		a.printf("  enabled: %v  state: %s\n", u.Enabled, orDash(u.Active))
		if u.NextRun != "" || u.LastRun != "" || u.LastResult != "" {
			a.printf("  next run: %s  last run: %s  last result: %s\n", orDash(u.NextRun), orDash(u.LastRun), orDash(u.LastResult))
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
