package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/icevault/icevault/internal/agent"
	"github.com/icevault/icevault/internal/clock"
	"github.com/icevault/icevault/internal/config"
	"github.com/icevault/icevault/internal/notify"
	"github.com/icevault/icevault/internal/tray"
)

type agentOpts struct {
	headless    bool
	dashboard   string
	restorePoll time.Duration
}

func newAgentCmd(a *app) *cobra.Command {
	var o agentOpts
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run scheduled backups and restore jobs, with a tray icon and a local dashboard",
		Long: `Run icevault's agent: it backs up each repository on its schedule (catching up
on a run missed while the computer slept), follows restore jobs until their files
are written, shows its state in the menu bar or tray, and notifies you when it
needs you. When the AWS sign-in has expired it says "AWS login required" and
waits — it never logs in by itself; "Log in to AWS…" in its menu (or
` + "`icevault login`" + `) lets it continue where it stopped.

While it runs, ` + "`icevault backup`" + ` hands the run to it, ` + "`icevault status`" + ` shows what
it is doing and ` + "`icevault dashboard`" + ` opens the dashboard. Start it at login with
` + "`icevault schedule install`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runAgent(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.headless, "headless", false, "no tray icon (servers, or a desktop without a tray)")
	f.StringVar(&o.dashboard, "dashboard", "", `loopback address for the dashboard (default 127.0.0.1 on a free port; "off" for none)`)
	f.DurationVar(&o.restorePoll, "restore-poll", 15*time.Minute, "how often to check restore jobs for thawed packs")
	return cmd
}

// agentSocket is where the agent listens for the CLI.
func agentSocket() (string, error) {
	d, err := config.Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "agent.sock"), nil
}

// agentClient returns a client for the running agent, or nil if none runs.
func agentClient(ctx context.Context) *agent.Client {
	sock, err := agentSocket()
	if err != nil {
		return nil
	}
	c := agent.NewClient(sock)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := c.Status(ctx); err != nil {
		return nil
	}
	return c
}

