package main

import (
	"context"
	"net/http"
	"time"

	"github.com/icevault/icevault/internal/agent"
	"github.com/icevault/icevault/internal/auth"
	"github.com/icevault/icevault/internal/dashboard"
	"github.com/icevault/icevault/internal/tray"
)

// dashboardHandler is the dashboard the agent serves (behind its guard).
func (a *app) dashboardHandler(g *agent.Agent) http.Handler {
	return dashboard.New(agentDashboard{newDashboardBackend(a, agentOverview(g)), g}, dashboard.Options{})
}

// agentDashboard tells the agent about a restore started from the
// dashboard, so it follows the job at once.
type agentDashboard struct {
	dashboard.Backend
	g *agent.Agent
}

func (d agentDashboard) StartRestore(ctx context.Context, repo string, r dashboard.RestoreRequest) (int64, error) {
	id, err := d.Backend.StartRestore(ctx, repo, r)
	if err == nil {
		d.g.RestoresChanged()
	}
	return id, err
}

// agentOverview is the dashboard's view of the agent's state: the same
// reading of it as the tray's.
func agentOverview(g *agent.Agent) func(context.Context) (dashboard.Overview, error) {
	return func(context.Context) (dashboard.Overview, error) {
		s := g.Status()
		ts := trayState(s, time.Now())
		ov := dashboard.Overview{Agent: true, Percent: float64(max(ts.Percent, 0)), Detail: ts.Detail,
			Credentials: dashboard.Credentials{Summary: "Not checked yet: the agent checks them before each backup."}}
		var lastOK time.Time
		for _, r := range s.Repos {
			if r.LastRun != nil && (r.LastRun.Outcome == "ok" || r.LastRun.Outcome == "partial") && r.LastRun.Ended.After(lastOK) {
				lastOK = r.LastRun.Ended
			}
		}
		if !lastOK.IsZero() {
			ov.Credentials = dashboard.Credentials{Checked: true, OK: true,
				Summary: "Accepted by AWS for the last backup (" + when(lastOK, time.Now()) + ")."}
		}
		ov.State = map[tray.Mode]dashboard.State{tray.ModeIdle: dashboard.StateIdle, tray.ModeBackingUp: dashboard.StateBackingUp,
			tray.ModePaused: dashboard.StatePaused, tray.ModeLoginRequired: dashboard.StateLoginRequired, tray.ModeError: dashboard.StateError}[ts.Mode]
		for _, r := range s.Repos {
			rs := dashboard.RepoStatus{Name: r.Name, LastBackup: r.LastBackup, NextRun: r.NextRun}
			if r.LastRun != nil {
				rs.LastOK = r.LastRun.Outcome == "ok" || r.LastRun.Outcome == "partial"
				rs.LastResult = r.LastRun.Result.Summary
				if !rs.LastOK {
					rs.LastResult = r.LastRun.Outcome + ": " + r.LastRun.Error
				}
			}
			ov.Repos = append(ov.Repos, rs)
			switch {
			case r.State == "running" && ov.StateRepo == "":
				ov.StateRepo = r.Name
			case r.LoginRequired:
				ov.Credentials = dashboard.Credentials{Checked: true, Summary: auth.LoginRequiredMessage}
				if ov.State == dashboard.StateLoginRequired {
					ov.StateRepo, ov.Detail = r.Name, auth.LoginRequiredMessage
				}
			}
		}
		return ov, nil
	}
}