func (a *app) runAgent(ctx context.Context, o agentOpts) error {
	f, err := a.loadConfig()
	if err != nil {
		return err
	}
	if len(f.Repositories) == 0 {
		return usageError{errors.New("no repository is configured: run `icevault setup` or `icevault init` first")}
	}
	logger := log.New(a.stderr, "icevault agent: ", log.LstdFlags)
	repos, err := agentRepos(f)
	if err != nil {
		return usageError{err}
	}
	ctx, quit := context.WithCancel(ctx)
	defer quit()

	guard, err := agent.NewGuard()
	if err != nil {
		return err
	}
	var (
		ag       atomic.Pointer[agent.Agent]
		shownOn  atomic.Pointer[tray.Tray]
		openPage = func(path string) {
			link, err := guard.Link(path)
			if err == nil {
				err = browserOpener(link)
			}
			if err != nil {
				logger.Printf("opening the dashboard: %v", err)
			}
		}
	)

	var notifier agent.Notifier
	sys, err := notify.Open(notify.SystemOptions{Logf: logger.Printf, OnEvent: func(ev notify.Event) {
		switch ev.Action {
		case notify.ActionLogin.Key:
			if g := ag.Load(); g != nil {
				if err := g.Login(ctx, ev.Group); err != nil {
					logger.Printf("log in: %v", err)
				}
			}
		case notify.ActionOpen.Key:
			openPage("/")
		}
	}})
	if err != nil {
		logger.Printf("notifications are off: %v", err)
	} else {
		defer sys.Close()
		nopts := notify.DefaultOptions()
		nopts.Off = f.Agent.Notifications.Off
		for _, q := range f.Agent.Notifications.Quiet {
			k, err := notify.ParseKind(q)
			if err != nil {
				return usageError{fmt.Errorf("[agent.notifications] quiet: %w", err)}
			}
			ko := nopts.Kinds[k]
			ko.Quiet = true
			nopts.Kinds[k] = ko
		}
		lim := notify.NewLimiter(sys, clock.Real{}, nopts, func(err error) { logger.Printf("notification: %v", err) })
		defer lim.Close()
		notifier = lim
	}

	g := agent.New(agent.Options{
		Repos: repos, Runner: agentRunner{a}, Notifier: notifier, Logf: logger.Printf,
		RestorePoll: o.restorePoll,
		Login:       func(ctx context.Context, repo string) error { return a.agentLogin(ctx, f, repo, logger) },
		OnChange: func(s agent.Status) {
			if t := shownOn.Load(); t != nil {
				t.Set(trayState(s, time.Now()))
			}
		},
	})
	ag.Store(g)

	// The CLI's way in: a socket only this user can open. Taken first: a
	// second agent stops here, saying so.
	sock, err := agentSocket()
	if err != nil {
		return err
	}
	sl, err := agent.ListenUnix(sock)
	if err != nil {
		return err
	}
	defer sl.Close()
	defer os.Remove(sock)

	// The dashboard's: loopback HTTP behind the guard.
	addr := o.dashboard
	if addr == "" {
		addr = f.Agent.Dashboard
	}
	if addr != "off" {
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		hl, err := listenLoopback(addr)
		if err != nil {
			return usageError{err}
		}
		guard.SetAddr(hl.Addr().String())
		mux := http.NewServeMux()
		mux.Handle("/api/", g.Handler())
		mux.Handle("/", a.dashboardHandler(g))
		webSrv := &http.Server{Handler: guard.Wrap(mux), ReadHeaderTimeout: 10 * time.Second}
		go webSrv.Serve(hl)
		defer webSrv.Close()
		logger.Printf("dashboard on http://%s (open it with `icevault dashboard` or from the menu)", hl.Addr())
	}

	// Served last, so that a client that reaches the agent finds everything
	// else up (a dashboard link asked for at once has its address).
	sockSrv := &http.Server{Handler: g.SocketHandler(guard), ReadHeaderTimeout: 10 * time.Second}
	go sockSrv.Serve(sl)
	defer sockSrv.Close()

	// Watch the token cache even if every repository uses keychain keys
	// now: a profile repository may be added to the config later.
	if home, err := os.UserHomeDir(); err == nil {
		if err := agent.WatchTokenCache(ctx, agent.TokenCacheDir(home), g.CredentialsChanged); err != nil {
			logger.Printf("not watching the SSO token cache (log in, then use \"Back up now\"): %v", err)
		}
	}
	// Follow the config file: a repository added by `icevault init`, a new
	// schedule, a removed repository — without a restart.
	if cfgPath, err := a.configFilePath(); err == nil {
		reload := func() {
			f, err := a.loadConfig()
			if err == nil {
				var repos []agent.Repo
				if repos, err = agentRepos(f); err == nil {
					g.SetRepos(repos)
					logger.Printf("config reloaded: %d repositories", len(repos))
					return
				}
			}
			logger.Printf("config not reloaded (fix it; the agent goes on with the previous one): %v", err)
		}
		if err := agent.WatchFile(ctx, cfgPath, reload); err != nil {
			logger.Printf("not following changes to %s (restart the agent after editing it): %v", cfgPath, err)
		}
	}

	onAction := func(act tray.Action) {
		switch act.Kind {
		case tray.ActionBackupNow:
			if _, err := g.BackupNow(""); err != nil {
				logger.Printf("back up now: %v", err)
			}
		case tray.ActionPause:
			g.Pause()
		case tray.ActionResume:
			g.Resume()
		case tray.ActionLogIn:
			if err := g.Login(ctx, ""); err != nil {
				logger.Printf("log in: %v", err)
			}
		case tray.ActionOpenDashboard:
			openPage("/")
		case tray.ActionOpenRestore:
			openPage("/jobs")
		case tray.ActionQuit:
			quit()
		}
	}
	body := func(ctx context.Context, t *tray.Tray) error {
		if t != nil {
			shownOn.Store(t)
			t.Set(trayState(g.Status(), time.Now()))
		}
		logger.Printf("running: %d repositories, socket %s", len(repos), sock)
		err := g.Run(ctx)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	if o.headless {
		return body(ctx, nil)
	}
	err = tray.Main(ctx, tray.Options{OnAction: onAction}, body)
	if errors.Is(err, tray.ErrHeadless) {
		logger.Printf("no tray icon: %v", err)
		return body(ctx, nil)
	}
	return err
}

// agentRepos are the configured repositories as the agent schedules them.
func agentRepos(f *config.File) ([]agent.Repo, error) {
	var repos []agent.Repo
	for _, name := range f.Names() {
		s, err := config.ParseSchedule(f.Repositories[name].Schedule)
		if err != nil {
			return nil, fmt.Errorf("repository %q: %w", name, err)
		}
		repos = append(repos, agent.Repo{Name: name, Schedule: s})
	}
	return repos, nil
}

// listenLoopback listens on addr, which must be a loopback address: the
// dashboard is for this machine only.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard address %q: write host:port, such as 127.0.0.1:8787", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("dashboard address %q is not loopback: the dashboard listens on 127.0.0.1 only", addr)
	}
	return net.Listen("tcp", addr)
}

// agentLogin runs the configured login for repo's profile and waits for it.
func (a *app) agentLogin(ctx context.Context, f *config.File, repo string, logger *log.Logger) error {
	_, rc, err := f.Repo(repo)
	if err != nil {
		return err
	}
	if rc.Credentials == config.CredentialsKeychain {
		return fmt.Errorf("repository %q uses static keys from the keychain: replace them with `icevault keys set`", repo)
	}
	var cmd *exec.Cmd
	if f.Agent.LoginWith == config.LoginWithAWSCLI {
		cmd = exec.CommandContext(ctx, "aws", "sso", "login", "--profile", rc.Profile)
	} else {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cmd = exec.CommandContext(ctx, self, "login", "--profile", rc.Profile)
	}
	// The login prints its device code or URL; the agent's log keeps it
	// for a user who has no browser.
	cmd.Stdout, cmd.Stderr = logger.Writer(), logger.Writer()
	logger.Printf("logging in: %s", strings.Join(cmd.Args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return nil
}

// trayState is what the tray shows for s.
func trayState(s agent.Status, now time.Time) tray.State {
	var st tray.State
	var last *agent.RunRecord
	var next time.Time
	for _, r := range s.Repos {
		if r.LastRun != nil && (last == nil || r.LastRun.Ended.After(last.Ended)) {
			l := *r.LastRun
			last = &l
		}
		if !r.NextRun.IsZero() && (next.IsZero() || r.NextRun.Before(next)) {
			next = r.NextRun
		}
		for _, j := range r.Restores {
			if j.Done {
				continue
			}
			st.Restores = append(st.Restores, tray.RestoreJob{ID: fmt.Sprint(j.ID), Label: restoreLabel(j, now)})
		}
	}
	st.Mode, st.Percent = tray.ModeIdle, -1
	for _, r := range s.Repos {
		switch {
		case r.State == "running" && r.Running != nil:
			st.Mode, st.Percent = tray.ModeBackingUp, r.Running.Progress.Percent
		case r.LoginRequired && st.Mode != tray.ModeBackingUp:
			st.Mode = tray.ModeLoginRequired
		case r.State == "error" && st.Mode == tray.ModeIdle:
			st.Mode = tray.ModeError
			if r.LastRun != nil {
				st.Detail = r.Name + ": " + r.LastRun.Error
			}
		}
	}
	if s.Paused && (st.Mode == tray.ModeIdle || st.Mode == tray.ModeError) {
		st.Mode = tray.ModePaused
	}
	if last != nil {
		st.LastBackup = when(last.Ended, now)
		st.LastResult = last.Outcome
		if last.Result.Summary != "" {
			st.LastResult += ", " + last.Result.Summary
		}
	}
	if !next.IsZero() {
		st.NextRun = when(next, now)
	}
	return st
}

func restoreLabel(j agent.Job, now time.Time) string {
	switch {
	case j.Ready+j.Downloaded > 0:
		return fmt.Sprintf("%s — writing files (%d of %d)", j.Label, j.FilesRestored, j.Files)
	case !j.ETA.IsZero():
		return fmt.Sprintf("%s — thawing, ready by %s", j.Label, when(j.ETA, now))
	}
	return j.Label + " — thawing"
}

// when formats t for a menu: "today 14:05", "tomorrow 02:30", "Mon 7 Dec 09:00".
func when(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	switch {
	case y1 == y2 && m1 == m2 && d1 == d2:
		return "today " + t.Format("15:04")
	case t.After(now) && t.Sub(now) < 48*time.Hour && t.Day() == now.AddDate(0, 0, 1).Day():
		return "tomorrow " + t.Format("15:04")
	}
	return t.Format("Mon 2 Jan 15:04")
}
